"""All tfdgm models, importable by name, and the registry the CLI uses.

Each family package (`flows`, `autoregressive`, `latent`, `energy`,
`adversarial`, `baselines`) defines `REGISTRY = {snake_case_name: class}` and
`__all__`; this module merges them.
"""
import re

import keras

from tfdgm.models import adversarial, autoregressive, baselines, energy, flows, latent
from tfdgm.models.adversarial import *  # noqa: F401,F403
from tfdgm.models.autoregressive import *  # noqa: F401,F403
from tfdgm.models.base import GenerativeModel
from tfdgm.models.density import DensityModel
from tfdgm.models.baselines import *  # noqa: F401,F403
from tfdgm.models.energy import *  # noqa: F401,F403
from tfdgm.models.flows import *  # noqa: F401,F403
from tfdgm.models.latent import *  # noqa: F401,F403

_FAMILIES = (baselines, autoregressive, flows, latent, energy, adversarial)

_REGISTRY = {}
for _family in _FAMILIES:
    _REGISTRY.update(getattr(_family, "REGISTRY", {}))

# `model.save("m.keras")` records a registered class by its Keras name and
# `keras.models.load_model` looks it up there. Models register under the
# package "tfdgm" with their registry name ("tfdgm>maf", as `tfdgm train maf`):
# class names would collide with `tfdgm.layers`' heads of the same name
# (IndependentBernoulli, IndependentLogistic), and Keras keeps the last one.
for _name, _cls in _REGISTRY.items():
    keras.saving.register_keras_serializable(package="tfdgm", name=_name)(_cls)

__all__ = ["GenerativeModel", "DensityModel", "get", "list_models"] + sorted(
    name for family in _FAMILIES for name in getattr(family, "__all__", [])
)


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
    by_class_name = {cls.__name__: cls for cls in _REGISTRY.values()}
    if name in by_class_name:  # "RealNVP", "NICE", "WGANGP": not snake-case-able
        return by_class_name[name]
    key = _snake(name) if any(c.isupper() for c in name) else name.lower().replace("-", "_")
    if key not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; expected one of: {', '.join(list_models())}")
    return _REGISTRY[key]
