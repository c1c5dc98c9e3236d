"""The Gaussian-Bernoulli RBM for real-valued data (learned or fixed variances)."""

import keras
import tensorflow as tf

from tfdgm.distributions.rbm_gaussian import GaussianBernoulliRBMDistribution
from tfdgm.models.energy.base import EnergyModel
from tfdgm.models.energy.rbm import DenseFilters

__all__ = ["GaussianBernoulliRBM"]

# log-standard deviations are clipped to this range (a zero-variance pixel
# would otherwise drive the density to +inf).
_LOG_SCALE_RANGE = (-5.0, 3.0)


class GaussianBernoulliRBM(DenseFilters, EnergyModel):
    """Real visibles, binary hiddens: p(v|h) = Normal(b + s (W h), s^2).

    E(v, h) = sum_i (v_i - b_i)^2 / (2 s_i^2) - h.c - sum_ij (v_i / s_i) W_ij h_j
    (see `GaussianBernoulliRBMDistribution`). With `learn_variance=True` the
    log standard deviations log s (clipped to [-5, 3]) are trained by the same
    CD surrogate (the free energy's gradient in log s); otherwise s stays at
    `initial_scale` and the data is best standardized (Hinton 2010, Sec. 13.2).
    The guide's advice of a smaller learning rate for Gaussian visibles holds.

    References:
      Hinton & Salakhutdinov, "Reducing the dimensionality of data with
      neural networks", Science 2006.
      Hinton, "A practical guide to training restricted Boltzmann machines",
      UTML TR 2010-003, Sec. 13.2.
      Cho, Ilin & Raiko, "Improved learning of Gaussian-Bernoulli restricted
      Boltzmann machines", ICANN 2011.

    Arguments:
      event_shape: shape of one real-valued example.
      num_hidden: H.
      learn_variance: train the visible standard deviations.
      initial_scale: starting standard deviation s of every visible unit.
      other arguments: see `EnergyModel` (default learning rate 0.01).
    """

    data_kind = "continuous"

    def __init__(self, event_shape=(2,), num_hidden=16, learn_variance=True, initial_scale=1.0,
                 learning_rate=0.01, **kwargs):
        super().__init__(event_shape=event_shape, num_hidden=num_hidden, learning_rate=learning_rate, **kwargs)
        if initial_scale <= 0:
            raise ValueError(f"expected initial_scale > 0, got {initial_scale}")
        self.learn_variance = bool(learn_variance)
        self.initial_scale = float(initial_scale)

    def hyperparameters(self):
        return {**super().hyperparameters(), "learn_variance": self.learn_variance,
                "initial_scale": self.initial_scale}

    @classmethod
    def default_hyperparameters(cls, info):
        return {"num_hidden": 256}

    @property
    def enumerable(self):
        return self.num_hidden <= 20  # the visibles are integrated, never enumerated

    def build(self, input_shape=None):
        self.weights_vh = self.add_weight(
            name="weights", shape=(self.num_dims, self.num_hidden),
            initializer=keras.initializers.RandomNormal(stddev=0.01),
        )
        self.visible_bias = self.add_weight(name="visible_bias", shape=(self.num_dims,), initializer="zeros")
        self.hidden_bias = self.add_weight(name="hidden_bias", shape=(self.num_hidden,), initializer="zeros")
        self.log_scale = self.add_weight(
            name="log_scale", shape=(self.num_dims,), trainable=self.learn_variance,
            initializer=keras.initializers.Constant(float(tf.math.log(self.initial_scale))),
        )
        self._build_energy_state(chain_initializer="random_normal")
        self.built = True

    def visible_scale(self):
        return tf.exp(tf.clip_by_value(self.log_scale, *_LOG_SCALE_RANGE))

    def distribution(self, log_normalizer=None, num_steps=None):
        return GaussianBernoulliRBMDistribution(
            self.weights_vh, self.visible_bias, self.hidden_bias, self.visible_scale(),
            event_shape=self.event_shape, log_normalizer=log_normalizer,
            num_steps=self.sampling_steps if num_steps is None else num_steps,
        )

    def reconstruction(self, flat):
        distribution = self.distribution()
        return distribution.visible_mean(distribution.hidden_probs(flat))

    def _hidden_input(self, flat):
        return self.hidden_bias + (flat / self.visible_scale()) @ self.weights_vh
