"""Dilated causal 1-D convolutions, WaveNet's gated residual block, and the
per-layer queues of fast generation.

A causal convolution with kernel size k and dilation d computes
y_t = b + sum_{j=0}^{k-1} W_j x_{t - (k-1-j) d} with zeros before t = 0, so
y_t never depends on the future (van den Oord et al. 2016, Sec. 2.1). For
generation one step at a time, each layer keeps a queue of its last (k-1) d
inputs (Paine et al. 2016): a new output then costs O(1) per layer instead of
recomputing the receptive field.

References:
  van den Oord et al., "WaveNet: A Generative Model for Raw Audio", 2016,
  https://arxiv.org/abs/1609.03499 (Sec. 2.1 causal dilated convolutions,
  2.3 gated activations eq. 2, 2.4 residual and skip connections, 2.5 global
  conditioning eq. 3)
  Paine et al., "Fast Wavenet Generation Algorithm", 2016,
  https://arxiv.org/abs/1611.09482 (convolution queues)
"""

import keras
import tensorflow as tf

__all__ = ["CausalConv1D", "WaveNetResidualBlock", "queue_length", "push_queue"]


def queue_length(kernel_size, dilation):
    """How many past inputs a causal layer needs: (k - 1) d."""
    return (int(kernel_size) - 1) * int(dilation)


def push_queue(queue, x_t):
    """Drops the oldest input of a queue and appends x_t.
    queue: [batch, L, C] (oldest first), x_t: [batch, C] -> [batch, L, C]."""
    if queue.shape[1] == 0:
        return queue
    return tf.concat([queue[:, 1:], x_t[:, None, :]], axis=1)


class CausalConv1D(keras.layers.Layer):
    """y_t = b + sum_j W_j x_{t-(k-1-j)d}, zero before the start
    (van den Oord et al. 2016, Sec. 2.1, Fig. 3).

    Arguments:
      filters: output channels.
      kernel_size: k.
      dilation: d.
      use_bias, kernel_initializer: as in `keras.layers.Conv1D`.

    Shapes:
      call: x: [batch, T, C] -> [batch, T, filters].
      step: queue [batch, (k-1)d, C] (the inputs at t-(k-1)d, ..., t-1),
        x_t [batch, C] -> y_t [batch, filters].
    """

    def __init__(self, filters, kernel_size=2, dilation=1, use_bias=True, kernel_initializer="glorot_uniform",
                 **kwargs):
        super().__init__(**kwargs)
        if kernel_size < 1 or dilation < 1:
            raise ValueError(f"CausalConv1D: expected kernel_size >= 1 and dilation >= 1, "
                             f"got {kernel_size} and {dilation}")
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.dilation = int(dilation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    @property
    def queue_length(self):
        return queue_length(self.kernel_size, self.dilation)

    def build(self, input_shape):
        self.in_channels = int(input_shape[-1])
        self.kernel = self.add_weight(name="kernel", shape=(self.kernel_size, self.in_channels, self.filters),
                                      initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros") if self.use_bias else None
        self.built = True

    def call(self, x):
        # A sum of k shifted matrix products rather than `tf.nn.conv1d(...,
        # dilations=d)`: TF's CPU kernel has no gradient for dilation > 1 outside
        # XLA ("Current CPU implementations do not yet support dilation rates
        # larger than 1" from Conv2DBackpropInput), and k is small (2 in WaveNet).
        length = tf.shape(x)[1]
        padded = tf.pad(x, [[0, 0], [self.queue_length, 0], [0, 0]])
        y = tf.add_n([
            tf.einsum("btc,cf->btf", padded[:, j * self.dilation:j * self.dilation + length], self.kernel[j])
            for j in range(self.kernel_size)
        ])
        return y if self.bias is None else y + self.bias

    def step(self, queue, x_t):
        """One output from the queue of past inputs and the current input."""
        taps = [queue[:, j * self.dilation] for j in range(self.kernel_size - 1)] + [x_t]
        y = tf.add_n([tf.matmul(tap, self.kernel[j]) for j, tap in enumerate(taps)])
        return y if self.bias is None else y + self.bias

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "dilation": self.dilation, "use_bias": self.use_bias}


class WaveNetResidualBlock(keras.layers.Layer):
    """z = tanh(W_f * x + V_f h) . sigmoid(W_g * x + V_g h) (eq. 2, and eq. 3
    with the global condition h); the residual output x + W_r z and the skip
    output W_s z (van den Oord et al. 2016, Sec. 2.3-2.5, Fig. 4).

    Arguments:
      residual_channels: channels R of the residual stream.
      skip_channels: channels S of the skip outputs.
      kernel_size, dilation: of the dilated causal convolution.
      context_dim: size of the global conditioning vector h, or None.
      residual_output: False for the last block, whose residual output
        nothing reads (it then returns x unchanged and has no W_r).

    Shapes:
      call: x [batch, T, R], context [batch, context_dim] ->
        (residual [batch, T, R], skip [batch, T, S]).
      step: queue [batch, (k-1)d, R], x_t [batch, R] -> ([batch, R], [batch, S]).
    """

    def __init__(self, residual_channels=32, skip_channels=64, kernel_size=2, dilation=1, context_dim=None,
                 residual_output=True, **kwargs):
        super().__init__(**kwargs)
        self.residual_channels = int(residual_channels)
        self.skip_channels = int(skip_channels)
        self.context_dim = context_dim
        self.dilated = CausalConv1D(2 * self.residual_channels, kernel_size, dilation, name="dilated_conv")
        self.residual_output = bool(residual_output)
        if self.residual_output:
            self.residual = keras.layers.Dense(self.residual_channels, name="residual_1x1")
        self.skip = keras.layers.Dense(self.skip_channels, name="skip_1x1")
        if context_dim is not None:
            self.condition = keras.layers.Dense(2 * self.residual_channels, use_bias=False, name="global_condition")

    @property
    def queue_length(self):
        return self.dilated.queue_length

    def build(self, input_shape):
        self.dilated.build((None, None, self.residual_channels))
        if self.residual_output:
            self.residual.build((None, self.residual_channels))
        self.skip.build((None, self.residual_channels))
        if self.context_dim is not None:
            self.condition.build((None, self.context_dim))
        self.built = True

    def _outputs(self, x, pre_activation, context, expand):
        if self.context_dim is not None:
            condition = self.condition(context)
            pre_activation = pre_activation + (condition[:, None, :] if expand else condition)
        f, g = tf.split(pre_activation, 2, axis=-1)
        z = tf.tanh(f) * tf.sigmoid(g)
        return (x + self.residual(z) if self.residual_output else x), self.skip(z)

    def call(self, x, context=None):
        return self._outputs(x, self.dilated(x), context, expand=True)

    def step(self, queue, x_t, context=None):
        return self._outputs(x_t, self.dilated.step(queue, x_t), context, expand=False)

    def get_config(self):
        return {**super().get_config(), "residual_channels": self.residual_channels,
                "skip_channels": self.skip_channels, "kernel_size": self.dilated.kernel_size,
                "dilation": self.dilated.dilation, "context_dim": self.context_dim,
                "residual_output": self.residual_output}
