"""Per-example Jacobians for the autodiff checks, in one backward pass.

`tf.GradientTape.batch_jacobian` vectorizes its backward passes with pfor,
and in eager mode that conversion is traced anew on every call: 3-9 s for a
two-layer MAF on this project's CI machine. Here the batch is copied once
per output entry instead, and copy `i` carries the cotangent e_i, so one
forward and one backward pass over `outputs x batch` examples give every
row. Valid when examples do not interact, which holds for the networks and
bijectors checked (batch statistics of identical copies are the batch's own).
"""

import numpy as np
import tensorflow as tf

__all__ = ["batch_jacobian"]


def batch_jacobian(function, x, *others):
    """d function(x, *others)[b, *out] / d x[b, *in] for every example b.

    `others` (e.g. a context; tensors or arrays) are batch-major like `x` and
    are copied with it; `function` must treat the examples of a batch
    independently.
    -> [batch, *out_shape, *in_shape] as a NumPy array.
    """
    x = tf.convert_to_tensor(x, tf.float32)
    batch, in_shape = x.shape[0], x.shape[1:]
    out_shape = function(x, *others).shape[1:]
    size = int(np.prod(out_shape))

    def copies(value):  # [size * batch, ...]: copy i is rows i*batch .. (i+1)*batch-1
        tile = tf.tile if tf.is_tensor(value) else np.tile
        return tile(value, [size] + [1] * (len(value.shape) - 1))

    tiled = copies(x)
    with tf.GradientTape() as tape:
        tape.watch(tiled)
        out = tf.reshape(function(tiled, *map(copies, others)), [size * batch, size])
    cotangent = tf.repeat(tf.eye(size), batch, axis=0)  # row (i, b) = e_i
    rows = tape.gradient(out, tiled, output_gradients=cotangent)  # [(i, b), *in]
    rows = tf.reshape(rows, [size, batch, -1])
    return tf.reshape(tf.transpose(rows, [1, 0, 2]), [batch, *out_shape, *in_shape]).numpy()
