"""Causal dilated convolutions: causality, and fast generation's queues give
the same outputs as the full convolution."""

import numpy as np
import tensorflow as tf

from tfdgm.nn.causal_conv import CausalConv1D, WaveNetResidualBlock, push_queue


def _step_by_step(layer, x, context=None):
    queue = tf.zeros([x.shape[0], layer.queue_length, x.shape[-1]])
    outputs = []
    for t in range(x.shape[1]):
        if isinstance(layer, WaveNetResidualBlock):
            outputs.append(tf.concat(layer.step(queue, x[:, t], context), -1))
        else:
            outputs.append(layer.step(queue, x[:, t]))
        queue = push_queue(queue, x[:, t])
    return tf.stack(outputs, 1)


def test_causal_convolution_step_with_queue_equals_the_full_convolution():
    x = tf.constant(np.random.default_rng(0).normal(size=(2, 20, 3)).astype(np.float32))
    for kernel_size, dilation in ((2, 1), (3, 4), (1, 2)):
        layer = CausalConv1D(5, kernel_size, dilation)
        full = layer(x)
        np.testing.assert_allclose(_step_by_step(layer, x), full, rtol=1e-5, atol=1e-5)
        changed = x.numpy()
        changed[:, 10:] += 1.0
        np.testing.assert_allclose(layer(changed)[:, :10], full[:, :10], rtol=1e-6)  # no peeking ahead


def test_residual_block_step_equals_the_full_block_with_global_conditioning():
    block = WaveNetResidualBlock(residual_channels=4, skip_channels=3, kernel_size=2, dilation=3, context_dim=2)
    x = tf.constant(np.random.default_rng(1).normal(size=(2, 12, 4)).astype(np.float32))
    context = tf.constant([[1.0, 0.0], [0.0, 1.0]])
    residual, skip = block(x, context)
    np.testing.assert_allclose(_step_by_step(block, x, context), tf.concat([residual, skip], -1), rtol=1e-5,
                               atol=1e-5)
