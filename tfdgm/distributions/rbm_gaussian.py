"""The Gaussian-Bernoulli RBM as a TFP distribution over real-valued visibles.

References:
  Hinton & Salakhutdinov, "Reducing the dimensionality of data with neural
  networks", Science 2006 (Gaussian visible units).
  Hinton, "A practical guide to training restricted Boltzmann machines",
  UTML TR 2010-003, Sec. 13.2.
  Cho, Ilin & Raiko, "Improved learning of Gaussian-Bernoulli restricted
  Boltzmann machines", ICANN 2011 (the energy with v / sigma).
"""

import math

import numpy as np
import tensorflow as tf

from tfdgm import rng
from tfdgm.distributions.rbm import EnergyDistribution
from tfdgm.distributions.annealing import AnnealingPath
from tfdgm.distributions.enumeration import log_sum_over_states
from tfdgm.distributions.gibbs import bernoulli, split_seed

__all__ = ["GaussianBernoulliRBMDistribution"]


class GaussianBernoulliRBMDistribution(EnergyDistribution):
    """p(v) = sum_h exp(-E(v, h)) / Z, v real, h binary.

    E(v, h) = sum_i (v_i - b_i)^2 / (2 s_i^2) - h.c - sum_ij (v_i / s_i) W_ij h_j, so
    F(v) = sum_i (v_i - b_i)^2 / (2 s_i^2) - sum_j softplus(c_j + ((v / s) W)_j),
    p(h_j=1|v) = sigmoid(c_j + ((v / s) W)_j), p(v|h) = Normal(b + s (W h), s^2).

    Arguments:
      weights: W [V, H]; visible_bias: b [V]; hidden_bias: c [H];
      visible_scale: s [V] (standard deviations).
      event_shape, log_normalizer, num_steps: as in `EnergyDistribution`.
    """

    def __init__(self, weights, visible_bias, hidden_bias, visible_scale, event_shape=None,
                 log_normalizer=None, num_steps=1000, validate_args=False, allow_nan_stats=True,
                 name="GaussianBernoulliRBM"):
        parameters = dict(locals())
        self.weights = tf.convert_to_tensor(weights, tf.float32)
        self.visible_bias = tf.convert_to_tensor(visible_bias, tf.float32)
        self.hidden_bias = tf.convert_to_tensor(hidden_bias, tf.float32)
        self.visible_scale = tf.convert_to_tensor(visible_scale, tf.float32)
        super().__init__(
            event_shape if event_shape is not None else (self.weights.shape[0],),
            log_normalizer, num_steps, validate_args, allow_nan_stats, name, parameters,
        )

    @property
    def num_hidden(self):
        return self.weights.shape[1]

    def _free_energy(self, v):
        quadratic = 0.5 * tf.reduce_sum(tf.square((v - self.visible_bias) / self.visible_scale), -1)
        return quadratic - tf.reduce_sum(
            tf.math.softplus(self.hidden_bias + (v / self.visible_scale) @ self.weights), -1
        )

    def hidden_probs(self, v):
        """p(h=1|v). v: [n, V] (or [*sample, *event]) -> [n, H]."""
        flat, _ = self._flatten(v)
        return tf.sigmoid(self.hidden_bias + (flat / self.visible_scale) @ self.weights)

    def visible_mean(self, h):
        """E[v|h] = b + s (W h). h: [n, H] -> [n, V]."""
        return self.visible_bias + self.visible_scale * (h @ tf.transpose(self.weights))

    def gibbs_step(self, v, seed):
        hidden_seed, visible_seed = tf.unstack(split_seed(seed, 2))
        h = bernoulli(self.hidden_probs(v), hidden_seed)
        noise = rng.normal(tf.shape(v), visible_seed)
        return self.visible_mean(h) + self.visible_scale * noise

    def initial_state(self, n, seed):
        noise = rng.normal([n, self._num_visible], seed)
        return self.visible_bias + self.visible_scale * noise

    def exact_log_normalizer(self):
        """log Z by enumerating the hiddens and integrating v (H <= 24)."""
        return grbm_log_partition(self.weights, self.visible_bias, self.hidden_bias, self.visible_scale)

    def annealing_path(self, base_logits=None):
        """AIS path scaling the couplings and hidden biases by beta.

        p*_beta(v) = exp(-sum_i (v_i - b_i)^2 / (2 s_i^2)) prod_j (1 + exp(beta (c_j + ((v/s) W)_j))):
        at beta = 0 the visibles are Normal(b, s^2) and the hiddens uniform,
        log Z_0 = sum_i log(sqrt(2 pi) s_i) + H log 2 (the form of
        Salakhutdinov & Murray 2008, eq. 15, with a Gaussian base model).
        `base_logits` is ignored (kept for a uniform call signature).
        """
        del base_logits
        weights, hidden_bias, scale, bias = self.weights, self.hidden_bias, self.visible_scale, self.visible_bias

        def log_unnormalized(v, beta):
            return -0.5 * tf.reduce_sum(tf.square((v - bias) / scale), -1) + tf.reduce_sum(
                tf.math.softplus(beta * (hidden_bias + (v / scale) @ weights)), -1
            )

        def transition(v, beta, seed):
            hidden_seed, visible_seed = tf.unstack(split_seed(seed, 2))
            h = bernoulli(tf.sigmoid(beta * (hidden_bias + (v / scale) @ weights)), hidden_seed)
            noise = rng.normal(tf.shape(v), visible_seed)
            return bias + scale * (beta * (h @ tf.transpose(weights)) + noise)

        log_z_base = tf.reduce_sum(tf.math.log(scale) + 0.5 * math.log(2 * math.pi)) + self.num_hidden * np.log(2.0)
        return AnnealingPath(log_z_base, self.initial_state, log_unnormalized, transition)


def grbm_log_partition(weights, visible_bias, hidden_bias, visible_scale):
    """Exact log Z of a Gaussian-Bernoulli RBM by enumerating the hiddens.

    E(v, h) = sum_i (v_i - b_i)^2 / (2 s_i^2) - h.c - sum_ij (v_i / s_i) W_ij h_j.
    Integrating v for fixed h (a Gaussian with mean b + s * (W h)):
    log Z = log sum_h exp(h.c + (b / s).(W h) + |W h|^2 / 2) + sum_i log(sqrt(2 pi) s_i).
    weights: [V, H], visible_bias, visible_scale: [V], hidden_bias: [H] -> scalar.
    """
    weights = tf.convert_to_tensor(weights, tf.float32)
    visible_scale = tf.convert_to_tensor(visible_scale, tf.float32)

    def log_fn(h):
        top_down = h @ tf.transpose(weights)
        return (
            tf.linalg.matvec(h, hidden_bias)
            + tf.linalg.matvec(top_down, visible_bias / visible_scale)
            + 0.5 * tf.reduce_sum(tf.square(top_down), -1)
        )

    return log_sum_over_states(log_fn, weights.shape[1]) + tf.reduce_sum(
        tf.math.log(visible_scale) + 0.5 * math.log(2 * math.pi)
    )
