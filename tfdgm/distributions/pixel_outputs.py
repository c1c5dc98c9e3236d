"""Per-element output distributions of autoregressive models (binary,
L-way categorical, discretized logistic mixture) and `AutoregressiveModelDistribution`,
the TFP distribution of a model whose log-density is one network pass and
whose sampler is a compiled loop (NADE, PixelCNN, WaveNet).

References:
  van den Oord et al., "Pixel Recurrent Neural Networks", ICML 2016, Sec. 2.2
  (256-way softmax over pixel values), https://arxiv.org/abs/1601.06759
  Salimans et al., "PixelCNN++", ICLR 2017, Sec. 2.1 eq. 2 (discretized
  logistic mixture), https://arxiv.org/abs/1701.05517
"""

import tensorflow as tf
import tensorflow_probability as tfp

from tfdgm import rng
from tfdgm.distributions.discretized_logistic import DiscretizedLogisticMixture

tfd = tfp.distributions

__all__ = ["LIKELIHOODS", "num_params", "fold_in", "element_log_prob", "element_sample",
           "AutoregressiveModelDistribution"]

LIKELIHOODS = ("bernoulli", "categorical", "logistic_mixture")
_MIN_LOG_SCALE = -7.0


def num_params(likelihood, num_levels=256, num_mixtures=5):
    """Network outputs per element: 1 (Bernoulli logit), L (categorical
    logits) or 3M (mixture logits, locations, log-scales)."""
    if likelihood == "bernoulli":
        return 1
    if likelihood == "categorical":
        return int(num_levels)
    if likelihood == "logistic_mixture":
        return 3 * int(num_mixtures)
    raise ValueError(f"expected likelihood in {LIKELIHOODS}, got {likelihood!r}")


def _logistic_mixture(params, num_levels):
    """Mixture logits, and locations / scales mapped from the [-1, 1] scale of
    PixelCNN++ to level units: loc = (L-1)(m+1)/2, scale = (L-1) exp(s)/2."""
    logits, loc, log_scale = tf.split(params, 3, axis=-1)
    half = 0.5 * (num_levels - 1)
    scale = half * tf.exp(tf.maximum(log_scale, _MIN_LOG_SCALE))
    return DiscretizedLogisticMixture(logits, half * (loc + 1.0), scale, num_levels=num_levels)


def element_log_prob(params, x, likelihood, num_levels=256):
    """log p(x_i | params_i) per element.

    Arguments:
      params: [..., P] network outputs (see `num_params`).
      x: [...] values: {0, 1} (bernoulli) or levels {0, ..., L-1}.
      likelihood: one of `LIKELIHOODS`.
      num_levels: L.
    Returns:
      [...] nats.
    """
    x = tf.convert_to_tensor(x, tf.float32)
    if likelihood == "bernoulli":
        return -tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=params[..., 0])
    if likelihood == "categorical":
        levels = tf.cast(tf.clip_by_value(tf.round(x), 0.0, num_levels - 1.0), tf.int32)
        return -tf.nn.sparse_softmax_cross_entropy_with_logits(labels=levels, logits=params)
    if likelihood == "logistic_mixture":
        return _logistic_mixture(params, num_levels).log_prob(tf.round(x))
    raise ValueError(f"expected likelihood in {LIKELIHOODS}, got {likelihood!r}")


fold_in = rng.fold_in  # Philox, like every sampler here (`tfdgm.rng`)


def _uniform(shape, seed, minval=0.0, maxval=1.0):
    return rng.uniform(shape, seed, minval=minval, maxval=maxval)


def _gumbel_argmax(logits, seed):
    uniform = _uniform(tf.shape(logits), seed, 1e-7, 1.0)
    return tf.argmax(logits - tf.math.log(-tf.math.log(uniform)), axis=-1, output_type=tf.int32)


def element_sample(params, seed, likelihood, num_levels=256):
    """One draw per element from `params` [..., P] with a stateless `[2]`
    seed: Bernoulli by a uniform threshold, categorical (and the mixture
    component) by the Gumbel-max trick, a logistic by its inverse CDF
    mu + s (log u - log(1 - u)), rounded and clipped to the levels.
    Philox random numbers throughout (`tfdgm.rng`). Returns float32 [...] values."""
    shape = tf.shape(params)[:-1]
    if likelihood == "bernoulli":
        return tf.cast(_uniform(shape, seed) < tf.sigmoid(params[..., 0]), tf.float32)
    if likelihood == "categorical":
        return tf.cast(_gumbel_argmax(params, seed), tf.float32)
    if likelihood == "logistic_mixture":
        mixture = _logistic_mixture(params, num_levels)
        component_seed, logistic_seed = fold_in(seed, 0), fold_in(seed, 1)
        one_hot = tf.one_hot(_gumbel_argmax(mixture._logits, component_seed), tf.shape(params)[-1] // 3)
        loc = tf.reduce_sum(one_hot * mixture._loc, -1)
        scale = tf.reduce_sum(one_hot * mixture._scale, -1)
        u = _uniform(shape, logistic_seed, 1e-6, 1.0 - 1e-6)
        value = loc + scale * (tf.math.log(u) - tf.math.log1p(-u))
        return tf.clip_by_value(tf.round(value), 0.0, float(num_levels - 1))
    raise ValueError(f"expected likelihood in {LIKELIHOODS}, got {likelihood!r}")


class AutoregressiveModelDistribution(tfd.Distribution):
    """p(x) = prod_i p(x_i | x_<i) of a trained autoregressive network:
    `log_prob` is the model's one-pass masked computation of every
    conditional, `sample` its compiled ancestral-sampling loop.

    The context (class labels) is bound when the distribution is built;
    samples and log-densities are per example, so the batch shape is [].

    Arguments:
      log_prob_fn: x [batch, *event_shape] -> [batch] nats.
      sample_fn: (n, seed) -> [n, *event_shape], `seed` a stateless [2] int tensor.
      event_shape: shape of one example.
      name: distribution name.
    """

    def __init__(self, log_prob_fn, sample_fn, event_shape, validate_args=False, allow_nan_stats=True,
                 name="AutoregressiveModelDistribution"):
        parameters = dict(locals())
        self._log_prob_fn = log_prob_fn
        self._sample_fn = sample_fn
        self._static_event_shape = tf.TensorShape(event_shape)
        super().__init__(dtype=tf.float32, reparameterization_type=tfd.NOT_REPARAMETERIZED,
                         validate_args=validate_args, allow_nan_stats=allow_nan_stats,
                         parameters=parameters, name=name)

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None):
        return {}

    def _event_shape(self):
        return self._static_event_shape

    def _event_shape_tensor(self):
        return tf.constant(self._static_event_shape.as_list(), tf.int32)

    def _batch_shape(self):
        return tf.TensorShape([])

    def _batch_shape_tensor(self):
        return tf.constant([], tf.int32)

    def _log_prob(self, x):
        return self._log_prob_fn(tf.convert_to_tensor(x, tf.float32))

    def _sample_n(self, n, seed=None):
        seed = tfp.random.sanitize_seed(seed)
        return self._sample_fn(n, seed)
