"""Factorized heads: independent Normal, Logistic and Bernoulli over each
dimension of the target, with parameters computed from the features."""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfdgm.layers.base import SOFTPLUS_ONE, DistributionHead

tfd = tfp.distributions

__all__ = ["IndependentNormal", "IndependentLogistic", "IndependentBernoulli"]


class _LocationScaleHead(DistributionHead):
    """loc and scale per dimension: outputs = [loc (D), raw scale (D)],
    scale = softplus(raw + softplus^-1(1)) + min_scale (a zero raw scale is
    scale 1; `min_scale` keeps the density bounded)."""

    def __init__(self, event_shape, min_scale=1e-3, **kwargs):
        super().__init__(event_shape, **kwargs)
        if not min_scale >= 0:
            raise ValueError(f"{type(self).__name__}: expected min_scale >= 0, got {min_scale!r}")
        self.min_scale = float(min_scale)

    def params_size(self):
        return 2 * self.event_size

    def loc_and_scale(self, outputs):
        """-> (loc, scale), each [*batch, *event_shape]."""
        shape = tf.concat([tf.shape(outputs)[:-1], self.event_shape], 0)
        loc, raw_scale = tf.split(outputs, 2, axis=-1)
        scale = tf.nn.softplus(raw_scale + SOFTPLUS_ONE) + self.min_scale
        return tf.reshape(loc, shape), tf.reshape(scale, shape)

    def _make_distribution(self, outputs):
        return tfd.Independent(self.base_class(*self.loc_and_scale(outputs)),
                               reinterpreted_batch_ndims=self.event_ndims)

    def get_config(self):
        return {**super().get_config(), "min_scale": self.min_scale}


@keras.saving.register_keras_serializable(package="tfdgm")
class IndependentNormal(_LocationScaleHead):
    """Heteroscedastic Gaussian head: p(y | x) = prod_d N(y_d; mu_d(x), sigma_d(x)^2).

    Trained with `tfdgm.losses.NegativeLogLikelihood`, it is the mean-variance
    network of Nix & Weigend: both the mean and the noise level depend on x.
    sigma = softplus(a + softplus^-1(1)) + min_scale, so a zero output starts at sigma = 1.

    References:
      Nix & Weigend, "Estimating the mean and variance of the target
      probability distribution", ICNN 1994.

    Arguments:
      event_shape: shape of one target, e.g. `(1,)`.
      min_scale: floor of sigma (keeps the likelihood bounded).

    Shapes: features [batch, F] -> outputs [batch, 2 * prod(event_shape)].

    Example:
      >>> head = IndependentNormal(event_shape=(1,))
      >>> outputs = head(np.zeros([4, 3], np.float32))          # [4, 2]
      >>> head.distribution(outputs).log_prob(np.zeros([4, 1])).shape
      TensorShape([4])
    """

    base_class = tfd.Normal


@keras.saving.register_keras_serializable(package="tfdgm")
class IndependentLogistic(_LocationScaleHead):
    """Logistic head: p(y | x) = prod_d Logistic(y_d; mu_d(x), s_d(x)), density
    e^-z / (s (1 + e^-z)^2) with z = (y - mu) / s: heavier tails than a Normal.

    s = softplus(a + softplus^-1(1)) + min_scale.

    References:
      Salimans et al., "PixelCNN++", ICLR 2017 (the logistic as an output
      distribution); TFP's `tfp.layers.IndependentLogistic`.

    Arguments:
      event_shape: shape of one target.
      min_scale: floor of s.

    Shapes: features [batch, F] -> outputs [batch, 2 * prod(event_shape)].

    Example:
      >>> head = IndependentLogistic(event_shape=(2,))
      >>> head.distribution(head(np.zeros([4, 3], np.float32))).stddev().shape
      TensorShape([4, 2])
    """

    base_class = tfd.Logistic


@keras.saving.register_keras_serializable(package="tfdgm")
class IndependentBernoulli(DistributionHead):
    """Binary head: p(y | x) = prod_d sigma(l_d(x))^y_d (1 - sigma(l_d(x)))^(1 - y_d).

    The outputs are the logits l. Targets must be 0 or 1 (checked; see
    `DistributionHead.prepare_targets`). Samples are float32 zeros and ones.

    References:
      Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014,
      Appendix C.1 (the Bernoulli MLP).

    Arguments:
      event_shape: shape of one target.

    Shapes: features [batch, F] -> outputs [batch, prod(event_shape)].

    Example:
      >>> head = IndependentBernoulli(event_shape=(3,))
      >>> head.distribution(head(np.zeros([2, 5], np.float32))).mean().shape
      TensorShape([2, 3])
    """

    def params_size(self):
        return self.event_size

    def _make_distribution(self, outputs):
        logits = tf.reshape(outputs, tf.concat([tf.shape(outputs)[:-1], self.event_shape], 0))
        return tfd.Independent(tfd.Bernoulli(logits=logits, dtype=tf.float32),
                               reinterpreted_batch_ndims=self.event_ndims)

    def _target_rule(self):
        return "in {0, 1}"

    def _invalid_targets(self, targets):
        return tf.logical_not(tf.logical_or(tf.equal(targets, 0.0), tf.equal(targets, 1.0)))
