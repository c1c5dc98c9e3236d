"""Exact log-partition functions by enumeration, for models small enough.

An RBM's hidden (or visible) units are conditionally independent given the
other layer, so summing them out analytically leaves a sum over 2**n states
of the smaller layer: exact for n <= ~20 (chunked, so 2**20 states fit in
memory). These are the references the AIS estimates are tested against.

References:
  Salakhutdinov & Murray, "On the quantitative analysis of deep belief
  networks", ICML 2008 (Sec. 4: exact log Z for RBMs with 20-25 hidden units).
"""

import math

import tensorflow as tf

__all__ = [
    "MAX_ENUMERATED_UNITS",
    "binary_states",
    "log_sum_over_states",
    "rbm_log_partition",
    "grbm_log_partition",
    "rsm_log_partition",
    "dbm_log_partition",
    "dbm_log_unnormalized",
    "dbm_log_unnormalized_given",
]

#: Enumeration is refused beyond 2**MAX_ENUMERATED_UNITS states.
MAX_ENUMERATED_UNITS = 24
_CHUNK = 2**14


def binary_states(num_units, start=0, stop=None):
    """Binary vectors with integer codes in [start, stop) (all 2**n by default).

    -> float32 [stop - start, num_units], most significant unit first.
    """
    stop = 2**num_units if stop is None else stop
    codes = tf.range(start, stop, dtype=tf.int64)[:, None]
    shifts = tf.range(num_units - 1, -1, -1, dtype=tf.int64)[None, :]
    return tf.cast(tf.bitwise.bitwise_and(tf.bitwise.right_shift(codes, shifts), 1), tf.float32)


def _check_size(num_units, what):
    if num_units > MAX_ENUMERATED_UNITS:
        raise ValueError(
            f"exact log Z enumerates 2**{num_units} {what} states; expected at most "
            f"{MAX_ENUMERATED_UNITS} units (use AIS: method='ais')"
        )


def log_sum_over_states(log_fn, num_units, chunk_size=_CHUNK):
    """log sum_s exp(log_fn(s)) over all binary s in {0,1}**num_units, chunked.

    Arguments:
      log_fn: states [chunk, num_units] -> [chunk, ...] log-weights.
    Returns:
      [...] float32 (computed in float64 across chunks).
    """
    _check_size(num_units, "binary")
    total = None
    for start in range(0, 2**num_units, chunk_size):
        states = binary_states(num_units, start, min(start + chunk_size, 2**num_units))
        part = tf.reduce_logsumexp(tf.cast(log_fn(states), tf.float64), axis=0)
        total = part if total is None else tf.reduce_logsumexp(tf.stack([total, part]), axis=0)
    return tf.cast(total, tf.float32)


def rbm_log_partition(weights, visible_bias, hidden_bias):
    """Exact log Z of a Bernoulli RBM, E(v, h) = -v.b - h.c - v W h.

    Sums the larger layer out analytically and enumerates the smaller:
    Z = sum_v exp(v.b) prod_j (1 + exp(c_j + (vW)_j))  (or the same over h).
    weights: [V, H], visible_bias: [V], hidden_bias: [H] -> scalar.
    """
    weights = tf.convert_to_tensor(weights, tf.float32)
    num_visible, num_hidden = weights.shape
    if num_visible <= num_hidden:
        return log_sum_over_states(
            lambda v: tf.linalg.matvec(v, visible_bias)
            + tf.reduce_sum(tf.math.softplus(hidden_bias + v @ weights), -1),
            num_visible,
        )
    return log_sum_over_states(
        lambda h: tf.linalg.matvec(h, hidden_bias)
        + tf.reduce_sum(tf.math.softplus(visible_bias + h @ tf.transpose(weights)), -1),
        num_hidden,
    )


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


def rsm_log_partition(weights, visible_bias, hidden_bias, lengths):
    """Exact log Z_D of a Replicated Softmax RBM for documents of length D.

    E(V, h) = -sum_jk W_kj h_j n_k - sum_k b_k n_k - D sum_j a_j h_j over the
    D x K one-hot word matrix V with counts n (Salakhutdinov & Hinton 2009,
    eq. 3). Summing the D words out for fixed h:
    Z_D = sum_h exp(D a.h) (sum_k exp(b_k + (W h)_k))^D.
    weights: [K, H], visible_bias: [K], hidden_bias: [H], lengths: [L] -> [L].
    """
    weights = tf.convert_to_tensor(weights, tf.float32)
    lengths = tf.cast(tf.reshape(lengths, [-1]), tf.float32)

    def log_fn(h):
        log_words = tf.reduce_logsumexp(visible_bias + h @ tf.transpose(weights), -1)
        return (tf.linalg.matvec(h, hidden_bias) + log_words)[:, None] * lengths[None, :]

    return log_sum_over_states(log_fn, weights.shape[1])


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

    return log_sum_over_states(log_fn, sum(widths), chunk_size=max(16, _CHUNK // 256))
