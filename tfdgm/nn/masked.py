"""Masked dense layers and MADE's masks (Germain et al. 2015): the building
block of MADE, MAF and IAF conditioners.

References:
  Germain, Gregor, Murray and Larochelle, "MADE: Masked Autoencoder for
  Distribution Estimation", ICML 2015, https://arxiv.org/abs/1502.03509
  (Sec. 4: degrees and masks, "order-agnostic" and
  "connectivity-agnostic" training).
"""

import keras
import numpy as np
import tensorflow as tf

__all__ = [
    "MaskedDense",
    "input_order",
    "input_degrees",
    "hidden_degrees",
    "made_masks",
    "block_plan",
    "MaskResampling",
]

_ORDERS = ("natural", "reversed", "random")
_HIDDEN_DEGREES = ("equal", "random")


def input_order(num_inputs, order="natural", seed=None):
    """The autoregressive order of the inputs as a permutation of `range(num_inputs)`.

    Arguments:
      num_inputs: D, the number of autoregressive inputs.
      order: "natural" (0, 1, ..., D-1), "reversed", "random" (a permutation
        drawn with `seed`), or a sequence that is a permutation of range(D)
        listing the inputs from first to last.
      seed: integer seed of the "random" order.
    Returns:
      int array [D]: `order[k]` is the k-th input in the ordering.
    Raises:
      ValueError: if `order` is not one of the above.
    """
    if isinstance(order, str):
        if order == "natural":
            return np.arange(num_inputs)
        if order == "reversed":
            return np.arange(num_inputs)[::-1].copy()
        if order == "random":
            return np.random.RandomState(seed).permutation(num_inputs)
        raise ValueError(f"expected order in {_ORDERS} or a permutation of range({num_inputs}), got {order!r}")
    permutation = np.asarray(order)
    if permutation.shape != (num_inputs,) or sorted(permutation.tolist()) != list(range(num_inputs)):
        raise ValueError(
            f"expected order as a permutation of range({num_inputs}), got {np.asarray(order).tolist()!r}"
        )
    return permutation.astype(np.int64)


def input_degrees(order):
    """MADE's input degrees m^0(d) in {1, ..., D}: 1 + the position of input d in `order`.

    Arguments:
      order: int array [D], a permutation (see `input_order`).
    Returns:
      int array [D].
    """
    order = np.asarray(order)
    degrees = np.empty(len(order), np.int64)
    degrees[order] = np.arange(1, len(order) + 1)
    return degrees


def hidden_degrees(num_units, previous_degrees, num_inputs, method="equal", rng=None):
    """Degrees m^l(k) of a hidden layer (Germain et al. 2015, Sec. 4).

    Each unit's degree lies in [min_k' m^{l-1}(k'), D - 1], so that every unit
    reaches at least one output. "random" draws it uniformly from that range
    (the paper); "equal" is deterministic: a layer at least as wide as the
    range cycles through it (every degree gets nearly the same number of
    units), a narrower one spreads its degrees evenly from one end of the
    range to the other, so that late outputs still see late inputs (cycling
    would stop at degree `num_units`: with 512 units on 784 inputs no output
    would see inputs 513-783).

    Arguments:
      num_units: width of the layer.
      previous_degrees: int array, the degrees of the layer below.
      num_inputs: D.
      method: "equal" or "random".
      rng: `np.random.RandomState` for "random".
    Returns:
      int array [num_units].
    """
    low = int(np.min(previous_degrees))
    high = max(low, num_inputs - 1)
    if method == "equal":
        if num_units >= high - low + 1:
            return low + np.arange(num_units) % (high - low + 1)
        return np.round(np.linspace(low, high, num_units)).astype(np.int64)
    if method == "random":
        rng = rng if rng is not None else np.random.RandomState()
        return rng.randint(low, high + 1, size=num_units)
    raise ValueError(f"expected hidden_degrees in {_HIDDEN_DEGREES}, got {method!r}")


def made_masks(in_degrees, layer_degrees, out_degrees):
    """MADE's masks from the degrees (Germain et al. 2015, Sec. 4).

    Hidden layers: M^{W^l}[k', k] = 1[m^l(k) >= m^{l-1}(k')];
    output layer:  M^V[k, d]      = 1[m^0(d) > m^L(k)] (strict, so output d
    never sees input d nor any input after it). Context inputs take degree 0
    and so reach every hidden unit.

    Arguments:
      in_degrees: int array [num_in], degrees of the network inputs.
      layer_degrees: list of int arrays, one per hidden layer.
      out_degrees: int array [num_out], degrees of the outputs.
    Returns:
      list of float32 masks, `[num_in_l, num_out_l]` each (kernel layout),
      one per hidden layer and one for the output layer.
    """
    masks = []
    previous = np.asarray(in_degrees)
    for degrees in layer_degrees:
        masks.append((np.asarray(degrees)[None, :] >= previous[:, None]).astype(np.float32))
        previous = np.asarray(degrees)
    masks.append((np.asarray(out_degrees)[None, :] > previous[:, None]).astype(np.float32))
    return masks


def block_plan(mask, num_blocks):
    """Splits a masked product x (W * M) into products over non-zero blocks.

    The output columns are sorted by how many inputs they see and cut into
    `num_blocks` groups C_j (never splitting columns that see equally many,
    so that for MADE's masks every group is a contiguous range); group j
    needs only the rows R_j that some column of C_j sees, and
    x (W * M)[:, C_j] = x[:, R_j] (W * M)[R_j, C_j] exactly, since every other
    row of those columns is masked to zero. MADE's masks are nested (with the
    inputs sorted by degree every column sees a prefix), so the blocks cover
    the triangle: about (B + 1) / 2B of the dense FLOPs.

    Arguments:
      mask: float array [input_dim, units] of 0/1.
      num_blocks: B, the number of column groups.
    Returns:
      list of (rows, columns) int arrays, ordered by first column (rows may
      be empty: columns that see no input), or None when blocks would not save at
      least 15% of the multiply-adds.
    """
    mask = np.asarray(mask) != 0
    support = mask.sum(0)
    order = np.argsort(support, kind="stable")
    ranks = np.searchsorted(support[order], support[order], side="left")  # start of each column's tie class
    blocks = []
    bounds = sorted({int(ranks[min(len(order) - 1, round(j * len(order) / num_blocks))])
                     for j in range(1, num_blocks)} | {0, len(order)})
    for start, stop in zip(bounds[:-1], bounds[1:]):
        columns = np.sort(order[start:stop])
        blocks.append((np.flatnonzero(mask[:, columns].any(1)), columns))
    blocks.sort(key=lambda block: block[1][0])
    work = sum(len(rows) * len(columns) for rows, columns in blocks)
    return blocks if work <= 0.85 * mask.size else None


def _take(tensor, indices, axis):
    """tensor[..., indices] along axis: a slice when indices are a contiguous range."""
    if len(indices) and indices[-1] - indices[0] + 1 == len(indices):
        begin = [0] * len(tensor.shape)
        size = [-1] * len(tensor.shape)
        begin[axis], size[axis] = int(indices[0]), len(indices)
        return tf.slice(tensor, begin, size)
    return tf.gather(tensor, indices, axis=axis)


class MaskedDense(keras.layers.Layer):
    """A dense layer whose kernel is multiplied by a fixed binary mask:
    h = activation(x (W * M) + b) (Germain et al. 2015, Sec. 4).

    The mask is non-trainable layer state (saved with the weights) that
    `set_mask` may replace at any time. A stack of K masks `[K, input_dim,
    units]` shares one kernel among K connectivities (order- and
    connectivity-agnostic training): `call(x, mask_index=k)` uses M_k, and
    `mask_index` may be a tensor (e.g. the step counter mod K), so the choice
    stays inside an XLA-compiled step.

    With `num_blocks` B > 1 and a single mask, the product skips the all-zero
    blocks of W * M (see `block_plan`): the same function with fewer
    multiply-adds (about 0.6x for MADE). The blocks are fixed at build; a
    later `set_mask` must stay inside them.

    References:
      Germain et al., "MADE", ICML 2015, https://arxiv.org/abs/1502.03509

    Arguments:
      units: output width.
      mask: float array [input_dim, units] of 0/1, a stack [K, input_dim,
        units] of K such masks, or None (all ones until `set_mask`).
      activation: Keras activation name or callable.
      use_bias: add the bias b.
      kernel_initializer, bias_initializer: Keras initializers.
      num_blocks: B, column groups of the block-sparse product (1: dense).

    Shapes:
      x: [batch, input_dim], mask_index: int scalar in [0, K) (stacked masks
      only) -> [batch, units].

    Example:
      >>> layer = MaskedDense(3, mask=np.tril(np.ones([3, 3], np.float32), -1))
      >>> layer(np.ones([2, 3], np.float32)).shape
      TensorShape([2, 3])
    """

    def __init__(
        self,
        units,
        mask=None,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        num_blocks=1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(units) != units or units < 1:
            raise ValueError(f"MaskedDense: expected a positive integer number of units, got {units!r}")
        if int(num_blocks) != num_blocks or num_blocks < 1:
            raise ValueError(f"MaskedDense: expected num_blocks a positive int, got {num_blocks!r}")
        self.num_blocks = int(num_blocks)
        self.blocks = None
        self.units = int(units)
        self._initial_mask = None if mask is None else np.asarray(mask, np.float32)
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        input_dim = int(input_shape[-1])
        mask = self._initial_mask
        if mask is not None and (mask.ndim not in (2, 3) or mask.shape[-2:] != (input_dim, self.units)):
            raise ValueError(
                f"MaskedDense: expected a mask of shape {[input_dim, self.units]} or [K, {input_dim}, {self.units}], "
                f"got {list(mask.shape)}"
            )
        if self.num_blocks > 1 and mask is not None and mask.ndim == 2:
            self.blocks = block_plan(mask, self.num_blocks)
        if self.blocks is None:
            self.kernel = self.add_weight(
                name="kernel", shape=(input_dim, self.units), initializer=self.kernel_initializer
            )
        else:
            # One weight per non-zero block W[R_j, C_j] (the blocks partition the
            # columns), initialized as slices of one full-shape draw.
            full = np.asarray(self.kernel_initializer((input_dim, self.units)), np.float32)
            self.kernel = None
            self.kernel_blocks, self.mask_blocks = [], []
            for j, (rows, columns) in enumerate(self.blocks):
                if not len(rows):
                    continue
                block = np.ix_(rows, columns)
                self.kernel_blocks.append(self.add_weight(
                    name=f"kernel_block_{j}", shape=(len(rows), len(columns)),
                    initializer=keras.initializers.Constant(full[block])))
                self.mask_blocks.append(self.add_weight(
                    name=f"mask_block_{j}", shape=(len(rows), len(columns)),
                    initializer=keras.initializers.Constant(mask[block]), trainable=False))
        self.bias = (
            self.add_weight(name="bias", shape=(self.units,), initializer=self.bias_initializer)
            if self.use_bias
            else None
        )
        self.mask = self.add_weight(
            name="mask",
            shape=(input_dim, self.units) if mask is None else mask.shape,
            initializer="ones" if mask is None else keras.initializers.Constant(mask),
            trainable=False,
        )
        self.built = True

    @property
    def num_masks(self):
        """K, the number of stacked masks (1 for a single mask)."""
        shape = self.mask.shape if self.built else getattr(self._initial_mask, "shape", ())
        return int(shape[0]) if len(shape) == 3 else 1

    def set_mask(self, mask):
        """Replaces the mask(s). mask: same shape as the current one, of 0/1."""
        mask = np.asarray(mask, np.float32)
        if not self.built:
            self._initial_mask = mask
            return
        if mask.shape != tuple(self.mask.shape):
            raise ValueError(
                f"MaskedDense: expected a mask of shape {list(self.mask.shape)}, got {list(mask.shape)}"
            )
        if self.blocks is not None:
            covered = np.zeros(mask.shape, bool)
            for rows, columns in self.blocks:
                covered[np.ix_(rows, columns)] = True
            if np.any((mask != 0) & ~covered):
                raise ValueError("MaskedDense: expected a mask inside the block plan fixed at build "
                                 f"(num_blocks={self.num_blocks}), got one outside it; use num_blocks=1 "
                                 "for masks that are redrawn")
            blocks = [np.ix_(rows, columns) for rows, columns in self.blocks if len(rows)]
            for variable, block in zip(self.mask_blocks, blocks):
                variable.assign(mask[block])
        self.mask.assign(mask)

    def call(self, x, mask_index=None):
        mask = self.mask
        if len(mask.shape) == 3:
            mask = tf.gather(mask, 0 if mask_index is None else mask_index)
        elif mask_index is not None and not (isinstance(mask_index, int) and mask_index == 0):
            raise ValueError(f"MaskedDense: expected no mask_index for a single mask, got {mask_index!r}")
        if self.blocks is not None:
            return self._block_call(x)
        outputs = tf.matmul(x, self.kernel * mask)
        if self.bias is not None:
            outputs = outputs + self.bias
        return self.activation(outputs)

    def _block_call(self, x):
        """x (W * M) + b as a sum of the non-zero blocks (`block_plan`)."""
        parts, placed = [], []
        weights = iter(zip(self.kernel_blocks, self.mask_blocks))
        for rows, columns in self.blocks:
            if len(rows):
                kernel, mask = next(weights)
                parts.append(tf.matmul(_take(x, rows, 1), kernel * mask))
            else:  # columns that see no input
                parts.append(tf.zeros(tf.stack([tf.shape(x)[0], len(columns)]), x.dtype))
            placed.append(columns)
        placed = np.concatenate(placed)
        outputs = tf.concat(parts, axis=1)
        if not np.array_equal(placed, np.arange(self.units)):
            outputs = tf.gather(outputs, np.argsort(placed), axis=1)
        if self.bias is not None:
            outputs = outputs + self.bias
        return self.activation(outputs)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "num_blocks": self.num_blocks,
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }


class MaskResampling(keras.callbacks.Callback):
    """Connectivity-agnostic training (Germain et al. 2015, Sec. 4): draws
    new hidden degrees, hence new masks, every `every` training batches by
    calling `model.resample_masks(seed)`.

    With `num_masks` set, the seeds cycle through `num_masks` values, so
    training visits a fixed set of masks (the paper's "number of masks").

    Arguments:
      every: batches between resamplings.
      num_masks: cycle through this many mask sets (None: a new one each time).
      seed: base seed.
    """

    def __init__(self, every=1, num_masks=None, seed=0):
        super().__init__()
        if every < 1:
            raise ValueError(f"MaskResampling: expected every >= 1, got {every}")
        self.every = int(every)
        self.num_masks = num_masks
        self.seed = int(seed)
        self._count = 0

    def on_train_batch_begin(self, batch, logs=None):
        if self._count % self.every == 0:
            draw = self._count // self.every
            if self.num_masks:
                draw %= self.num_masks
            self.model.resample_masks(self.seed + draw)
        self._count += 1
