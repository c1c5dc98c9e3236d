"""Mixture density network head: a mixture of K diagonal Normals whose weights,
means and scales are functions of the features."""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfdgm.layers.base import SOFTPLUS_ONE, DistributionHead

tfd = tfp.distributions

__all__ = ["MixtureNormal"]


@keras.saving.register_keras_serializable(package="tfdgm")
class MixtureNormal(DistributionHead):
    """p(y | x) = sum_k pi_k(x) prod_d N(y_d; mu_kd(x), sigma_kd(x)^2)
    (Bishop 1994, eq. 22-24 with one scale per dimension).

    A mixture density network: the posterior of a multi-valued inverse map,
    where a single Normal can only average the branches. Outputs are
    [mixture logits (K), means (K * D), raw scales (K * D)]; pi = softmax(logits)
    (Bishop eq. 25), sigma = softplus(a + softplus^-1(1)) + min_scale (instead
    of Bishop's exp, eq. 26, to keep the gradient bounded). `mean` and
    `stddev` are the mixture's.

    References:
      Bishop, "Mixture Density Networks", Aston University NCRG/94/004, 1994.

    Arguments:
      num_components: K.
      event_shape: shape of one target.
      min_scale: floor of sigma.

    Shapes: features [batch, F] -> outputs [batch, K (1 + 2 prod(event_shape))].

    Example:
      >>> head = MixtureNormal(num_components=3, event_shape=(1,))
      >>> head.distribution(head(np.zeros([4, 8], np.float32))).sample(seed=[1, 0]).shape
      TensorShape([4, 1])
    """

    def __init__(self, num_components, event_shape, min_scale=1e-3, **kwargs):
        if isinstance(num_components, bool) or int(num_components) != num_components or num_components < 1:
            raise ValueError(f"MixtureNormal: expected num_components a positive int, got {num_components!r}")
        if not min_scale >= 0:
            raise ValueError(f"MixtureNormal: expected min_scale >= 0, got {min_scale!r}")
        self.num_components = int(num_components)
        self.min_scale = float(min_scale)
        super().__init__(event_shape, **kwargs)

    def params_size(self):
        return self.num_components * (1 + 2 * self.event_size)

    def _make_distribution(self, outputs):
        k, d = self.num_components, self.event_size
        logits, loc, raw_scale = tf.split(outputs, [k, k * d, k * d], axis=-1)
        shape = tf.concat([tf.shape(outputs)[:-1], [k], self.event_shape], 0)
        scale = tf.nn.softplus(raw_scale + SOFTPLUS_ONE) + self.min_scale
        components = tfd.Independent(tfd.Normal(tf.reshape(loc, shape), tf.reshape(scale, shape)),
                                     reinterpreted_batch_ndims=self.event_ndims)
        return tfd.MixtureSameFamily(tfd.Categorical(logits=logits), components)

    def get_config(self):
        return {**super().get_config(), "num_components": self.num_components, "min_scale": self.min_scale}
