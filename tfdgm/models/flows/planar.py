"""PlanarFlow: a stack of planar maps (Rezende & Mohamed 2015) as a density model."""

import tensorflow_probability as tfp

from tfdgm.bijectors.planar import AmortizedPlanar, PlanarLayer
from tfdgm.models.flows.base import FlowModel

tfb = tfp.bijectors

__all__ = ["PlanarFlow"]


class PlanarFlow(FlowModel):
    """x = f_K o ... o f_1(z), z ~ N(0, I), f_k(z) = z + û_k tanh(w_kᵀz + b_k).

    log p(x) = log N(z) - sum_k log|1 + h'(w_kᵀz_{k-1} + b_k) w_kᵀû_k|
    (Rezende & Mohamed 2015, eq. 13), with û from their Appendix A so that
    every map is invertible. Planar maps were designed for the sampling
    direction (a VAE posterior); as a density model `log_prob` needs the
    inverse, which `tfdgm.bijectors.Planar` computes exactly by a scalar
    root-find (bisection + one Newton step, fixed length, XLA-friendly).
    Each map starts at the identity (û = 0, w random; see `PlanarLayer`): `log_prob` at
    initialization is the base N(0, I).

    For a VAE posterior use `tfdgm.bijectors.planar.AmortizedPlanar`
    (encoder features -> per-example u, w, b); `PlanarFlow.posterior_layer`
    builds one.

    References:
      Rezende & Mohamed, "Variational Inference with Normalizing Flows", ICML
      2015, https://arxiv.org/abs/1505.05770.

    Arguments:
      event_shape: shape of x, e.g. `(2,)`; images are handled as one event
        (wᵀz sums over every entry).
      num_layers: K, the number of planar maps.
      data_transform: preprocessing spec (see `GenerativeModel`).

    Example:
      >>> model = PlanarFlow(event_shape=(2,), num_layers=8)
      >>> model.compile(); model.fit(x, epochs=10)          # x: [N, 2]
      >>> model.log_prob(x[:4]), model.sample(4, seed=0)
    """

    def __init__(self, event_shape=(2,), num_layers=8, data_transform=None, name=None, **kwargs):
        super().__init__(event_shape=event_shape, data_transform=data_transform, name=name, **kwargs)
        if int(num_layers) < 1:
            raise ValueError(f"PlanarFlow: expected num_layers >= 1, got {num_layers}")
        self.num_layers = int(num_layers)
        self.planar_layers = [PlanarLayer(self.event_shape, name=f"planar_{k}")
                              for k in range(self.num_layers)]

    @classmethod
    def default_hyperparameters(cls, info):
        return {"num_layers": 16 if info.kind == "vector" else 32}

    def hyperparameters(self):
        return {"num_layers": self.num_layers}

    def build(self, input_shape=None):
        for layer in self.planar_layers:
            layer.build()
        self.built = True

    def bijector(self, context=None):
        # Chain applies its last element first: z -> f_1 -> ... -> f_K -> x.
        return tfb.Chain([layer.bijector() for layer in reversed(self.planar_layers)])

    @staticmethod
    def posterior_layer(latent_dim, num_layers=4, **kwargs):
        """An `AmortizedPlanar` layer: context -> K planar maps on a latent of size latent_dim."""
        return AmortizedPlanar(latent_dim, num_layers, **kwargs)
