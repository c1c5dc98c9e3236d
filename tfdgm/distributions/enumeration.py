"""Exact sums over binary states by enumeration, for models small enough.

An RBM's hidden (or visible) units are conditionally independent given the
other layer, so summing them out analytically leaves a sum over 2**n states
of the smaller layer: exact for n <= ~20 (chunked, so 2**20 states fit in
memory). Each energy-based distribution builds its exact log-normalizer on
these sums; they are the references the AIS estimates are tested against.

References:
  Salakhutdinov & Murray, "On the quantitative analysis of deep belief
  networks", ICML 2008 (Sec. 4: exact log Z for RBMs with 20-25 hidden units).
"""

import tensorflow as tf

__all__ = ["MAX_ENUMERATED_UNITS", "binary_states", "log_sum_over_states"]

#: Enumeration is refused beyond 2**MAX_ENUMERATED_UNITS states.
MAX_ENUMERATED_UNITS = 24
CHUNK = 2**14


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


def log_sum_over_states(log_fn, num_units, chunk_size=CHUNK):
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
