"""Stateless random numbers drawn with the Philox algorithm everywhere.

TensorFlow's default (`alg="auto_select"`) is Philox in plain TensorFlow on
CPU/GPU, but inside XLA it becomes XLA's default bit generator, which on CPU
is an order of magnitude slower (benchmarks/README.md, random numbers under
XLA; `benchmarks/rng_speed.py`). Asking for Philox
explicitly makes XLA steps that sample (Gibbs sweeps, Gumbel-max pooling,
gradient-penalty interpolates) as fast as the plain ones. (XLA and plain
TensorFlow still draw different Philox streams from one seed: a seed repeats
a draw within one of the two, not across them.)
"""

import tensorflow as tf

__all__ = ["as_seed", "uniform", "normal", "bernoulli", "split", "fold_in"]

ALG = "philox"


def as_seed(seed):
    """Turns an integer seed (or None) into a stateless seed `[seed, 0]`.

    Arguments:
      seed: Python int, int scalar tensor, a `[2]` int tensor, or None (a
        fresh random seed).
    Returns:
      int32 tensor of shape [2], usable as TFP's and TensorFlow's stateless `seed=`.
    """
    if seed is None:
        return tf.random.uniform([2], minval=-(2**31), maxval=2**31 - 1, dtype=tf.int32)
    seed = tf.convert_to_tensor(seed)
    if seed.shape.rank == 1:
        return tf.cast(seed, tf.int32)
    return tf.stack([tf.cast(seed, tf.int32), tf.constant(0, tf.int32)])


def uniform(shape, seed, minval=0.0, maxval=1.0, dtype=tf.float32):
    """`tf.random.stateless_uniform` with Philox (int dtypes need `maxval`)."""
    return tf.random.stateless_uniform(shape, seed=seed, minval=minval, maxval=maxval, dtype=dtype, alg=ALG)


def normal(shape, seed, dtype=tf.float32):
    """Standard normal draws, `tf.random.stateless_normal` with Philox."""
    return tf.random.stateless_normal(shape, seed=seed, dtype=dtype, alg=ALG)


def bernoulli(probs, seed):
    """A binary sample (dtype and shape of `probs`) with P(1) = probs."""
    return tf.cast(uniform(tf.shape(probs), seed, dtype=probs.dtype) < probs, probs.dtype)


def split(seed, num=2):
    """`num` independent `[2]` seeds from one: -> int32 [num, 2]."""
    return tf.random.experimental.stateless_split(tf.cast(seed, tf.int32), num=num, alg=ALG)


def fold_in(seed, index):
    """A new `[2]` seed from `seed` and an integer `index`."""
    return tf.random.experimental.stateless_fold_in(seed, index, alg=ALG)
