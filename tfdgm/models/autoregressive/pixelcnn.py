"""PixelCNN and Gated PixelCNN: p(x) = prod_{i,c} p(x_{i,c} | x_<(i,c)) over
pixels in raster order and channels within a pixel, every conditional from
one masked convolutional pass; sampling pixel by pixel inside one compiled
`tf.while_loop` (GatedPixelCNN's reuses the vertical stacks row by row)."""

import tensorflow as tf

from tfdgm.distributions.pixel_outputs import (
    LIKELIHOODS,
    AutoregressiveModelDistribution,
    element_log_prob,
    element_sample,
    fold_in,
    num_params,
)
from tfdgm.models.autoregressive.conditioning import ClassConditional, class_context, labelled_export_signatures
from tfdgm.models.base import as_seed
from tfdgm.models.density import DensityModel
from tfdgm.nn.masked_conv import GatedPixelCNNBlock, MaskedConv2D, PixelCNNResidualBlock

__all__ = ["PixelCNN", "GatedPixelCNN"]


class _PixelModel(ClassConditional, DensityModel):
    """What PixelCNN and GatedPixelCNN share: outputs, log_prob, the sampler."""

    default_likelihood = "bernoulli"

    def __init__(self, event_shape=(8, 8, 1), num_filters=64, num_layers=5, kernel_size=3, first_kernel_size=7,
                 likelihood=None, num_levels=256, num_mixtures=5, num_classes=None, data_transform=None,
                 name=None, **kwargs):
        super().__init__(event_shape=event_shape, data_transform=data_transform, name=name, **kwargs)
        model_name = type(self).__name__
        likelihood = likelihood or self.default_likelihood
        if len(self.event_shape) != 3:
            raise ValueError(f"{model_name}: expected an image event_shape (H, W, C), got {self.event_shape}")
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"{model_name}: expected likelihood in {LIKELIHOODS}, got {likelihood!r}")
        for argument, value in (("num_filters", num_filters), ("num_layers", num_layers),
                                ("num_levels", num_levels), ("num_mixtures", num_mixtures)):
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{model_name}: expected {argument} a positive int, got {value!r}")
        for argument, value in (("kernel_size", kernel_size), ("first_kernel_size", first_kernel_size)):
            if int(value) != value or value < 1 or value % 2 == 0:
                raise ValueError(f"{model_name}: expected {argument} an odd positive int, got {value!r}")
        if num_classes is not None and (int(num_classes) != num_classes or num_classes < 1):
            raise ValueError(f"{model_name}: expected num_classes a positive int or None, got {num_classes!r}")
        self.num_filters = int(num_filters)
        self.num_layers = int(num_layers)
        self.kernel_size = int(kernel_size)
        self.first_kernel_size = int(first_kernel_size)
        self.likelihood = likelihood
        self.num_levels = 2 if likelihood == "bernoulli" else int(num_levels)
        self.num_mixtures = int(num_mixtures)
        self.num_classes = None if num_classes is None else int(num_classes)
        self.num_channels = self.event_shape[-1]
        self.num_params = num_params(likelihood, self.num_levels, self.num_mixtures)
        self._compiled_sampler = None
        self._compiled_step = None

    # ------------------------------------------------------------------ config
    data_kind = "binary"

    @classmethod
    def default_preprocess(cls, info, params=None):
        """Binarize for the Bernoulli likelihood; keep the integer levels for
        the categorical and logistic-mixture likelihoods (no preprocessing).
        Raises:
          ValueError: continuous data (these models need discrete levels).
        """
        likelihood = (params or {}).get("likelihood", cls.default_likelihood)
        if info.num_levels is None:
            raise ValueError(f"{cls.__name__} models discrete pixels, but dataset {info.name!r} is continuous; "
                             "choose a dataset with integer levels (e.g. digits, fashion_mnist)")
        return "binarize:static" if likelihood == "bernoulli" else None

    @classmethod
    def default_hyperparameters(cls, info):
        params = {"likelihood": cls.default_likelihood}
        if cls.default_likelihood != "bernoulli" and info.num_levels is not None:
            params["num_levels"] = int(info.num_levels)
        return params

    def hyperparameters(self):
        return {"num_filters": self.num_filters, "num_layers": self.num_layers, "kernel_size": self.kernel_size,
                "first_kernel_size": self.first_kernel_size, "likelihood": self.likelihood,
                "num_levels": self.num_levels, "num_mixtures": self.num_mixtures, "num_classes": self.num_classes}

    # ------------------------------------------------------------ the network
    def _output_layers(self):
        c = self.num_channels
        return (MaskedConv2D(self.num_filters, 1, num_groups=c, name="output_hidden"),
                MaskedConv2D(c * self.num_params, 1, num_groups=c, name="output_params"))

    def _build_output_layers(self):
        self.output_hidden.build((None, None, None, self.num_filters))
        self.output_params.build((None, None, None, self.num_filters))

    def _network_input(self, x):
        return 2.0 * x / float(self.num_levels - 1) - 1.0

    def _features(self, x, context):
        raise NotImplementedError

    def network(self, x, context=None):
        """Parameters of every conditional p(x_{i,c} | x_<(i,c)) in one pass.

        Arguments:
          x: [batch, H, W, C] values ({0, 1} or levels).
          context: None or one-hot classes [batch, num_classes].
        Returns:
          [batch, H, W, C, P] (P from `tfdgm.distributions.pixel_outputs.num_params`).
        """
        features = self._features(self._network_input(x), context)
        params = self.output_params(tf.nn.relu(self.output_hidden(tf.nn.relu(features))))
        return tf.reshape(params, tf.concat([tf.shape(x), [self.num_params]], 0))

    def _log_prob(self, x, one_hot):
        params = self.network(x, one_hot)
        return tf.reduce_sum(element_log_prob(params, x, self.likelihood, self.num_levels), axis=[1, 2, 3])

    def distribution(self, context=None):
        """An `AutoregressiveModelDistribution`: one-pass log_prob, compiled sampler."""
        self._ensure_built()
        name = type(self).__name__
        one_hot = class_context(context, self.num_classes, name, batch_size=1)  # one label: [1, C], broadcast
        return AutoregressiveModelDistribution(
            lambda x: self._log_prob(x, one_hot),
            lambda n, seed: self._sample(n, seed, class_context(context, self.num_classes, name, batch_size=n))[0],
            self.event_shape, name=name)

    # --------------------------------------------------------------- sampling
    def _sample_step(self, k, x, log_prob, seed, one_hot):
        """Draws element k (raster order, channel last) of every image from
        one network pass. -> (k + 1, x, log_prob + log p(x_k | x_<k))."""
        params = self.network(x, one_hot)
        # a gather, not a slice: XLA would treat slice offsets as compile-time constants
        params = tf.gather(tf.reshape(params, [-1, self.num_dims, self.num_params]), k, axis=1)  # [n, P]
        value = element_sample(params, fold_in(seed, k), self.likelihood, self.num_levels)
        log_prob = log_prob + element_log_prob(params, value, self.likelihood, self.num_levels)
        position = tf.reshape(tf.one_hot(k, self.num_dims, on_value=True, off_value=False), self.event_shape)
        return k + 1, tf.where(position, value[:, None, None, None], x), log_prob

    def _sample_loop(self, n, seed, one_hot):
        x = tf.zeros(tf.concat([tf.reshape(n, [1]), self.event_shape], 0))
        state = (tf.constant(0), x, tf.zeros(tf.reshape(n, [1])))
        _, x, log_prob = tf.while_loop(
            lambda k, x, log_prob: k < self.num_dims,
            lambda k, x, log_prob: self._sample_step(k, x, log_prob, seed, one_hot),
            state, maximum_iterations=self.num_dims)
        return x, log_prob

    def _sample(self, n, seed, one_hot, compiled=True):
        n = tf.convert_to_tensor(n, tf.int32)
        seed = as_seed(seed)
        if not compiled:
            # The reference: a Python loop over the H*W*C elements, each step
            # one XLA-compiled call (same random numbers as the loop below).
            if self._compiled_step is None:
                object.__setattr__(self, "_compiled_step", tf.function(self._sample_step, jit_compile=True))
            state = (tf.constant(0), tf.zeros(tf.concat([tf.reshape(n, [1]), self.event_shape], 0)),
                     tf.zeros(tf.reshape(n, [1])))
            for _ in range(self.num_dims):
                state = self._compiled_step(*state, seed, one_hot)
            return state[1], state[2]
        if not tf.executing_eagerly():  # traced into a caller's graph (export): demand no XLA there
            return self._sample_loop(n, seed, one_hot)
        if self._compiled_sampler is None:
            object.__setattr__(self, "_compiled_sampler", tf.function(self._sample_loop, jit_compile=True))
        return self._compiled_sampler(n, seed, one_hot)

    def sample_with_log_prob(self, n, seed=None, context=None, compiled=True):
        """Ancestral samples and the log-probability the sampler drew them
        with, sum_k log p(x_k | x_<k), accumulated inside the loop.

        Arguments:
          n: number of images.
          seed: int seed (same seed, same images), or None.
          context: a class label (int) or labels [n] for conditional models.
          compiled: one XLA-compiled `tf.while_loop` (default), or a plain
            Python loop over the H*W*C elements calling a compiled one-pixel
            step (for comparison; the same samples for the same seed).
        Returns:
          (samples [n, H, W, C], log_prob [n]).
        """
        self._ensure_built()
        one_hot = class_context(context, self.num_classes, type(self).__name__, batch_size=n)
        return self._sample(n, seed, one_hot, compiled)

    def sample(self, n, *, seed=None, context=None, compiled=True):
        """Draws `n` images pixel by pixel inside one compiled `tf.while_loop`
        (PixelCNN: H*W*C network passes; GatedPixelCNN: H passes of the
        vertical stacks and H*W*C one-row passes of the horizontal stacks).
        -> [n, H, W, C]."""
        return self.sample_with_log_prob(n, seed, context, compiled)[0]

    def export_signatures(self):
        return labelled_export_signatures(self)


class PixelCNN(_PixelModel):
    """PixelCNN (van den Oord et al. 2016a, Sec. 3.5): a 7x7 masked
    convolution of type A, `num_layers` residual blocks of type-B masked
    convolutions, two 1x1 masked layers and per-element outputs:

      p(x) = prod_i prod_c p(x_{i,c} | x_<i, x_{i,<c})   (eq. 1-2)

    with a Bernoulli (binary images), an L-way softmax (Sec. 2.2) or the
    discretized logistic mixture of PixelCNN++ (Salimans et al. 2017, eq. 2).
    Stacked masked convolutions leave a blind spot: pixels up and to the
    right of the current one beyond the diagonal never reach it (van den
    Oord et al. 2016b, Fig. 1); `GatedPixelCNN` removes it. A class label y
    adds a learned bias to every block (class-conditional PixelCNN).

    References:
      van den Oord, Kalchbrenner & Kavukcuoglu, "Pixel Recurrent Neural
      Networks", ICML 2016, https://arxiv.org/abs/1601.06759
      Salimans et al., "PixelCNN++", ICLR 2017, https://arxiv.org/abs/1701.05517

    Arguments:
      event_shape: (H, W, C).
      num_filters: channels of the residual stream (2h in the paper).
      num_layers: residual blocks.
      kernel_size: odd size of the blocks' masked convolutions (3).
      first_kernel_size: odd size of the first, type-A convolution (7).
      likelihood: "bernoulli" (binary images), "categorical" (L-way softmax
        over integer levels) or "logistic_mixture".
      num_levels: L, levels of the pixels (categorical, logistic_mixture).
      num_mixtures: mixture components of the logistic mixture.
      num_classes: class-conditional p(x | y) when set; the context is int
        labels [batch] or one-hot [batch, num_classes].
      data_transform, name: see `GenerativeModel`.

    Example:
      >>> model = PixelCNN(event_shape=(8, 8, 1), num_filters=16, num_layers=2)
      >>> model.log_prob(np.zeros([2, 8, 8, 1], np.float32)).shape
      TensorShape([2])
      >>> model.sample(3, seed=0).shape
      TensorShape([3, 8, 8, 1])
    """

    def __init__(self, event_shape=(8, 8, 1), num_filters=64, num_layers=5, kernel_size=3, first_kernel_size=7,
                 likelihood="bernoulli", num_levels=256, num_mixtures=5, num_classes=None, data_transform=None,
                 name=None, **kwargs):
        super().__init__(event_shape, num_filters, num_layers, kernel_size, first_kernel_size, likelihood,
                         num_levels, num_mixtures, num_classes, data_transform, name, **kwargs)
        c = self.num_channels
        self.input_conv = MaskedConv2D(self.num_filters, self.first_kernel_size, mask_type="A", num_groups=c,
                                       name="input_conv_A")
        self.blocks = [PixelCNNResidualBlock(self.num_filters, self.kernel_size, num_groups=c,
                                             context_dim=self.num_classes, name=f"residual_block_{i}")
                       for i in range(self.num_layers)]
        self.output_hidden, self.output_params = self._output_layers()

    def build(self, input_shape=None):
        self.input_conv.build((None, None, None, self.num_channels))
        for block in self.blocks:
            block.build((None, None, None, self.num_filters))
        self._build_output_layers()
        self.built = True

    def _features(self, x, context):
        h = self.input_conv(x)
        for block in self.blocks:
            h = block(h, context)
        return h


class GatedPixelCNN(_PixelModel):
    """Gated PixelCNN (van den Oord et al. 2016b): `num_layers` gated blocks
    with a vertical and a horizontal stack (Sec. 2.1-2.2, Fig. 2), so that
    every earlier pixel is in the receptive field (no blind spot), gated
    activations tanh(W_f * x) . sigmoid(W_g * x) (eq. 2) and class
    conditioning tanh(W_f * x + V_f y) . sigmoid(W_g * x + V_g y) (eq. 4,
    Sec. 2.3). Outputs as `PixelCNN`; the default likelihood is the 256-way
    softmax over 8-bit levels.

    References:
      van den Oord et al., "Conditional Image Generation with PixelCNN
      Decoders", NeurIPS 2016, https://arxiv.org/abs/1606.05328
      Salimans et al., "PixelCNN++", ICLR 2017 (logistic mixture output)

    Arguments:
      event_shape: (H, W, C).
      num_filters: feature maps of both stacks.
      num_layers: gated blocks.
      kernel_size: odd k of the blocks after the first (3).
      first_kernel_size: odd k of the first block (7).
      likelihood: "categorical" (default), "bernoulli" or "logistic_mixture".
      num_levels, num_mixtures, num_classes, data_transform, name: as `PixelCNN`.

    Example:
      >>> model = GatedPixelCNN(event_shape=(8, 8, 1), num_filters=16, num_layers=3, num_levels=17)
      >>> model.sample(2, seed=0).shape
      TensorShape([2, 8, 8, 1])
    """

    default_likelihood = "categorical"
    data_kind = "categorical"

    def __init__(self, event_shape=(8, 8, 1), num_filters=64, num_layers=5, kernel_size=3, first_kernel_size=7,
                 likelihood="categorical", num_levels=256, num_mixtures=5, num_classes=None, data_transform=None,
                 name=None, **kwargs):
        super().__init__(event_shape, num_filters, num_layers, kernel_size, first_kernel_size, likelihood,
                         num_levels, num_mixtures, num_classes, data_transform, name, **kwargs)
        c = self.num_channels
        self.blocks = [GatedPixelCNNBlock(self.num_filters, self.first_kernel_size if i == 0 else self.kernel_size,
                                          first=i == 0, num_groups=c, context_dim=self.num_classes,
                                          name=f"gated_block_{i}")
                       for i in range(self.num_layers)]
        self.output_hidden, self.output_params = self._output_layers()

    def build(self, input_shape=None):
        for i, block in enumerate(self.blocks):
            block.build((None, None, None, self.num_channels if i == 0 else self.num_filters))
        self._build_output_layers()
        self.built = True

    def _features(self, x, context):
        v, h = x, x
        for block in self.blocks:
            v, h = block(v, h, context)
        return h

    # --------------------------------------------------------------- sampling
    def _row_links(self, x, row, context):
        """What every block's horizontal stack receives from the rows above
        `row` (and the class): [batch, 1, W, 2F] per block, from one pass of
        the vertical stacks over x (rows >= `row` do not reach it)."""
        v, links = self._network_input(x), []
        for block in self.blocks:
            v, link = block.vertical_call(v, context)
            links.append(tf.gather(link, tf.reshape(row, [1]), axis=1))
        return links

    def _row_params(self, x_row, links):
        """Parameters of every element of one row from the horizontal stacks
        alone: x_row [batch, 1, W, C] -> [batch, W * C, P]."""
        h = self._network_input(x_row)
        for block, link in zip(self.blocks, links):
            h = block.horizontal_call(h, link)
        params = self.output_params(tf.nn.relu(self.output_hidden(tf.nn.relu(h))))
        return tf.reshape(params, [tf.shape(x_row)[0], -1, self.num_params])

    def _sample_loop(self, n, seed, one_hot):
        """Ancestral sampling that reuses the vertical stacks (cf. Ramachandran
        et al. 2017, "Fast Generation for Convolutional Autoregressive Models",
        which caches what later pixels reuse): the horizontal pre-activation at
        (i, j) takes rows < i only through `link` (van den Oord et al. 2016b,
        Sec. 2.1), so the vertical stacks run once per row (H passes) and each
        of the W * C elements of row i needs only the horizontal stacks on
        that one row, not the whole network. Elements are drawn in the same
        order with the same random numbers (`fold_in(seed, k)`, k the raster
        index) as the one-network-pass-per-element reference
        (`sample(..., compiled=False)`), so the two give the same images."""
        height, width = self.event_shape[0], self.event_shape[1]
        row_size = width * self.num_channels
        row_shape = tf.concat([tf.reshape(n, [1]), [1, width, self.num_channels]], 0)
        rows = tf.range(height)[None, :, None, None]

        def element(j, x_row, log_prob, links, row):
            params = tf.gather(self._row_params(x_row, links), j, axis=1)  # [n, P]
            k = row * row_size + j
            value = element_sample(params, fold_in(seed, k), self.likelihood, self.num_levels)
            log_prob = log_prob + element_log_prob(params, value, self.likelihood, self.num_levels)
            position = tf.reshape(tf.one_hot(j, row_size, on_value=True, off_value=False),
                                  [1, 1, width, self.num_channels])
            return j + 1, tf.where(position, value[:, None, None, None], x_row), log_prob

        def row_step(row, x, log_prob):
            links = self._row_links(x, row, one_hot)
            _, x_row, log_prob = tf.while_loop(
                lambda j, x_row, log_prob: j < row_size,
                lambda j, x_row, log_prob: element(j, x_row, log_prob, links, row),
                (tf.constant(0), tf.zeros(row_shape), log_prob), maximum_iterations=row_size)
            return row + 1, tf.where(tf.equal(rows, row), x_row, x), log_prob

        x = tf.zeros(tf.concat([tf.reshape(n, [1]), self.event_shape], 0))
        _, x, log_prob = tf.while_loop(
            lambda row, x, log_prob: row < height, row_step,
            (tf.constant(0), x, tf.zeros(tf.reshape(n, [1]))), maximum_iterations=height)
        return x, log_prob
