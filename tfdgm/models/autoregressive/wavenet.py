"""WaveNet: p(x) = prod_t p(x_t | x_<t) over mu-law audio levels from dilated
causal convolutions, with naive and fast (queue-based) generation."""

import keras
import tensorflow as tf

from tfdgm.distributions.pixel_outputs import AutoregressiveModelDistribution, element_log_prob, element_sample, fold_in
from tfdgm.models.autoregressive.conditioning import ClassConditional, class_context, labelled_export_signatures
from tfdgm.models.base import as_seed
from tfdgm.models.density import DensityModel
from tfdgm.nn.causal_conv import CausalConv1D, WaveNetResidualBlock, push_queue

__all__ = ["WaveNet", "receptive_field"]


def receptive_field(dilations, kernel_size=2, initial_kernel_size=2):
    """Number of past samples x_{t-R}, ..., x_{t-1} that p(x_t | x_<t) sees:
    R = (k_0 - 1) + sum_l (k - 1) d_l + 1 (the input is shifted by one step).
    E.g. dilations 1, 2, ..., 512 with k = k_0 = 2 give R = 1024."""
    return (int(initial_kernel_size) - 1) + sum((int(kernel_size) - 1) * int(d) for d in dilations) + 1


class WaveNet(ClassConditional, DensityModel):
    """WaveNet (van den Oord et al. 2016) over sequences of `num_levels`
    integer levels (mu-law companded audio, `tfdgm.data.audio`):

      p(x) = prod_t Categorical(x_t; softmax(f(x_{t-R}, ..., x_{t-1}, h)))  (eq. 1)

    The input x_<t enters one-hot, shifted one step to the right, through a
    causal convolution; then residual blocks of dilated causal convolutions
    with gated activations tanh(W_f * x + V_f h) . sigmoid(W_g * x + V_g h)
    (eq. 2-3, h a global class/speaker condition), whose skip outputs are
    summed, ReLU, 1x1, ReLU, 1x1 into a 256-way softmax (Sec. 2.2-2.5,
    Fig. 4). Dilations double within a block and blocks repeat: 1, 2, ...,
    2^(num_layers-1), 1, 2, ... (Sec. 2.1); the receptive field is
    `receptive_field(model.dilations)`.

    Generation: `sample(..., method="fast")` keeps, for each layer, a queue
    of its last (k-1) d inputs (Paine et al. 2016), so each new sample costs
    O(layers); `method="naive"` recomputes the network on the last R inputs
    for every sample. Both draw the same samples for the same seed.

    References:
      van den Oord et al., "WaveNet: A Generative Model for Raw Audio", 2016,
      https://arxiv.org/abs/1609.03499
      Paine et al., "Fast Wavenet Generation Algorithm", 2016,
      https://arxiv.org/abs/1611.09482

    Arguments:
      event_shape: (T,), samples per sequence.
      num_levels: L, levels of the (mu-law) quantized signal (256).
      residual_channels: channels of the residual stream.
      skip_channels: channels of the skip outputs and the output layers.
      num_blocks: repetitions of the dilation pattern.
      num_layers: layers per block (dilations 1 .. 2^(num_layers-1)).
      dilations: explicit list of dilations (overrides num_blocks/num_layers).
      kernel_size: k of the dilated convolutions (2).
      initial_kernel_size: k_0 of the first causal convolution (2).
      num_classes: global conditioning on a class (speaker) label when set.
      data_transform, name: see `GenerativeModel`.

    Shapes:
      x: [batch, T] levels in {0, ..., L-1} -> log_prob [batch];
      sample(n) -> [n, T].

    Example:
      >>> model = WaveNet(event_shape=(64,), residual_channels=8, skip_channels=8, num_layers=3)
      >>> model.sample(2, seed=0).shape
      TensorShape([2, 64])
    """

    data_kind = "categorical"

    def __init__(self, event_shape=(4096,), num_levels=256, residual_channels=32, skip_channels=64, num_blocks=2,
                 num_layers=9, dilations=None, kernel_size=2, initial_kernel_size=2, num_classes=None,
                 data_transform=None, name=None, **kwargs):
        super().__init__(event_shape=event_shape, data_transform=data_transform, name=name, **kwargs)
        if len(self.event_shape) != 1:
            raise ValueError(f"WaveNet: expected event_shape (T,), got {self.event_shape}")
        for argument, value in (("num_levels", num_levels), ("residual_channels", residual_channels),
                                ("skip_channels", skip_channels), ("num_blocks", num_blocks),
                                ("num_layers", num_layers), ("kernel_size", kernel_size),
                                ("initial_kernel_size", initial_kernel_size)):
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"WaveNet: expected {argument} a positive int, got {value!r}")
        if dilations is None:
            dilations = [2 ** i for i in range(int(num_layers))] * int(num_blocks)
        dilations = [int(d) for d in dilations]
        if not dilations or min(dilations) < 1:
            raise ValueError(f"WaveNet: expected dilations as a list of positive ints, got {dilations!r}")
        if num_classes is not None and (int(num_classes) != num_classes or num_classes < 1):
            raise ValueError(f"WaveNet: expected num_classes a positive int or None, got {num_classes!r}")
        self.num_levels = int(num_levels)
        self.residual_channels = int(residual_channels)
        self.skip_channels = int(skip_channels)
        self.num_blocks = int(num_blocks)
        self.num_layers = int(num_layers)
        self.dilations = dilations
        self.kernel_size = int(kernel_size)
        self.initial_kernel_size = int(initial_kernel_size)
        self.num_classes = None if num_classes is None else int(num_classes)
        self.receptive_field = receptive_field(dilations, self.kernel_size, self.initial_kernel_size)
        self.input_conv = CausalConv1D(self.residual_channels, self.initial_kernel_size, name="input_causal_conv")
        self.blocks = [WaveNetResidualBlock(self.residual_channels, self.skip_channels, self.kernel_size, d,
                                            context_dim=self.num_classes, residual_output=i < len(dilations) - 1,
                                            name=f"residual_block_{i}")
                       for i, d in enumerate(dilations)]
        self.output_hidden = keras.layers.Dense(self.skip_channels, name="output_1x1")
        self.output_logits = keras.layers.Dense(self.num_levels, name="output_logits")
        object.__setattr__(self, "_compiled", {})  # compiled samplers, not tracked by Keras

    # ------------------------------------------------------------------ config
    @classmethod
    def default_preprocess(cls, info, params=None):
        """No preprocessing: WaveNet models the integer (mu-law) levels."""
        if info.num_levels is None:
            raise ValueError(f"WaveNet models quantized samples, but dataset {info.name!r} is continuous; "
                             "use a mu-law dataset such as 'speech'")
        return None

    @classmethod
    def default_hyperparameters(cls, info):
        return {} if info.num_levels is None else {"num_levels": int(info.num_levels)}

    def hyperparameters(self):
        return {"num_levels": self.num_levels, "residual_channels": self.residual_channels,
                "skip_channels": self.skip_channels, "num_blocks": self.num_blocks, "num_layers": self.num_layers,
                "dilations": list(self.dilations), "kernel_size": self.kernel_size,
                "initial_kernel_size": self.initial_kernel_size, "num_classes": self.num_classes}

    def build(self, input_shape=None):
        self.input_conv.build((None, None, self.num_levels))
        for block in self.blocks:
            block.build((None, None, self.residual_channels))
        self.output_hidden.build((None, self.skip_channels))
        self.output_logits.build((None, self.skip_channels))
        self.built = True

    # ------------------------------------------------------------ the network
    def _one_hot_inputs(self, x):
        """The network input at t is x_{t-1} one-hot (zeros at t = 0)."""
        levels = tf.cast(tf.clip_by_value(tf.round(x), 0.0, self.num_levels - 1.0), tf.int32)
        one_hot = tf.one_hot(levels, self.num_levels)
        return tf.pad(one_hot, [[0, 0], [1, 0], [0, 0]])[:, :-1]

    def _head(self, skip):
        return self.output_logits(tf.nn.relu(self.output_hidden(tf.nn.relu(skip))))

    def network(self, inputs, context=None, valid=None):
        """Logits of p(x_t | x_<t) at every t from the (already shifted) inputs.

        Arguments:
          inputs: [batch, T, L] one-hot inputs, x_{t-1} at position t.
          context: None or one-hot [batch, num_classes].
          valid: optional [batch or 1, T, 1] 0/1 mask: positions before the
            start of the signal, whose layer inputs are zero (as the causal
            zero padding makes them in a pass over the whole signal).
        Returns:
          [batch, T, L] logits.
        """
        h = self.input_conv(inputs)
        skip = 0.0
        for block in self.blocks:
            if valid is not None:
                h = h * valid
            h, s = block(h, context)
            skip = skip + s
        return self._head(skip)

    def logits(self, x, context=None):
        """x: [batch, T] levels -> [batch, T, L] logits of every conditional (one pass)."""
        self._ensure_built()
        one_hot = class_context(context, self.num_classes, "WaveNet", batch_size=1)  # one label: [1, C], broadcast
        return self.network(self._one_hot_inputs(tf.convert_to_tensor(x, tf.float32)), one_hot)

    def _log_prob(self, x, one_hot):
        logits = self.network(self._one_hot_inputs(x), one_hot)
        return tf.reduce_sum(element_log_prob(logits, x, "categorical", self.num_levels), -1)

    def distribution(self, context=None):
        """An `AutoregressiveModelDistribution`: one-pass log_prob, fast sampler."""
        self._ensure_built()
        one_hot = class_context(context, self.num_classes, "WaveNet", batch_size=1)  # one label: [1, C], broadcast
        return AutoregressiveModelDistribution(
            lambda x: self._log_prob(x, one_hot),
            lambda n, seed: self._generate(
                n, seed, class_context(context, self.num_classes, "WaveNet", batch_size=n), "fast")[0],
            self.event_shape, name="WaveNet")

    # ------------------------------------------------------------- generation
    def _draw(self, logits, seed, t):
        value = element_sample(logits, fold_in(seed, t), "categorical", self.num_levels)
        return value, element_log_prob(logits, value, "categorical", self.num_levels)

    def _fast_loop(self, n, seed, one_hot, length):
        """Fast generation (Paine et al. 2016): per-layer queues of past inputs."""
        queues = [tf.zeros([n, self.input_conv.queue_length, self.num_levels])]
        queues += [tf.zeros([n, block.queue_length, self.residual_channels]) for block in self.blocks]

        def step(t, previous, queues, samples, log_prob):
            x_t = previous  # one-hot of x_{t-1}, zeros at t = 0
            new_queues = [push_queue(queues[0], x_t)]
            h = self.input_conv.step(queues[0], x_t)
            skip = 0.0
            for block, queue in zip(self.blocks, queues[1:]):
                new_queues.append(push_queue(queue, h))
                h, s = block.step(queue, h, one_hot)
                skip = skip + s
            value, value_log_prob = self._draw(self._head(skip), seed, t)
            samples = samples.write(t, value)
            return (t + 1, tf.one_hot(tf.cast(value, tf.int32), self.num_levels), new_queues, samples,
                    log_prob + value_log_prob)

        state = (tf.constant(0), tf.zeros([n, self.num_levels]), queues,
                 tf.TensorArray(tf.float32, size=length), tf.zeros([n]))
        _, _, _, samples, log_prob = tf.while_loop(lambda t, *_: t < length, step, state, maximum_iterations=length)
        return tf.transpose(samples.stack()), log_prob

    def _naive_loop(self, n, seed, one_hot, length):
        """Naive generation: for every sample, the whole network over the
        last R inputs (positions before the start masked as zero padding)."""
        window = self.receptive_field
        offsets = tf.range(window) - (window - 1)  # window positions relative to t

        def step(t, padded, log_prob):
            # padded[:, window - 1 + s] holds the one-hot input at time s (= x_{s-1}).
            inputs = tf.slice(padded, tf.stack([0, t, 0]), [-1, window, -1])
            valid = tf.cast(t + offsets >= 0, tf.float32)[None, :, None]
            logits = self.network(inputs, one_hot, valid)[:, -1]
            value, value_log_prob = self._draw(logits, seed, t)
            update = tf.one_hot(tf.cast(value, tf.int32), self.num_levels)[:, None, :]
            position = tf.one_hot(t + window, window + length)[None, :, None] > 0
            padded = tf.where(position, update, padded)
            return t + 1, padded, log_prob + value_log_prob

        padded = tf.zeros([n, window + length, self.num_levels])
        _, padded, log_prob = tf.while_loop(lambda t, *_: t < length, step, (tf.constant(0), padded, tf.zeros([n])),
                                            maximum_iterations=length)
        samples = tf.cast(tf.argmax(padded[:, window:], -1), tf.float32)  # input t + 1 is x_t
        return samples, log_prob

    def _generate(self, n, seed, one_hot, method="fast", length=None):
        if method not in ("fast", "naive"):
            raise ValueError(f"WaveNet: expected method 'fast' or 'naive', got {method!r}")
        length = self.event_shape[0] if length is None else int(length)
        if not tf.executing_eagerly():  # traced into a caller's graph (export): demand no XLA there
            loop = self._fast_loop if method == "fast" else self._naive_loop
            return loop(tf.convert_to_tensor(n, tf.int32), as_seed(seed), one_hot, length)
        key = (method, length)
        if key not in self._compiled:
            loop = self._fast_loop if method == "fast" else self._naive_loop
            self._compiled[key] = tf.function(lambda n, seed, one_hot: loop(n, seed, one_hot, length),
                                              jit_compile=True)
        return self._compiled[key](tf.convert_to_tensor(n, tf.int32), as_seed(seed), one_hot)

    def sample_with_log_prob(self, n, seed=None, context=None, method="fast", length=None):
        """Generates `n` sequences and the log-probability the sampler drew
        them with, sum_t log p(x_t | x_<t).

        Arguments:
          n: number of sequences.
          seed: int seed; "fast" and "naive" give the same samples for a seed.
          context: class label (int) or labels [n] for a conditional model.
          method: "fast" (per-layer queues, O(layers) per sample) or "naive"
            (the network over the receptive field for every sample).
          length: samples per sequence (default T of `event_shape`).
        Returns:
          (samples [n, length] levels, log_prob [n]).
        """
        self._ensure_built()
        one_hot = class_context(context, self.num_classes, "WaveNet", batch_size=n)
        return self._generate(n, seed, one_hot, method, length)

    def sample(self, n, *, seed=None, context=None, method="fast", length=None):
        """Generates `n` sequences by fast generation in one compiled loop. -> [n, T]."""
        return self.sample_with_log_prob(n, seed, context, method, length)[0]

    def export_signatures(self):
        return labelled_export_signatures(self)
