"""Fully factorized densities p(x) = prod_i p(x_i): the baseline every NLL table needs."""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfdgm.models.density import DensityModel

tfd = tfp.distributions

__all__ = ["IndependentBernoulli", "IndependentGaussian", "IndependentLogistic"]

# Scales are exp(log_scale) with log_scale clipped to this range, so that a
# constant pixel (zero variance) cannot drive the density to +inf.
_LOG_SCALE_RANGE = (-7.0, 7.0)


class _Factorized(DensityModel):
    """Shared pieces: one Keras weight per parameter and per dimension."""

    parameter_names = ()
    data_kind = "continuous"

    def build(self, input_shape=None):
        for name in self.parameter_names:
            setattr(
                self,
                name,
                self.add_weight(name=name, shape=self.event_shape, initializer="zeros"),
            )
        self.built = True

    def _independent(self, base):
        return tfd.Independent(base, reinterpreted_batch_ndims=self.event_ndims)

    def fit_closed_form(self, x):
        """Sets the weights to the maximum-likelihood estimate on `x` where one
        exists in closed form (Bernoulli, Gaussian). x: [N, *event_shape]."""
        raise NotImplementedError(f"{type(self).__name__} has no closed-form MLE")


class IndependentBernoulli(_Factorized):
    """p(x) = prod_i Bernoulli(x_i; sigmoid(l_i)) for binary data.

    The independent-pixel baseline of binarized-image likelihood tables. One
    logit `l_i` per dimension.

    Arguments:
      event_shape: shape of one binary example, e.g. `(28, 28, 1)`.
      data_transform: preprocessing spec (see `GenerativeModel`).

    Example:
      >>> model = IndependentBernoulli(event_shape=(4,))
      >>> model.log_prob(np.zeros([1, 4], np.float32)).shape
      TensorShape([1])
    """

    parameter_names = ("logits",)
    data_kind = "binary"

    def distribution(self, context=None):
        return self._independent(tfd.Bernoulli(logits=self.logits, dtype=tf.float32))

    def fit_closed_form(self, x, epsilon=1e-3):
        """MLE: l_i = logit(mean_i), with means clipped to [epsilon, 1-epsilon]."""
        self._ensure_built()
        mean = np.clip(np.mean(np.asarray(x, np.float64), axis=0), epsilon, 1 - epsilon)
        self.logits.assign(np.log(mean / (1 - mean)).astype(np.float32))


class IndependentGaussian(_Factorized):
    """p(x) = prod_i Normal(x_i; mu_i, sigma_i) for continuous data.

    sigma_i = exp(s_i) with s_i clipped to [-7, 7].

    Arguments:
      event_shape: shape of one example.
      data_transform: preprocessing spec (see `GenerativeModel`).
    """

    parameter_names = ("loc", "log_scale")

    def distribution(self, context=None):
        scale = tf.exp(tf.clip_by_value(self.log_scale, *_LOG_SCALE_RANGE))
        return self._independent(tfd.Normal(loc=self.loc, scale=scale))

    def fit_closed_form(self, x):
        """MLE: mu_i = mean_i, sigma_i = std_i (clipped to the scale range)."""
        self._ensure_built()
        x = np.asarray(x, np.float64)
        self.loc.assign(x.mean(axis=0).astype(np.float32))
        log_std = np.log(np.maximum(x.std(axis=0), 1e-12))
        self.log_scale.assign(np.clip(log_std, *_LOG_SCALE_RANGE).astype(np.float32))


class IndependentLogistic(_Factorized):
    """p(x) = prod_i Logistic(x_i; mu_i, s_i) for continuous data.

    The logistic is the base density of NICE (Dinh et al., 2014, Sec. 3.4);
    heavier tails than the Gaussian. s_i = exp(t_i), t_i clipped to [-7, 7].
    Trained by gradient descent (no closed-form MLE).

    Arguments:
      event_shape: shape of one example.
      data_transform: preprocessing spec (see `GenerativeModel`).
    """

    parameter_names = ("loc", "log_scale")

    def distribution(self, context=None):
        scale = tf.exp(tf.clip_by_value(self.log_scale, *_LOG_SCALE_RANGE))
        return self._independent(tfd.Logistic(loc=self.loc, scale=scale))
