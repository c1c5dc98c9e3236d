"""Energy-based TFP distributions over visible units: the binary RBM and their shared base.

`EnergyDistribution` is a `tfd.Distribution` with p(v) = exp(-F(v)) / Z:
`unnormalized_log_prob` is minus the free energy F, `log_prob` subtracts a
given log Z (an AIS estimate or the exact value), and `sample` runs seeded
block Gibbs chains. Subclasses supply the free energy, the Gibbs step, the
chains' starting state and an AIS annealing path. All parameters are plain
tensors (built from a Keras model's weights on each call).

References:
  Smolensky, "Information processing in dynamical systems: foundations of
  harmony theory", 1986 (the RBM).
  Hinton, "Training products of experts by minimizing contrastive divergence",
  Neural Computation 2002.
  Hinton, "A practical guide to training restricted Boltzmann machines",
  UTML TR 2010-003 (Sec. 16.1: the free energy).
  Salakhutdinov & Murray, "On the quantitative analysis of deep belief
  networks", ICML 2008 (Sec. 4.1: the AIS path of an RBM).
"""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfdgm.distributions.annealing import AnnealingPath
from tfdgm.distributions.enumeration import log_sum_over_states
from tfdgm.distributions.gibbs import bernoulli, run_chain, split_seed

tfd = tfp.distributions

__all__ = ["EnergyDistribution", "BernoulliRBMDistribution", "rbm_free_energy", "rbm_gibbs_sweep", "rbm_log_partition"]


class EnergyDistribution(tfd.Distribution):
    """p(v) = exp(-F(v)) / Z over visibles of shape `event_shape` (scalar batch).

    Arguments:
      event_shape: shape of one visible vector (flattened to V units inside).
      log_normalizer: log Z (scalar tensor) or None; `log_prob` needs it.
      num_steps: Gibbs steps of `sample` (each chain starts from
        `initial_state`, the base-rate model by default).
      name, validate_args, allow_nan_stats: as in `tfd.Distribution`.
    """

    def __init__(self, event_shape, log_normalizer=None, num_steps=1000, validate_args=False,
                 allow_nan_stats=True, name="EnergyDistribution", parameters=None):
        self._event_shape_value = tuple(int(d) for d in event_shape)
        self._num_visible = int(np.prod(self._event_shape_value))
        self._log_normalizer = None if log_normalizer is None else tf.convert_to_tensor(log_normalizer, tf.float32)
        self.num_steps = num_steps
        super().__init__(
            dtype=tf.float32,
            reparameterization_type=tfd.NOT_REPARAMETERIZED,
            validate_args=validate_args,
            allow_nan_stats=allow_nan_stats,
            parameters=parameters,
            name=name,
        )

    # ------------------------------------------------------------ shapes
    def _event_shape(self):
        return tf.TensorShape(self._event_shape_value)

    def _event_shape_tensor(self):
        return tf.constant(self._event_shape_value, tf.int32)

    def _batch_shape(self):
        return tf.TensorShape([])

    def _batch_shape_tensor(self):
        return tf.constant([], tf.int32)

    @property
    def log_normalizer(self):
        """log Z given at construction (None if unknown)."""
        return self._log_normalizer

    def _flatten(self, v):
        """[*sample, *event] -> ([n, V], sample shape)."""
        v = tf.convert_to_tensor(v, tf.float32)
        sample_shape = tf.shape(v)[: tf.rank(v) - len(self._event_shape_value)]
        return tf.reshape(v, [-1, self._num_visible]), sample_shape

    # ------------------------------------------------------------ densities
    def free_energy(self, v):
        """F(v) = -log sum_h exp(-E(v, h)). v: [*sample, *event_shape] -> [*sample]."""
        flat, sample_shape = self._flatten(v)
        return tf.reshape(self._free_energy(flat), sample_shape)

    def flat_free_energy(self, flat_v):
        """F on flattened visibles: [n, V] -> [n]."""
        return self._free_energy(tf.convert_to_tensor(flat_v, tf.float32))

    def _unnormalized_log_prob(self, v):
        return -self.free_energy(v)

    def _log_prob(self, v):
        if self._log_normalizer is None:
            raise ValueError(
                f"{self.name}: log_prob needs log Z; pass log_normalizer= (an AIS estimate or "
                "the `*_log_partition` functions of `tfdgm.distributions`), or use unnormalized_log_prob"
            )
        return -self.free_energy(v) - self._log_normalizer

    # ------------------------------------------------------------ sampling
    def _sample_n(self, n, seed=None):
        if isinstance(seed, (int, np.integer)):  # an int repeats, as a stateless [seed, 0]
            seed = [int(seed), 0]
        seed = tfp.random.sanitize_seed(seed)
        init_seed, chain_seed = tf.unstack(split_seed(seed, 2))
        state = run_chain(self.gibbs_step, self.initial_state(n, init_seed), self.num_steps, chain_seed)
        visible = self.visible_from_state(state)
        return tf.reshape(visible, tf.concat([[n], self._event_shape_value], 0))

    def initial_state(self, n, seed):
        """The chains' starting state for n chains (override)."""
        raise NotImplementedError

    def gibbs_step(self, state, seed):
        """One block Gibbs sweep (override)."""
        raise NotImplementedError

    def visible_from_state(self, state):
        return state

    def _free_energy(self, flat_v):
        raise NotImplementedError


class BernoulliRBMDistribution(EnergyDistribution):
    """The binary RBM's marginal over visibles: p(v) = sum_h exp(-E(v, h)) / Z.

    E(v, h) = -v.b - h.c - v W h with v in {0,1}^V, h in {0,1}^H, so
    F(v) = -v.b - sum_j softplus(c_j + (v W)_j) (Hinton 2010, eq. 25) and
    p(h_j=1|v) = sigmoid(c_j + (vW)_j), p(v_i=1|h) = sigmoid(b_i + (W h)_i).

    Arguments:
      weights: W [V, H]; visible_bias: b [V]; hidden_bias: c [H].
      event_shape: shape of v (default `(V,)`).
      log_normalizer: log Z or None.
      num_steps: Gibbs steps per `sample`.
      initial_logits: [V] logits of the chains' independent starting
        distribution (default 0: uniform); the base rates of the data mix fastest.

    Example:
      >>> rbm = BernoulliRBMDistribution(w, b, c, log_normalizer=rbm_log_partition(w, b, c))
      >>> rbm.log_prob(v), rbm.sample(10, seed=[1, 2])
    """

    def __init__(self, weights, visible_bias, hidden_bias, event_shape=None, log_normalizer=None,
                 num_steps=1000, initial_logits=None, validate_args=False, allow_nan_stats=True,
                 name="BernoulliRBM"):
        parameters = dict(locals())
        self.weights = tf.convert_to_tensor(weights, tf.float32)
        self.visible_bias = tf.convert_to_tensor(visible_bias, tf.float32)
        self.hidden_bias = tf.convert_to_tensor(hidden_bias, tf.float32)
        self.initial_logits = (
            tf.zeros_like(self.visible_bias) if initial_logits is None
            else tf.convert_to_tensor(initial_logits, tf.float32)
        )
        super().__init__(
            event_shape if event_shape is not None else (self.weights.shape[0],),
            log_normalizer, num_steps, validate_args, allow_nan_stats, name, parameters,
        )

    @property
    def num_hidden(self):
        return self.weights.shape[1]

    def _free_energy(self, v):
        return rbm_free_energy(v, self.weights, self.visible_bias, self.hidden_bias)

    def energy(self, v, h):
        """E(v, h). v: [n, V], h: [n, H] -> [n]."""
        return -(
            tf.linalg.matvec(v, self.visible_bias)
            + tf.linalg.matvec(h, self.hidden_bias)
            + tf.reduce_sum((v @ self.weights) * h, -1)
        )

    def hidden_probs(self, v):
        """p(h=1|v) = sigmoid(c + v W). v: [n, V] (or [*sample, *event]) -> [n, H]."""
        flat, _ = self._flatten(v)
        return tf.sigmoid(self.hidden_bias + flat @ self.weights)

    def visible_probs(self, h):
        """p(v=1|h) = sigmoid(b + W h). h: [n, H] -> [n, V]."""
        return tf.sigmoid(self.visible_bias + h @ tf.transpose(self.weights))

    def gibbs_step(self, v, seed):
        """v -> h ~ p(h|v) -> v' ~ p(v|h) (one block Gibbs sweep)."""
        hidden_seed, visible_seed = tf.unstack(split_seed(seed, 2))
        h = bernoulli(self.hidden_probs(v), hidden_seed)
        return bernoulli(self.visible_probs(h), visible_seed)

    def initial_state(self, n, seed):
        return bernoulli(tf.sigmoid(tf.broadcast_to(self.initial_logits, [n, self._num_visible])), seed)

    def exact_log_normalizer(self):
        """log Z by enumeration of the smaller layer (min(V, H) <= 24)."""
        return rbm_log_partition(self.weights, self.visible_bias, self.hidden_bias)

    def annealing_path(self, base_logits=None):
        """The AIS path of Salakhutdinov & Murray (2008), Sec. 4.1, eqs. 15-18.

        From the base-rate model p_A(v) = prod_i sigmoid(b^A_i)^{v_i} ... (no
        coupling; `base_logits` b^A, e.g. the logits of the data's pixel means)
        to this RBM, through
        log p*_beta(v) = (1 - beta) v.b^A + beta v.b + sum_j softplus(beta (c_j + (vW)_j)),
        so log Z_A = sum_i softplus(b^A_i) + H log 2; the kernel samples
        h ~ sigmoid(beta (c + vW)), v ~ sigmoid((1 - beta) b^A + beta (b + W h)).
        """
        base = self.initial_logits if base_logits is None else tf.convert_to_tensor(base_logits, tf.float32)
        weights, visible_bias, hidden_bias = self.weights, self.visible_bias, self.hidden_bias

        def log_unnormalized(v, beta):  # minus the free energy of the RBM (beta W, (1-beta) b^A + beta b, beta c)
            return -rbm_free_energy(v, beta * weights, (1.0 - beta) * base + beta * visible_bias, beta * hidden_bias)

        def transition(v, beta, seed):
            hidden_seed, visible_seed = tf.unstack(split_seed(seed, 2))
            h = bernoulli(tf.sigmoid(beta * (hidden_bias + v @ weights)), hidden_seed)
            logits = (1.0 - beta) * base + beta * (visible_bias + h @ tf.transpose(weights))
            return bernoulli(tf.sigmoid(logits), visible_seed)

        def sample_base(n, seed):
            return bernoulli(tf.sigmoid(tf.broadcast_to(base, [n, self._num_visible])), seed)

        log_z_base = tf.reduce_sum(tf.math.softplus(base)) + self.num_hidden * np.log(2.0)
        return AnnealingPath(log_z_base, sample_base, log_unnormalized, transition)


def rbm_log_partition(weights, visible_bias, hidden_bias):
    """Exact log Z of a Bernoulli RBM, E(v, h) = -v.b - h.c - v W h.

    Sums the larger layer out analytically and enumerates the smaller:
    Z = sum_v exp(v.b) prod_j (1 + exp(c_j + (vW)_j))  (or the same over h).
    weights: [V, H], visible_bias: [V], hidden_bias: [H] -> scalar.
    """
    weights = tf.convert_to_tensor(weights, tf.float32)
    num_visible, num_hidden = weights.shape
    if num_visible <= num_hidden:
        return log_sum_over_states(lambda v: -rbm_free_energy(v, weights, visible_bias, hidden_bias), num_visible)
    # The RBM is symmetric in its layers: the hiddens' free energy has W^T and the biases swapped.
    return log_sum_over_states(
        lambda h: -rbm_free_energy(h, tf.transpose(weights), hidden_bias, visible_bias), num_hidden
    )


def rbm_free_energy(v, weights, visible_bias, hidden_bias, hidden_copies=1, hidden_input=None):
    """F(v) = -v.b - r sum_j softplus(c_j + (vW)_j) of a binary RBM whose hidden
    layer is replicated r = `hidden_copies` times with tied weights (r = 2 is the
    top RBM of DBM pretraining, S&H 2009 Sec. 3.2); Hinton (2010), eq. 25.
    `hidden_input`: c + vW when the caller has it already. v: [n, V] -> [n]."""
    if hidden_input is None:
        hidden_input = hidden_bias + v @ weights
    return -tf.linalg.matvec(v, visible_bias) - hidden_copies * tf.reduce_sum(tf.math.softplus(hidden_input), -1)


def rbm_gibbs_sweep(v, weights, visible_bias, hidden_bias, seed, visible_copies=1, hidden_copies=1):
    """One block Gibbs sweep of a binary RBM with replicated layers.

    `v` is the SUM of the `visible_copies` copies of the visible layer (so it
    takes values 0..copies); each hidden copy is drawn from sigmoid(c + vW), and
    each visible copy from sigmoid(b + W h_sum). With copies 1 this is the
    ordinary sweep; the doubled RBMs of DBM pretraining use 2 (S&H 2009).
    -> the new visible sum [n, V].
    """
    hidden_seed, visible_seed = tf.unstack(split_seed(seed, 2))
    hidden_probs = tf.sigmoid(hidden_bias + v @ weights)
    h = bernoulli(tf.broadcast_to(hidden_probs, tf.concat([[hidden_copies], tf.shape(hidden_probs)], 0)), hidden_seed)
    visible_probs = tf.sigmoid(visible_bias + tf.reduce_sum(h, 0) @ tf.transpose(weights))
    v = bernoulli(tf.broadcast_to(visible_probs, tf.concat([[visible_copies], tf.shape(visible_probs)], 0)), visible_seed)
    return tf.reduce_sum(v, 0)
