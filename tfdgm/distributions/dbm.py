"""The deep Boltzmann machine (binary layers) as a TFP distribution over visibles.

References:
  Salakhutdinov & Hinton, "Deep Boltzmann machines", AISTATS 2009 (eq. 1 the
  energy; Sec. 3.1 eqs. 5-6 the mean-field bound; Sec. 4 AIS with the odd
  layers summed out).
  Salakhutdinov & Larochelle, "Efficient learning of deep Boltzmann machines",
  AISTATS 2010.
"""

import numpy as np
import tensorflow as tf

from tfdgm.distributions.rbm import EnergyDistribution
from tfdgm.distributions.annealing import AnnealingPath
from tfdgm.distributions.enumeration import CHUNK, log_sum_over_states
from tfdgm.distributions.gibbs import bernoulli, split_seed

__all__ = ["DBMDistribution"]


class DBMDistribution(EnergyDistribution):
    """p(v) = sum_{h_1..h_L} exp(-E(v, h)) / Z with binary layers x_0 = v, ..., x_L.

    E(x) = -sum_l x_l.b_l - sum_{l>=1} x_{l-1} W_l x_l (S&H 2009, eq. 1 for L = 2).
    Given the even layers the odd ones are independent (and vice versa), so
    block Gibbs alternates odd and even layers. p*(v) needs a sum over the
    hiddens, exact only when small (`dbm_log_unnormalized`); for larger
    models use `lower_bound` (mean-field, eq. 5).

    Arguments:
      weights: list of W_l [size_{l-1}, size_l], l = 1..L.
      biases: list of b_l [size_l], l = 0..L (b_0 the visible bias).
      event_shape, log_normalizer, num_steps: as in `EnergyDistribution`.
      initial_logits: [V] logits of the chains' starting visibles.
    """

    def __init__(self, weights, biases, event_shape=None, log_normalizer=None, num_steps=1000,
                 initial_logits=None, validate_args=False, allow_nan_stats=True, name="DBM"):
        parameters = dict(locals())
        self.weights = [tf.convert_to_tensor(w, tf.float32) for w in weights]
        self.biases = [tf.convert_to_tensor(b, tf.float32) for b in biases]
        if len(self.biases) != len(self.weights) + 1:
            raise ValueError(f"expected {len(self.weights) + 1} biases for {len(self.weights)} weights, "
                             f"got {len(self.biases)}")
        self.sizes = [w.shape[0] for w in self.weights] + [self.weights[-1].shape[1]]
        self.initial_logits = (
            tf.zeros_like(self.biases[0]) if initial_logits is None
            else tf.convert_to_tensor(initial_logits, tf.float32)
        )
        super().__init__(
            event_shape if event_shape is not None else (self.sizes[0],),
            log_normalizer, num_steps, validate_args, allow_nan_stats, name, parameters,
        )

    @property
    def num_layers(self):
        """L, the number of hidden layers."""
        return len(self.weights)

    def field(self, layer, states, scale=1.0):
        """Total input to `layer` from its neighbours in `states` (a list or dict):
        b_l + x_{l-1} W_l + x_{l+1} W_{l+1}^T, the couplings times `scale`."""
        total = self.biases[layer] * scale
        if layer > 0:
            total += scale * (states[layer - 1] @ self.weights[layer - 1])
        if layer < self.num_layers:
            total += scale * (states[layer + 1] @ tf.transpose(self.weights[layer]))
        return total

    def _free_energy(self, v):
        return -dbm_log_unnormalized(v, self.weights, self.biases)

    def energy(self, states):
        """E(x) for a list of layer states [n, size_l] -> [n]."""
        return -dbm_log_unnormalized_given(dict(enumerate(states)), self.weights, self.biases)

    # ------------------------------------------------------------ Gibbs
    def gibbs_step(self, states, seed):
        """Odd layers given even ones, then even layers (v included) given odd ones."""
        states = list(states)
        seeds = tf.unstack(split_seed(seed, len(states)))
        for parity in (1, 0):
            for layer in range(parity, len(states), 2):
                states[layer] = bernoulli(tf.sigmoid(self.field(layer, states)), seeds[layer])
        return tuple(states)

    def initial_state(self, n, seed):
        seeds = tf.unstack(split_seed(seed, len(self.sizes)))
        visible = bernoulli(tf.sigmoid(tf.broadcast_to(self.initial_logits, [n, self.sizes[0]])), seeds[0])
        hidden = [bernoulli(tf.fill([n, size], 0.5), s) for size, s in zip(self.sizes[1:], seeds[1:])]
        return (visible, *hidden)

    def visible_from_state(self, state):
        return state[0]

    # ------------------------------------------------------------ mean field
    def mean_field(self, v, num_iterations=30, tolerance=1e-6):
        """Fixed point of the mean-field equations (S&H 2009, eq. 6):
        mu_l = sigmoid(b_l + mu_{l-1} W_l + mu_{l+1} W_{l+1}^T), mu_0 = v.

        Starts from a bottom-up pass with doubled weights below the top layer
        (the pretraining correction), then updates odd and even layers in turn;
        each half-sweep maximizes the bound exactly over its layers, so the
        bound never decreases. Stops after `num_iterations` sweeps or when no
        mean moves more than `tolerance`.
        v: [n, V] -> (list of mu_l [n, size_l] with mu_0 = v, last max change).
        """
        flat, _ = self._flatten(v)
        mu = [flat]
        for layer in range(1, len(self.sizes)):
            factor = 2.0 if layer < self.num_layers else 1.0
            mu.append(tf.sigmoid(self.biases[layer] + factor * (mu[-1] @ self.weights[layer - 1])))

        def sweep(mu):
            mu = list(mu)
            for parity in (1, 0):
                for layer in range(max(parity, 1) if parity == 1 else 2, len(mu), 2):
                    mu[layer] = tf.sigmoid(self.field(layer, mu))
            return mu

        def body(t, mu, change):
            new = sweep(mu)
            change = tf.reduce_max([tf.reduce_max(tf.abs(a - b)) for a, b in zip(new[1:], mu[1:])])
            return t + 1, new, change

        _, mu, change = tf.while_loop(
            lambda t, mu, change: tf.logical_and(t < num_iterations, change > tolerance),
            body,
            (tf.constant(0), mu, tf.constant(np.inf, tf.float32)),
        )
        return mu, change

    def lower_bound(self, v, mu=None, log_normalizer=None, **mean_field_options):
        """Variational lower bound on log p(v) (S&H 2009, eq. 5):
        log p(v) >= -E_q[E(v, h)] + H(q) - log Z, q = prod Bernoulli(mu).
        v: [n, V] -> [n] (without `- log Z` when no log normalizer is known)."""
        if mu is None:
            mu, _ = self.mean_field(v, **mean_field_options)
        entropy = 0.0
        for m in mu[1:]:
            m = tf.clip_by_value(m, 1e-7, 1 - 1e-7)
            entropy += -tf.reduce_sum(m * tf.math.log(m) + (1 - m) * tf.math.log1p(-m), -1)
        bound = dbm_log_unnormalized_given(dict(enumerate(mu)), self.weights, self.biases) + entropy
        log_normalizer = self._log_normalizer if log_normalizer is None else log_normalizer
        return bound if log_normalizer is None else bound - log_normalizer

    # ------------------------------------------------------------ partition function
    def exact_log_normalizer(self):
        """log Z by enumerating the smaller parity class of layers."""
        return dbm_log_partition(self.weights, self.biases)

    def annealing_path(self, base_logits=None, hidden_base_logits=None):
        """AIS with the odd layers summed out (S&H 2009, Sec. 4).

        State: the even layers (v, h_2, ...). From a base model of independent
        units with logits a_l for every layer l (a_0 = `base_logits`, the
        data's base rates; a_l for l >= 1 = `hidden_base_logits[l - 1]`, zero
        = uniform by default) to the DBM, through
        log p*_beta = sum_{even l} x_l.((1 - beta) a_l + beta b_l)
                      + sum_{odd l} sum_j softplus((1 - beta) a_lj + beta (field_lj)),
        log Z_0 = sum_l sum_j softplus(a_lj); the kernel is block Gibbs at beta.
        Hidden base rates near the model's (e.g. the data's mean-field
        posterior means) matter when joint training has frozen a top layer
        into one pattern: from uniform hiddens AIS must find that pattern in
        a sharp transition, and under-estimates log Z by hundreds of nats.
        """
        base = [self.initial_logits if base_logits is None else tf.convert_to_tensor(base_logits, tf.float32)]
        if hidden_base_logits is None:
            hidden_base_logits = [tf.zeros([size]) for size in self.sizes[1:]]
        if len(hidden_base_logits) != self.num_layers:
            raise ValueError(f"expected {self.num_layers} hidden_base_logits (one per hidden layer), "
                             f"got {len(hidden_base_logits)}")
        base += [tf.convert_to_tensor(logits, tf.float32) for logits in hidden_base_logits]
        even = list(range(0, len(self.sizes), 2))
        odd = list(range(1, len(self.sizes), 2))

        def as_layers(state):
            return dict(zip(even, state))

        def logits(layer, states, beta):
            return (1.0 - beta) * base[layer] + self.field(layer, states, scale=beta)

        def log_unnormalized(state, beta):
            states = as_layers(state)
            total = 0.0
            for layer in even:
                total += tf.linalg.matvec(states[layer], (1.0 - beta) * base[layer] + beta * self.biases[layer])
            for layer in odd:
                total += tf.reduce_sum(tf.math.softplus(logits(layer, states, beta)), -1)
            return total

        def transition(state, beta, seed):
            states = as_layers(state)
            seeds = tf.unstack(split_seed(seed, len(self.sizes)))
            for layer in odd + even:
                states[layer] = bernoulli(tf.sigmoid(logits(layer, states, beta)), seeds[layer])
            return tuple(states[layer] for layer in even)

        def sample_base(n, seed):
            seeds = tf.unstack(split_seed(seed, len(even)))
            return tuple(bernoulli(tf.sigmoid(tf.broadcast_to(base[layer], [n, self.sizes[layer]])), s)
                         for layer, s in zip(even, seeds))

        log_z_base = tf.add_n([tf.reduce_sum(tf.math.softplus(logits)) for logits in base])
        return AnnealingPath(log_z_base, sample_base, log_unnormalized, transition)


def dbm_log_unnormalized_given(states, weights, biases):
    """log sum over the layers NOT in `states` of exp(-E), a DBM's energy being
    E(x) = -sum_l x_l.b_l - sum_l x_{l-1} W_l x_l over layers x_0 = v, ..., x_L.

    `states` maps layer index -> [n, size_l]; the missing layers must not be
    adjacent (then they are conditionally independent and sum out in closed
    form: prod_j (1 + exp(field_j))). -> [n].
    """
    total = 0.0
    for layer, bias in enumerate(biases):
        below = states.get(layer - 1) if layer > 0 else None
        above = states.get(layer + 1) if layer < len(biases) - 1 else None
        if layer in states:
            total += tf.linalg.matvec(states[layer], bias)
            if above is not None:
                total += tf.reduce_sum((states[layer] @ weights[layer]) * above, -1)
        else:
            field = bias
            if below is not None:
                field = field + below @ weights[layer - 1]
            if above is not None:
                field = field + above @ tf.transpose(weights[layer])
            total += tf.reduce_sum(tf.math.softplus(field), -1)
    return total


def _sizes(weights):
    return [w.shape[0] for w in weights] + [weights[-1].shape[1]]


def dbm_log_partition(weights, biases):
    """Exact log Z of a deep Boltzmann machine with binary layers.

    Given the even layers the odd ones are independent (and vice versa), so
    the smaller parity class is enumerated and the other summed out.
    weights: list of [size_{l-1}, size_l]; biases: list of [size_l] -> scalar.
    """
    weights = [tf.convert_to_tensor(w, tf.float32) for w in weights]
    biases = [tf.convert_to_tensor(b, tf.float32) for b in biases]
    sizes = _sizes(weights)
    even = [layer for layer in range(len(sizes)) if layer % 2 == 0]
    odd = [layer for layer in range(len(sizes)) if layer % 2 == 1]
    layers = even if sum(sizes[i] for i in even) <= sum(sizes[i] for i in odd) else odd
    widths = [sizes[layer] for layer in layers]
    return log_sum_over_states(
        lambda joint: dbm_log_unnormalized_given(
            dict(zip(layers, tf.split(joint, widths, axis=-1))), weights, biases
        ),
        sum(widths),
    )


def dbm_log_unnormalized(v, weights, biases):
    """Exact log sum_h exp(-E(v, h)) of a DBM: v [n, V] -> [n].

    Enumerates the hidden layers of the parity with fewer units (odd: h1, h3;
    or even: h2, h4) and sums the others out given them and v.
    """
    v = tf.convert_to_tensor(v, tf.float32)
    weights = [tf.convert_to_tensor(w, tf.float32) for w in weights]
    biases = [tf.convert_to_tensor(b, tf.float32) for b in biases]
    sizes = _sizes(weights)
    even_hidden = [layer for layer in range(2, len(sizes), 2)]
    odd = [layer for layer in range(1, len(sizes), 2)]
    if not even_hidden:  # one hidden layer: an RBM's free energy
        return dbm_log_unnormalized_given({0: v}, weights, biases)
    layers = even_hidden if sum(sizes[i] for i in even_hidden) <= sum(sizes[i] for i in odd) else odd
    widths = [sizes[layer] for layer in layers]
    n = tf.shape(v)[0]

    def log_fn(joint):  # [chunk, width] -> [chunk, n]
        chunk = tf.shape(joint)[0]
        states = {
            layer: tf.repeat(part, n, axis=0) for layer, part in zip(layers, tf.split(joint, widths, axis=-1))
        }
        states[0] = tf.tile(v, [chunk, 1])
        return tf.reshape(dbm_log_unnormalized_given(states, weights, biases), [chunk, n])

    return log_sum_over_states(log_fn, sum(widths), chunk_size=max(16, CHUNK // 256))
