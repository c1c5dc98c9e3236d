"""The one exception type of `tfdgm.data`: every bad name, split, file or spec raises it."""

__all__ = ["DatasetError"]


class DatasetError(ValueError):
    """A dataset, split, file or preprocessing spec is not what was expected.

    A `ValueError`, so callers (the CLI) can treat it like any bad argument; the
    message names what was expected and what was given.
    """
