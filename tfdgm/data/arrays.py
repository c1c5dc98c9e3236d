"""In-memory arrays as a `tf.data` pipeline of batches that `fit` can end at once.

Keras turns a NumPy array given to `fit` into a `tf.data` pipeline with
autotuning on. The iterator of such a pipeline can hold the end of a `fit`
call until the next tick of tf.data's autotuning thread, whose period doubles
from 10 ms (ticks at 2.55, 5.11, 10.23 s after the iterator starts): a call
whose epoch ended at 7 s returned at 10.8 s (benchmarks/README.md, RBM family;
measured on TF 2.21). A pipeline over arrays already in memory has nothing to
tune, so this one runs with autotuning off and ends when its last batch is
drawn.
"""

import math

import tensorflow as tf

__all__ = ["array_batches", "without_autotune"]


def without_autotune(dataset):
    """`dataset` with tf.data's autotuning off (its iterator then never waits
    for the autotuning thread when it is deleted)."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def array_batches(x, batch_size=32, shuffle=True):
    """Batches of the rows of `x`, as Keras' `fit` batches an array.

    Each iteration (epoch) draws a new random order of the rows when
    `shuffle` (a `tf.data` shuffle of the row indices, reshuffled per
    iteration; `keras.utils.set_random_seed` repeats the sequence of orders)
    and gathers each batch from the array, which is converted to a tensor
    once; the last batch is partial when `batch_size` does not divide the
    number of rows.

    Arguments:
      x: array [n, ...] (NumPy or tensor).
      batch_size: rows per batch.
      shuffle: a new order per epoch (True) or the array's order (False).
    Returns:
      `tf.data.Dataset` of [<= batch_size, ...] tensors (static
      [batch_size, ...] when it divides n) with a known cardinality of
      ceil(n / batch_size) batches.
    """
    data = tf.convert_to_tensor(x)
    count = int(data.shape[0])
    batch_size = int(batch_size)
    if count == 0 or batch_size < 1:
        raise ValueError(f"expected a non-empty array and batch_size >= 1, got {count} rows and {batch_size}")

    indices = tf.data.Dataset.range(count)
    if shuffle:  # a buffer of all the indices (not the rows): a uniform permutation, new per iteration
        indices = indices.shuffle(count, reshuffle_each_iteration=True)
    # When batch_size divides the rows every batch is full: say so in the
    # static shape (as Keras' own array batches do), which XLA needs for
    # shapes computed from the batch (e.g. a full-covariance posterior's).
    full = count % batch_size == 0
    batches = indices.batch(batch_size, drop_remainder=full).map(lambda rows: tf.gather(data, rows))
    options = tf.data.Options()
    options.autotune.enabled = False
    # Graph rewrites would serialize the pipeline, the whole array with it, per iterator.
    options.experimental_optimization.apply_default_optimizations = False
    batches = batches.prefetch(2).with_options(options)
    return batches.apply(tf.data.experimental.assert_cardinality(math.ceil(count / batch_size)))

