"""NICE's diagonal scaling layer (Dinh et al. 2014, Sec. 3.3): a learned
per-dimension scale after the (volume-preserving) additive couplings."""

import keras
import tensorflow_probability as tfp

from tfdgm.bijectors.base import InstanceCache

tfb = tfp.bijectors

__all__ = ["DiagonalScalingLayer"]


class _Scale(InstanceCache, tfb.Scale):
    """`tfb.Scale` with a per-instance cache (see `InstanceCache`)."""



class DiagonalScalingLayer(keras.layers.Layer):
    """Owns log S; `bijector()` is TFP's `tfb.Scale(log_scale=log S)`, latent -> data:

        forward(z) = exp(log S) * z,   log|det| = sum_i log S_ii.

    In the paper's data -> latent direction the scaling is h = S_enc * h',
    log p(x) = log p_H(h) + sum_i log|S_enc,ii| (Sec. 3.3); here S_enc =
    exp(-log S). It lets NICE, whose couplings all have unit Jacobian, give
    more weight to some dimensions. Starts at the identity (log S = 0).

    References:
      Dinh, Krueger & Bengio, "NICE: Non-linear Independent Components
      Estimation", 2014, https://arxiv.org/abs/1410.8516, Sec. 3.3.

    Arguments:
      event_shape: shape of the scaled tensor.
    """

    def __init__(self, event_shape, **kwargs):
        super().__init__(**kwargs)
        self.event_shape = tuple(int(d) for d in event_shape)

    def build(self, input_shape=None):
        self.log_scale = self.add_weight(name="log_scale", shape=self.event_shape, initializer="zeros")
        self.built = True

    def bijector(self, context=None):
        return _Scale(log_scale=self.log_scale, name=f"{self.name}_bijector")

    def call(self, x):
        return self.bijector().inverse(x)
