"""tfdgm: deep generative models as Keras 3 models over TensorFlow Probability."""

import importlib

__version__ = "0.1.0"

__all__ = ["data", "export", "models", "__version__"]


def __getattr__(name):
    # Submodules load on first use, so `tfdgm --help` does not import TensorFlow.
    if name in ("data", "export", "models"):
        return importlib.import_module(f"tfdgm.{name}")
    raise AttributeError(f"module 'tfdgm' has no attribute {name!r}")
