"""All tfdgm models, importable by name, and the registry the CLI uses."""
import re

from tfdgm.models.base import DensityModel, GenerativeModel
from tfdgm.models.baselines import IndependentBernoulli, IndependentGaussian, IndependentLogistic

__all__ = [
    "GenerativeModel",
    "DensityModel",
    "IndependentBernoulli",
    "IndependentGaussian",
    "IndependentLogistic",
    "get",
    "list_models",
]

# Registry of the models the CLI can train: snake_case name -> class. Each
# family's module adds its models here as it lands.
_REGISTRY = {
    "independent_bernoulli": IndependentBernoulli,
    "independent_gaussian": IndependentGaussian,
    "independent_logistic": IndependentLogistic,
}


def _snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower().replace("-", "_")


def list_models():
    """Sorted snake_case names of the registered models."""
    return sorted(_REGISTRY)


def get(name):
    """The model class for `name` ("independent_bernoulli" or "IndependentBernoulli").

    Raises:
      ValueError: naming the known models.
    """
    key = _snake(name) if any(c.isupper() for c in name) else name.lower().replace("-", "_")
    if key not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; expected one of: {', '.join(list_models())}")
    return _REGISTRY[key]
