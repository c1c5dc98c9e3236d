"""Activation normalization (Kingma & Dhariwal 2018, Sec. 3.1): a per-channel
affine bijector and the Keras 3 layer owning its parameters and its
data-dependent initialization.
"""

import keras
import tensorflow as tf

from tfdgm.bijectors.base import Bijector

__all__ = ["ActNorm", "ActNormLayer"]


class ActNorm(Bijector):
    """Per-channel affine map on the last axis, written latent -> data:

        forward(z) = z * exp(log_scale) + loc,
        inverse(x) = (x - loc) * exp(-log_scale)       (Glow's actnorm, Table 1),
        log|det d forward/dz| = (H * W) * sum(log_scale) for x: [batch, H, W, C].

    The minimum event rank is 1 (one channel vector); TFP sums the per-pixel
    log-determinant over the remaining event axes.

    References:
      Kingma & Dhariwal, "Glow: Generative Flow with Invertible 1x1
      Convolutions", NeurIPS 2018, https://arxiv.org/abs/1807.03039, Sec. 3.1.

    Arguments:
      loc, log_scale: [C].
    """

    def __init__(self, loc, log_scale, validate_args=False, name="actnorm"):
        parameters = dict(locals())
        self._loc = tf.convert_to_tensor(loc, tf.float32)
        self._log_scale = tf.convert_to_tensor(log_scale, tf.float32)
        super().__init__(forward_min_event_ndims=1, validate_args=validate_args,
                         parameters=parameters, name=name)

    def _log_det(self, z):
        return tf.broadcast_to(tf.reduce_sum(self._log_scale), tf.shape(z)[:-1])

    def forward_and_log_det(self, z):
        return z * tf.exp(self._log_scale) + self._loc, self._log_det(z)

    def inverse_and_log_det(self, x):
        return (x - self._loc) * tf.exp(-self._log_scale), -self._log_det(x)


class ActNormLayer(keras.layers.Layer):
    """Owns actnorm's `loc`, `log_scale` ([C]) and an `initialized` flag.

    Data-dependent initialization (Sec. 3.1): on the first batch, set
    loc = per-channel mean and log_scale = log(per-channel std) of the
    layer's data-side input, so `bijector().inverse` maps that batch to zero
    mean and unit variance per channel. `initialize(x)` does so once and is a
    no-op afterwards (a `tf.cond` on the flag: usable inside an XLA-compiled
    train step). The flag is a non-trainable weight, so checkpoints and
    resumed runs keep it. The weights use `aggregation="mean"` so the
    assignment is legal in a `tf.distribute` replica context.

    Arguments:
      channels: C, the size of the last axis.
    """

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)

    def build(self, input_shape=None):
        c = (self.channels,)
        self.loc = self.add_weight(name="loc", shape=c, initializer="zeros", aggregation="mean")
        self.log_scale = self.add_weight(name="log_scale", shape=c, initializer="zeros",
                                         aggregation="mean")
        self.initialized = self.add_weight(name="initialized", shape=(), initializer="zeros",
                                           trainable=False, aggregation="mean")
        self.built = True

    def bijector(self, context=None):
        return ActNorm(self.loc, self.log_scale, name=f"{self.name}_bijector")

    def initialize(self, x, force=False):
        """Sets loc/log_scale from `x: [..., C]` unless already initialized.

        Returns:
          the normalized batch `bijector().inverse(x)` (with the new values).
        """
        x = tf.convert_to_tensor(x, tf.float32)
        if x.shape[-1] != self.channels:
            raise ValueError(f"ActNormLayer: expected inputs with {self.channels} channels, "
                             f"got shape {list(x.shape)}")

        def assign():
            axes = list(range(x.shape.rank - 1))
            mean, variance = tf.nn.moments(x, axes=axes)
            self.loc.assign(mean)
            self.log_scale.assign(0.5 * tf.math.log(variance + 1e-6))
            self.initialized.assign(1.0)
            return tf.constant(True)

        if force:
            assign()
        else:
            tf.cond(self.initialized > 0.5, lambda: tf.constant(False), assign)
        return self.bijector().inverse(x)

    def call(self, x):
        return self.bijector().inverse(x)
