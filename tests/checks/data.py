"""Toy data for tests, taken from `tfdgm.data` rather than re-made in each test file.

`toy2d` reads the library's own deterministic 2-D sets (`tfdgm.data.toy2d`:
moons, 8gaussians, checkerboard, pinwheel, spirals, rings), so a test trains
on what `tfdgm train MODEL --data moons` trains on.
"""

import numpy as np

from tfdgm.data import toy2d as _toy2d

__all__ = ["toy2d"]


def toy2d(name, num, split="train"):
    """The first `num` points of a split of a `tfdgm.data` toy set.

    Arguments:
      name: a key of `tfdgm.data.toy2d.TOY_DATASETS` ("moons", "8gaussians", ...).
      num: number of points (at most the split's size: 20,000 train, 5,000
        validation or test).
      split: "train", "validation" or "test" (independent draws).
    Returns:
      x: float32 [num, 2] (a writable copy); labels: int32 [num], or None for
      sets without classes (checkerboard).
    """
    x, labels = _toy2d.toy_split(name, split)
    if num > len(x):
        raise ValueError(f"expected at most {len(x)} points of the {split!r} split of {name!r}, asked for {num}")
    return np.array(x[:num], np.float32), None if labels is None else np.asarray(labels[:num], np.int32)
