"""Normalizing flows: TFP bijector chains whose weights Keras 3 layers own
(docs/architecture.md). Each model is a `FlowModel`: `distribution()` is a
`tfd.TransformedDistribution(base, tfb.Chain([...]))`."""

from tfdgm.models.flows.base import FlowModel
from tfdgm.models.flows.glow import Glow
from tfdgm.models.flows.nice import NICE
from tfdgm.models.flows.planar import PlanarFlow
from tfdgm.models.flows.realnvp import RealNVP

__all__ = ["FlowModel", "PlanarFlow", "NICE", "RealNVP", "Glow"]

REGISTRY = {"planar": PlanarFlow, "nice": NICE, "realnvp": RealNVP, "glow": Glow}
