"""Probabilistic max-pooling: the (C^2 + 1)-way softmax of each C x C block.

Within every C x C block of a hidden group at most one detection unit is on,
and the block's pooling unit is on iff one of them is; given the bottom-up
inputs I of its units, each block is one categorical over "unit i on"
(logit I_i) and "all off" (logit 0). These ops compute its probabilities,
its log-normalizer (a block's share of the free energy), draws from it, and
the enumeration of every allowed configuration (for exact tests).

References:
  Lee, Grosse, Ranganath & Ng, "Convolutional deep belief networks for
  scalable unsupervised learning of hierarchical representations", ICML 2009
  (Sec. 3.3: probabilistic max-pooling, eqs. 5-7).
"""

import functools
import itertools

import numpy as np
import tensorflow as tf

from tfdgm import rng

__all__ = [
    "MAX_ENUMERATED_STATES",
    "block_logits",
    "to_blocks",
    "from_blocks",
    "prob_max_pool_probs",
    "prob_max_pool_log_partition",
    "sample_prob_max_pool",
    "sample_prob_max_pool_with_probs",
    "sample_hidden_given_pooling",
    "pooling_configurations",
    "unit_major_posterior",
    "sample_unit_major",
]

#: Enumeration (of visibles or of constrained hidden configurations) stops here.
MAX_ENUMERATED_STATES = 2**20


def _check_pool(inputs, pool_size):
    if isinstance(pool_size, bool) or not isinstance(pool_size, (int, np.integer)) or pool_size < 1:
        raise ValueError(f"expected pool_size as a positive int, got {pool_size!r}")
    shape = inputs.shape
    if shape.rank != 4:
        raise ValueError(f"expected inputs of shape [n, height, width, groups], got {list(shape)}")
    for axis, size in (("height", shape[1]), ("width", shape[2])):
        if size is not None and size % pool_size:
            raise ValueError(
                f"expected the hidden {axis} ({size}) to be a multiple of pool_size ({pool_size})"
            )


def _space_to_depth(x, size):
    """`tf.nn.space_to_depth`, also for size 1 (the identity), which it refuses."""
    return x if size == 1 else tf.nn.space_to_depth(x, size)


def _depth_to_space(x, size):
    """`tf.nn.depth_to_space`, also for size 1 (the identity)."""
    return x if size == 1 else tf.nn.depth_to_space(x, size)


def to_blocks(inputs, pool_size):
    """[n, H', W', K] -> [n, H'/C, W'/C, K, C*C] (the units of each block last)."""
    c = pool_size
    depth = _space_to_depth(inputs, c)  # [n, H'/C, W'/C, C*C*K], order (row, col, group)
    shape = tf.shape(depth)
    groups = inputs.shape[-1]
    blocks = tf.reshape(depth, [shape[0], shape[1], shape[2], c * c, groups])
    return tf.transpose(blocks, [0, 1, 2, 4, 3])


def from_blocks(blocks, pool_size):
    """Inverse of `to_blocks`: [n, H'/C, W'/C, K, C*C] -> [n, H', W', K]."""
    c = pool_size
    shape = tf.shape(blocks)
    groups = blocks.shape[3]
    depth = tf.reshape(tf.transpose(blocks, [0, 1, 2, 4, 3]), [shape[0], shape[1], shape[2], c * c * groups])
    return _depth_to_space(depth, c)


def block_logits(inputs, pool_size):
    """Logits of the (C^2 + 1)-way softmax of each block: the C^2 bottom-up
    inputs I(h_ij^k) and 0 for "all units off" (Lee et al. 2009, eqs. 6-7).
    -> [n, H'/C, W'/C, K, C*C + 1]."""
    blocks = to_blocks(inputs, pool_size)
    return tf.concat([blocks, tf.zeros_like(blocks[..., :1])], -1)


def _upsample(pooled, pool_size):
    """Each block's value copied to its C x C units: [n, H'/C, W'/C, K] -> [n, H', W', K]."""
    return _depth_to_space(tf.tile(pooled, [1, 1, 1, pool_size * pool_size]), pool_size)


def _block_softmax(inputs, pool_size):
    """The (C^2 + 1)-way softmax of every block, stabilized by m = max(0, max_i I_i)
    and built from pooling ops (which the CPU runs faster than reductions over a
    block axis): -> (P(h_i = 1) [n, H', W', K], P(all off) [n, H'/C, W'/C, K],
    m and the sum of exp(logit - m), both [n, H'/C, W'/C, K])."""
    c = pool_size
    top = tf.maximum(tf.nn.max_pool2d(inputs, c, c, "VALID"), 0.0)
    units = tf.exp(inputs - _upsample(top, c))
    off = tf.exp(-top)
    total = off + float(c * c) * tf.nn.avg_pool2d(units, c, c, "VALID")
    return units / _upsample(total, c), off / total, top, total


def prob_max_pool_probs(inputs, pool_size):
    """Posterior of probabilistic max-pooling (Lee et al. 2009, Sec. 3.3, eqs. 6-7).

    For a block B_alpha of group k with inputs I_i = b_k + (W~^k * v)_i,
      P(h_i = 1 | v) = exp(I_i) / (1 + sum_{i' in B_alpha} exp(I_i')),
      P(p_alpha = 0 | v) = 1 / (1 + sum_{i' in B_alpha} exp(I_i')),
    computed as one numerically stable softmax over the C^2 units and the
    "all off" state (logit 0).

    Arguments:
      inputs: I, [n, H', W', K] with H', W' multiples of `pool_size`.
      pool_size: C.
    Returns:
      (hidden_probs [n, H', W', K], pooling_probs [n, H'/C, W'/C, K]).
    """
    inputs = tf.convert_to_tensor(inputs, tf.float32)
    _check_pool(inputs, pool_size)
    units, off, _, _ = _block_softmax(inputs, pool_size)
    return units, 1.0 - off


def prob_max_pool_log_partition(inputs, pool_size):
    """log(1 + sum_{i in B_alpha} exp(I_i)) per block: the negative free energy
    a block contributes (its hidden states summed out). -> [n, H'/C, W'/C, K]."""
    inputs = tf.convert_to_tensor(inputs, tf.float32)
    _check_pool(inputs, pool_size)
    _, _, top, total = _block_softmax(inputs, pool_size)
    return top + tf.math.log(total)


def _sample_blocks(logits, seed):
    """One draw of each block's categorical by Gumbel-max. -> one-hot, same shape."""
    uniform = rng.uniform(tf.shape(logits), seed, minval=1e-20, maxval=1.0)
    gumbel = -tf.math.log(-tf.math.log(uniform))
    return tf.one_hot(tf.argmax(logits + gumbel, axis=-1), logits.shape[-1], dtype=tf.float32)


def _draw_units(units, pool_size, seed):
    """One state per block from the probabilities of its units [n, H', W', K]
    (the rest of the mass is "all off"), by inverting the cumulative
    distribution over the units in row-major order with one uniform per block,
    on slices of a reshape (unit (r, c) of every block at once; strided slicing
    is several times slower on CPU).
    -> (hidden [n, H', W', K], pooling [n, H'/C, W'/C, K]), binary float32."""
    c = pool_size
    shape = tf.shape(units)
    grid = tf.reshape(units, [shape[0], shape[1] // c, c, shape[2] // c, c, units.shape[-1]])
    slices = [grid[:, :, r, :, col, :] for r in range(c) for col in range(c)]  # each [n, H'/C, W'/C, K]
    uniform = rng.uniform(tf.shape(slices[0]), seed)
    lower, drawn = tf.zeros_like(uniform), []
    for probs in slices:
        upper = lower + probs
        drawn.append(tf.cast((uniform >= lower) & (uniform < upper), tf.float32))
        lower = upper
    hidden = _depth_to_space(tf.concat(drawn, -1), c)  # channels (row, column, group), as space_to_depth
    return hidden, tf.add_n(drawn)


def sample_prob_max_pool(inputs, pool_size, seed):
    """Draws each C x C block as one (C^2 + 1)-way categorical (Lee et al. 2009, eqs. 6-7).

    At most one hidden unit of a block is on, and the pooling unit is on iff
    one is: p_alpha = sum_{i in B_alpha} h_i.

    Arguments:
      inputs: I, [n, H', W', K] with H', W' multiples of `pool_size`.
      pool_size: C.
      seed: stateless `[2]` int seed.
    Returns:
      (hidden [n, H', W', K], pooling [n, H'/C, W'/C, K]), binary float32.
    """
    inputs = tf.convert_to_tensor(inputs, tf.float32)
    _check_pool(inputs, pool_size)
    return _draw_units(_block_softmax(inputs, pool_size)[0], pool_size, seed)


def sample_prob_max_pool_with_probs(inputs, pool_size, seed):
    """The posterior of `prob_max_pool_probs` and one draw from it, from one softmax.

    Arguments:
      inputs: I, [n, H', W', K] with H', W' multiples of `pool_size`.
      pool_size: C.
      seed: stateless `[2]` int seed.
    Returns:
      (hidden_probs [n, H', W', K], hidden [n, H', W', K] binary float32).
    """
    inputs = tf.convert_to_tensor(inputs, tf.float32)
    _check_pool(inputs, pool_size)
    units = _block_softmax(inputs, pool_size)[0]
    return units, _draw_units(units, pool_size, seed)[0]


def sample_hidden_given_pooling(inputs, pooling, pool_size, seed):
    """Hidden units given their pooling units: a block whose pooling unit is
    off has every unit off; one that is on has exactly one unit on, drawn with
    probabilities softmax(I) over its C^2 units (the max-pooling posterior
    conditioned on p_alpha). `inputs` 0 gives a uniform choice.
    -> hidden [n, H', W', K]."""
    inputs = tf.convert_to_tensor(inputs, tf.float32)
    _check_pool(inputs, pool_size)
    logits = block_logits(inputs, pool_size)
    on = tf.cast(pooling, tf.float32)[..., None] > 0.5
    units = tf.range(logits.shape[-1]) < logits.shape[-1] - 1  # [C*C + 1]: True for the units
    allowed = tf.equal(on, units)  # on -> the units only; off -> the "all off" state only
    one_hot = _sample_blocks(tf.where(allowed, logits, tf.fill(tf.shape(logits), -1e30)), seed)
    return from_blocks(one_hot[..., :-1], pool_size)


def unit_major_posterior(inputs):
    """The max-pooling softmax of blocks laid out unit-major (eqs. 6-7).

    `inputs[n, u, g]` is the bottom-up input of unit u of block g (any number
    of blocks per row, e.g. every block of every group of a patch of the
    hidden maps): each column g is one (U + 1)-way softmax over its U units
    and "all off" (logit 0), stabilized by m = max(0, max_u I_u). The few
    units are combined slice by slice (the CPU runs reductions and scans over
    a short middle axis several times slower).

    Arguments:
      inputs: [N, U, G] (U = C^2 units per block).
    Returns:
      (P(h_u = 1) [N, U, G], log(1 + sum_u exp(I_u)) [N, G]).
    """
    top = functools.reduce(tf.maximum, tf.unstack(inputs, axis=1), tf.zeros_like(inputs[:, 0]))
    units = tf.exp(inputs - top[:, None])
    total = tf.add_n([tf.exp(-top)] + tf.unstack(units, axis=1))
    return units / total[:, None], top + tf.math.log(total)


def sample_unit_major(probs, seed):
    """One draw of every block of `unit_major_posterior`'s probabilities [N, U, G]
    (the rest of each column's mass is "all off"), by inverting the cumulative
    distribution over the units with one uniform r per block: unit u is on iff
    F_{u-1} <= r < F_u. -> binary [N, U, G]."""
    units = tf.unstack(probs, axis=1)
    uniform = rng.uniform(tf.shape(units[0]), seed)
    cumulative, below, drawn = None, None, []
    for unit in units:
        cumulative = unit if cumulative is None else cumulative + unit
        now = uniform < cumulative
        drawn.append(tf.cast(now if below is None else now & ~below, tf.float32))
        below = now
    return tf.stack(drawn, 1)


def pooling_configurations(num_blocks, pool_size):
    """Every hidden configuration allowed by the pooling constraint, blockwise:
    [(C^2 + 1)^num_blocks, num_blocks, C*C] one-hot over each block's units
    (all zeros: the block is off). Built in NumPy (small models only)."""
    units = pool_size * pool_size
    count = (units + 1) ** num_blocks
    if count > MAX_ENUMERATED_STATES:
        raise ValueError(
            f"enumeration needs {count} constrained hidden configurations; expected at most "
            f"{MAX_ENUMERATED_STATES} (use AIS: method='ais')"
        )
    states = np.concatenate([np.eye(units, dtype=np.float32), np.zeros((1, units), np.float32)])
    codes = np.array(list(itertools.product(range(units + 1), repeat=num_blocks)), np.int64)
    return states[codes]
