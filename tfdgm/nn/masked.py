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
    (the paper); "equal" cycles through the range so that every degree gets
    (nearly) the same number of units (deterministic).

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
        return low + np.arange(num_units) % (high - low + 1)
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


class MaskedDense(keras.layers.Layer):
    """A dense layer whose kernel is multiplied by a fixed binary mask:
    h = activation(x (W * M) + b) (Germain et al. 2015, Sec. 4).

    The mask is non-trainable layer state (saved with the weights) that
    `set_mask` may replace at any time, e.g. for connectivity-agnostic
    training.

    References:
      Germain et al., "MADE", ICML 2015, https://arxiv.org/abs/1502.03509

    Arguments:
      units: output width.
      mask: float array [input_dim, units] of 0/1, or None (all ones until
        `set_mask`).
      activation: Keras activation name or callable.
      use_bias: add the bias b.
      kernel_initializer, bias_initializer: Keras initializers.

    Shapes:
      x: [batch, input_dim] -> [batch, units].

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
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(units) != units or units < 1:
            raise ValueError(f"MaskedDense: expected a positive integer number of units, got {units!r}")
        self.units = int(units)
        self._initial_mask = None if mask is None else np.asarray(mask, np.float32)
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        input_dim = int(input_shape[-1])
        if self._initial_mask is not None and self._initial_mask.shape != (input_dim, self.units):
            raise ValueError(
                f"MaskedDense: expected a mask of shape {[input_dim, self.units]}, "
                f"got {list(self._initial_mask.shape)}"
            )
        self.kernel = self.add_weight(
            name="kernel", shape=(input_dim, self.units), initializer=self.kernel_initializer
        )
        self.bias = (
            self.add_weight(name="bias", shape=(self.units,), initializer=self.bias_initializer)
            if self.use_bias
            else None
        )
        mask = self._initial_mask
        self.mask = self.add_weight(
            name="mask",
            shape=(input_dim, self.units),
            initializer="ones" if mask is None else keras.initializers.Constant(mask),
            trainable=False,
        )
        self.built = True

    def set_mask(self, mask):
        """Replaces the mask. mask: [input_dim, units] of 0/1."""
        mask = np.asarray(mask, np.float32)
        if not self.built:
            self._initial_mask = mask
            return
        if mask.shape != tuple(self.mask.shape):
            raise ValueError(
                f"MaskedDense: expected a mask of shape {list(self.mask.shape)}, got {list(mask.shape)}"
            )
        self.mask.assign(mask)

    def call(self, x):
        outputs = tf.matmul(x, self.kernel * self.mask)
        if self.bias is not None:
            outputs = outputs + self.bias
        return self.activation(outputs)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {
            **super().get_config(),
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
