"""Masked 2-D convolutions (PixelCNN types A and B) and the gated block with
vertical and horizontal stacks (Gated PixelCNN): the building blocks of
`tfdgm.models.PixelCNN` and `tfdgm.models.GatedPixelCNN`.

Pixels are ordered in raster order (row by row, left to right) and, within a
pixel, channel by channel (R before G before B). Feature maps are split into
`num_groups` equal channel groups, group g carrying information about image
channels <= g (type B) or < g (type A) at the current pixel (van den Oord et
al. 2016a, Sec. 3.4 and Fig. 2).

References:
  van den Oord, Kalchbrenner & Kavukcuoglu, "Pixel Recurrent Neural
  Networks", ICML 2016, https://arxiv.org/abs/1601.06759 (Sec. 3.4: masks A, B)
  van den Oord et al., "Conditional Image Generation with PixelCNN Decoders",
  NeurIPS 2016, https://arxiv.org/abs/1606.05328 (Sec. 2.1-2.3, Fig. 2: gated
  block, vertical and horizontal stacks, conditioning)
"""

import keras
import numpy as np
import tensorflow as tf

__all__ = ["channel_groups", "conv_mask", "MaskedConv2D", "PixelCNNResidualBlock", "GatedPixelCNNBlock", "shift_down"]

_MASK_TYPES = ("A", "B")
_MASK_KINDS = ("raster", "vertical")


def channel_groups(num_channels, num_groups, num_splits=1):
    """The image channel each feature map belongs to.

    Arguments:
      num_channels: number of feature maps.
      num_groups: number of image channels C.
      num_splits: the maps form this many equal parts (e.g. 2 for the tanh and
        sigmoid halves of a gate), each split into C consecutive groups.
    Returns:
      int array [num_channels] with values in [0, C).
    """
    if num_channels % num_splits:
        raise ValueError(f"channel_groups: expected num_channels divisible by {num_splits}, got {num_channels}")
    part = num_channels // num_splits
    return np.tile(np.arange(part) * num_groups // part, num_splits)


def conv_mask(kernel_size, in_groups, out_groups, mask_type="B", kind="raster"):
    """The 0/1 mask of a masked convolution kernel, [kh, kw, in, out].

    `kind="raster"` (PixelCNN): taps in the rows above the centre and left of
    the centre in its row are open; the centre tap connects input group g to
    output group g' when g' > g (type A) or g' >= g (type B); taps right of or
    below the centre are closed. `kind="vertical"` (Gated PixelCNN's vertical
    stack): all taps in the rows up to and including the centre row are open,
    for every channel (its output reaches the horizontal stack only shifted
    down one row, see `shift_down`).

    Arguments:
      kernel_size: (kh, kw), both odd.
      in_groups, out_groups: int arrays, the image channel of each input and
        output feature map (see `channel_groups`).
      mask_type: "A" (excludes the current channel) or "B" (includes it).
      kind: "raster" or "vertical".
    """
    kh, kw = kernel_size
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"conv_mask: expected odd kernel sizes, got {(kh, kw)}")
    if mask_type not in _MASK_TYPES:
        raise ValueError(f"conv_mask: expected mask_type in {_MASK_TYPES}, got {mask_type!r}")
    if kind not in _MASK_KINDS:
        raise ValueError(f"conv_mask: expected kind in {_MASK_KINDS}, got {kind!r}")
    in_groups, out_groups = np.asarray(in_groups), np.asarray(out_groups)
    mask = np.zeros([kh, kw, len(in_groups), len(out_groups)], np.float32)
    ch, cw = kh // 2, kw // 2
    if kind == "vertical":
        mask[: ch + 1] = 1.0
        return mask
    mask[:ch] = 1.0
    mask[ch, :cw] = 1.0
    if mask_type == "A":
        centre = out_groups[None, :] > in_groups[:, None]
    else:
        centre = out_groups[None, :] >= in_groups[:, None]
    mask[ch, cw] = centre.astype(np.float32)
    return mask


def shift_down(x):
    """Moves a feature map one row down (zeros in the first row):
    y[:, i] = x[:, i - 1]. x: [batch, H, W, C] -> same shape."""
    return tf.pad(x, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]


class MaskedConv2D(keras.layers.Layer):
    """A 'same'-padded 2-D convolution whose kernel is multiplied by a fixed
    mask (see `conv_mask`): y = conv(x, W * M) + b.

    References:
      van den Oord et al., "Pixel Recurrent Neural Networks", ICML 2016,
      Sec. 3.4 (masked convolution, masks A and B).

    Arguments:
      filters: output feature maps.
      kernel_size: int or (kh, kw), odd.
      mask_type: "A" or "B".
      kind: "raster" (PixelCNN) or "vertical" (Gated PixelCNN vertical stack).
      num_groups: image channels C (channel masking at the centre tap).
      input_splits, output_splits: how the input / output maps are split
        into C groups (see `channel_groups`; 2 for the halves of a gate).
      activation, use_bias, kernel_initializer: as in `keras.layers.Conv2D`.

    Shapes:
      x: [batch, H, W, in_channels] -> [batch, H, W, filters].

    Example:
      >>> conv = MaskedConv2D(8, 3, mask_type="A")
      >>> conv(np.zeros([1, 4, 4, 1], np.float32)).shape
      TensorShape([1, 4, 4, 8])
    """

    def __init__(self, filters, kernel_size=3, mask_type="B", kind="raster", num_groups=1, input_splits=1,
                 output_splits=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        self.mask_type = mask_type
        self.kind = kind
        self.num_groups = int(num_groups)
        self.input_splits = int(input_splits)
        self.output_splits = int(output_splits)
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        conv_mask(self.kernel_size, [0], [0], mask_type, kind)  # validates the arguments

    def build(self, input_shape):
        in_channels = int(input_shape[-1])
        # A NumPy array, made a constant in whichever graph `call` runs: a
        # tensor made here would belong to the graph that built the layer.
        self.mask = np.asarray(conv_mask(
            self.kernel_size,
            channel_groups(in_channels, self.num_groups, self.input_splits),
            channel_groups(self.filters, self.num_groups, self.output_splits),
            self.mask_type, self.kind))
        # The taps the mask leaves open lie in a box (rows up to the centre,
        # columns up to the centre for a 1 x k horizontal kernel); `call`
        # convolves with that box alone and pads the input so the output is
        # the 'same'-padded masked convolution: the closed rows and columns
        # (a third of a 3 x 3 vertical or a 1 x 3 horizontal kernel) cost no
        # multiply-adds. The box always holds the centre tap, so no pad is
        # negative.
        open_rows, open_columns = np.nonzero(self.mask.any(axis=(2, 3)))
        ch, cw = self.kernel_size[0] // 2, self.kernel_size[1] // 2
        r0, r1 = min([ch, *open_rows]), max([ch, *open_rows])
        c0, c1 = min([cw, *open_columns]), max([cw, *open_columns])
        self._box = (slice(r0, r1 + 1), slice(c0, c1 + 1))
        self._box_mask = np.ascontiguousarray(self.mask[self._box])
        self._padding = [[0, 0], [int(ch - r0), int(r1 - ch)], [int(cw - c0), int(c1 - cw)], [0, 0]]
        self.kernel = self.add_weight(name="kernel", shape=(*self.kernel_size, in_channels, self.filters),
                                      initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros") if self.use_bias else None
        self.built = True

    def call(self, x):
        kernel = tf.convert_to_tensor(self.kernel)[self._box]  # the compute dtype under a mixed policy
        kernel = kernel * tf.cast(self._box_mask, kernel.dtype)
        if kernel.shape[0] == 1 and kernel.shape[1] == 1:
            # a 1 x 1 convolution is a matrix product over the last axis
            y = tf.reshape(tf.matmul(tf.reshape(x, [-1, kernel.shape[2]]), kernel[0, 0]),
                           tf.concat([tf.shape(x)[:-1], [self.filters]], 0))
        else:
            y = tf.nn.conv2d(x, kernel, strides=1, padding=self._padding)
        if self.bias is not None:
            y = y + self.bias
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "mask_type": self.mask_type, "kind": self.kind, "num_groups": self.num_groups,
                "input_splits": self.input_splits, "output_splits": self.output_splits,
                "activation": keras.activations.serialize(self.activation), "use_bias": self.use_bias}


def _gate(x):
    """tanh(x_f) * sigmoid(x_g) of the two halves of the last axis
    (van den Oord et al. 2016b, eq. 2)."""
    f, g = tf.split(x, 2, axis=-1)
    return tf.tanh(f) * tf.sigmoid(g)


class GatedPixelCNNBlock(keras.layers.Layer):
    """One gated layer with a vertical and a horizontal stack (van den Oord
    et al. 2016b, Sec. 2.1-2.3, Fig. 2):

      v' = tanh(W_f,v * v + V_f y) . sigmoid(W_g,v * v + V_g y)
      h' = h + W_1x1 [tanh(W_f,h * h + U_f shift(W_v * v + V_v y) + V_f y)
                      . sigmoid(W_g,h * h + U_g shift(W_v * v + V_v y) + V_g y)]

    The vertical stack (a k x k kernel open on the rows up to the centre)
    sees every pixel above and at the current row; it reaches the horizontal
    stack only through `shift_down`, so the horizontal output at (i, j) sees
    rows < i (all columns within the growing receptive field) and, through a
    1 x k raster-masked kernel, pixels (i, < j): no blind spot (eq. 2 with
    y the class embedding, Sec. 2.3). The first block uses mask type A and no
    residual connection in the horizontal stack.

    Arguments:
      filters: feature maps F of both stacks.
      kernel_size: odd k.
      first: the first block (mask A on the horizontal stack, no residual).
      num_groups: image channels C.
      context_dim: size of the conditioning vector y, or None.

    Shapes:
      v, h: [batch, H, W, F] (C channels for the first block), y:
      [batch, context_dim] -> (v', h'), each [batch, H, W, F].
    """

    def __init__(self, filters, kernel_size=3, first=False, num_groups=1, context_dim=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.first = bool(first)
        self.num_groups = int(num_groups)
        self.context_dim = context_dim
        f, k, c = self.filters, self.kernel_size, self.num_groups
        self.vertical = MaskedConv2D(2 * f, (k, k), kind="vertical", num_groups=c, output_splits=2, name="vertical")
        self.horizontal = MaskedConv2D(2 * f, (1, k), mask_type="A" if first else "B", num_groups=c,
                                       output_splits=2, name="horizontal")
        self.link = keras.layers.Dense(2 * f, name="vertical_to_horizontal")
        self.output_conv = MaskedConv2D(f, 1, mask_type="B", num_groups=c, name="horizontal_output")
        if context_dim is not None:
            self.vertical_context = keras.layers.Dense(2 * f, use_bias=False, name="vertical_context")
            self.horizontal_context = keras.layers.Dense(2 * f, use_bias=False, name="horizontal_context")

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.vertical.build((None, None, None, channels))
        self.horizontal.build((None, None, None, channels))
        self.link.build((None, 2 * self.filters))
        self.output_conv.build((None, None, None, self.filters))
        if self.context_dim is not None:
            self.vertical_context.build((None, self.context_dim))
            self.horizontal_context.build((None, self.context_dim))
        self.built = True

    def vertical_call(self, v, context=None):
        """The vertical stack alone: (v', link), where link = W_v shift(W_v,v * v
        + V_v y) + V_h y is everything the horizontal pre-activation at
        (i, j) receives from rows < i and from the class (Sec. 2.1-2.3).
        v: [batch, H, W, F] -> ([batch, H, W, F], [batch, H, W, 2F])."""
        v_pre = self.vertical(v)
        if self.context_dim is not None:
            v_pre = v_pre + self.vertical_context(context)[:, None, None, :]
        link = self.link(shift_down(v_pre))
        if self.context_dim is not None:
            link = link + self.horizontal_context(context)[:, None, None, :]
        return _gate(v_pre), link

    def horizontal_call(self, h, link):
        """The horizontal stack given `link` from `vertical_call`: h' = h +
        W_1x1 gate(W_h * h + link). It reads only the row it is given, so a
        sampler can run it on one row [batch, 1, W, F] with that row's link
        [batch, 1, W, 2F]."""
        h_out = self.output_conv(_gate(self.horizontal(h) + link))
        return h_out if self.first else h + h_out

    def call(self, v, h, context=None):
        v_out, link = self.vertical_call(v, context)
        return v_out, self.horizontal_call(h, link)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "first": self.first, "num_groups": self.num_groups, "context_dim": self.context_dim}


class PixelCNNResidualBlock(keras.layers.Layer):
    """PixelCNN's residual block (van den Oord et al. 2016a, Sec. 3.3,
    Fig. 5): x + 1x1(ReLU(k x k_B(ReLU(1x1(ReLU(x)) + V y)))), every
    convolution masked (type B) so the block keeps the autoregressive order.
    It stacks plain masked convolutions, so the receptive field has the blind
    spot of Fig. 1 of van den Oord et al. 2016b (pixels up and to the right).

    Arguments:
      filters: channels of the residual stream (2h in the paper); the inner
        convolutions have filters // 2.
      kernel_size: odd k of the inner masked convolution.
      num_groups: image channels C.
      context_dim: size of the conditioning vector y, or None.

    Shapes:
      x: [batch, H, W, filters], y: [batch, context_dim] -> [batch, H, W, filters].
    """

    def __init__(self, filters, kernel_size=3, num_groups=1, context_dim=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.num_groups = int(num_groups)
        self.context_dim = context_dim
        inner = max(self.filters // 2, self.num_groups)
        self.reduce = MaskedConv2D(inner, 1, num_groups=num_groups, name="reduce_1x1")
        self.masked = MaskedConv2D(inner, kernel_size, num_groups=num_groups, name="masked")
        self.expand = MaskedConv2D(self.filters, 1, num_groups=num_groups, name="expand_1x1")
        if context_dim is not None:
            self.condition = keras.layers.Dense(inner, use_bias=False, name="condition")

    def build(self, input_shape):
        inner = self.reduce.filters
        self.reduce.build((None, None, None, self.filters))
        self.masked.build((None, None, None, inner))
        self.expand.build((None, None, None, inner))
        if self.context_dim is not None:
            self.condition.build((None, self.context_dim))
        self.built = True

    def call(self, x, context=None):
        h = self.reduce(tf.nn.relu(x))
        if self.context_dim is not None:
            h = h + self.condition(context)[:, None, None, :]
        h = self.masked(tf.nn.relu(h))
        return x + self.expand(tf.nn.relu(h))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "num_groups": self.num_groups, "context_dim": self.context_dim}
