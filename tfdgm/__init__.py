"""tfdgm: deep generative models as Keras 3 models over TensorFlow Probability."""

import importlib
import os
import sys

__version__ = "0.1.0"

__all__ = ["data", "export", "layers", "losses", "models", "__version__"]


def __getattr__(name):
    if name in ("data", "export", "layers", "losses", "models"):
        return importlib.import_module(f"tfdgm.{name}")
    raise AttributeError(f"module 'tfdgm' has no attribute {name!r}")


def _started_as_the_cli():
    """Whether this process is the `tfdgm` command (`tfdgm ...` or `python -m tfdgm.cli`)."""
    argv = getattr(sys, "argv", None) or [""]
    if os.path.basename(argv[0]) in ("tfdgm", "tfdgm.exe", "tfdgm-script.py"):
        return True
    if argv[0] == "-m":  # `python -m MODULE` while Python imports MODULE's packages
        command = getattr(sys, "orig_argv", [])
        return any(a == "-m" and b == "tfdgm.cli" for a, b in zip(command, command[1:]))
    return False


# The models, distribution heads and losses register with Keras on import, so
# that `import tfdgm` is enough for `keras.models.load_model("m.keras")`. The
# CLI skips this (it imports TensorFlow only for the commands that need it), so
# `tfdgm --help` stays fast.
if not _started_as_the_cli():
    from tfdgm import layers, losses, models  # noqa: E402,F401
