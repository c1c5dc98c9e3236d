"""NICE (Dinh et al. 2014): additive coupling layers and a diagonal scaling."""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfdgm.bijectors.coupling import CouplingLayer, vector_mask
from tfdgm.bijectors.scaling import DiagonalScalingLayer
from tfdgm.models.flows.base import FlowModel
from tfdgm.nn.coupling_nets import MLPCouplingNet

tfd = tfp.distributions
tfb = tfp.bijectors

__all__ = ["NICE"]


class NICE(FlowModel):
    """Non-linear Independent Components Estimation.

    Data -> latent: `num_layers` additive couplings y = x + (1-b) m(b x)
    (eq. 5-6) with alternating even/odd masks, then the diagonal scaling S
    (Sec. 3.3), so

        log p(x) = sum_d log p_H(h_d) + sum_d log|S_dd|             (eq. 3)

    with p_H the standard logistic (the paper's choice, Sec. 3.4) or Gaussian.
    Images are flattened: the couplings are MLPs on the D-vector. Every
    coupling network's last layer is zero-initialized (identity at the
    start); additive couplings have no scale to bound.

    References:
      Dinh, Krueger & Bengio, "NICE: Non-linear Independent Components
      Estimation", 2014, https://arxiv.org/abs/1410.8516.

    Arguments:
      event_shape: shape of x (`(2,)`, or an image shape, flattened inside).
      num_layers: number of additive couplings (4 in the paper).
      hidden_units: hidden widths of each coupling MLP (paper: 5 x 1000 on MNIST).
      prior: "logistic" (paper) or "gaussian".
      data_transform: preprocessing spec (see `GenerativeModel`).

    Example:
      >>> model = NICE(event_shape=(2,))
      >>> model.compile(); model.fit(x, epochs=10)
    """

    def __init__(self, event_shape=(2,), num_layers=4, hidden_units=(128, 128), prior="logistic",
                 data_transform=None, name=None, **kwargs):
        super().__init__(event_shape=event_shape, data_transform=data_transform, name=name, **kwargs)
        if prior not in ("logistic", "gaussian"):
            raise ValueError(f"NICE: expected prior 'logistic' or 'gaussian', got {prior!r}")
        if int(num_layers) < 1:
            raise ValueError(f"NICE: expected num_layers >= 1, got {num_layers}")
        if self.num_dims < 2:
            raise ValueError(f"NICE: coupling needs at least 2 dimensions, got event_shape {self.event_shape}")
        self.num_layers = int(num_layers)
        self.hidden_units = [int(u) for u in hidden_units]
        self.prior = prior
        d = self.num_dims
        self.couplings = [
            CouplingLayer(vector_mask(d, k, "alternate"), MLPCouplingNet(d, self.hidden_units),
                          additive=True, name=f"coupling_{k}")
            for k in range(self.num_layers)
        ]
        self.scaling = DiagonalScalingLayer((d,), name="scaling")

    @classmethod
    def default_hyperparameters(cls, info):
        size = int(np.prod(info.event_shape))
        if size >= 256:
            return {"num_layers": 4, "hidden_units": [1000] * 5}
        if size > 2:
            return {"num_layers": 4, "hidden_units": [256] * 3}
        return {"num_layers": 4, "hidden_units": [128, 128]}

    def hyperparameters(self):
        return {"num_layers": self.num_layers, "hidden_units": list(self.hidden_units),
                "prior": self.prior}

    @property
    def latent_shape(self):
        return (self.num_dims,)

    def build(self, input_shape=None):
        for layer in self.couplings:
            layer.build((None, self.num_dims))
        self.scaling.build()
        self.built = True

    def base_distribution(self, context=None, temperature=1.0):
        if self.prior == "gaussian":
            return super().base_distribution(context, temperature)
        d = self.num_dims
        return tfd.Independent(tfd.Logistic(tf.zeros([d]), temperature * tf.ones([d])), 1)

    def bijector(self, context=None):
        # Listed data side first; the Chain applies the last element first.
        parts = []
        if self.event_shape != (self.num_dims,):
            parts.append(tfb.Reshape(self.event_shape, [self.num_dims]))
        parts += [layer.bijector() for layer in self.couplings]
        parts.append(self.scaling.bijector())
        return tfb.Chain(parts)
