"""tfdgm: deep generative models as Keras 3 models over TensorFlow Probability."""

__version__ = "0.1.0"

from tfdgm import data, export, models  # noqa: E402

__all__ = ["data", "export", "models", "__version__"]
