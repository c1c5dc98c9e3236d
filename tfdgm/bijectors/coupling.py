"""Additive (NICE) and affine (RealNVP, Glow) coupling bijectors, their masks,
and `CouplingLayer`, the Keras 3 layer that owns the coupling network.

A binary mask b splits x into a conditioning part b*x, copied unchanged, and a
transformed part (1-b)*x whose shift / log-scale are functions of b*x only, so
the Jacobian is triangular and its log-determinant is a sum of log-scales.
"""


import keras
import numpy as np
import tensorflow as tf

from tfdgm.bijectors.base import Bijector
from tfdgm.nn.context import broadcast_context

__all__ = [
    "vector_mask",
    "checkerboard_mask",
    "channel_mask",
    "AdditiveCoupling",
    "AffineCoupling",
    "CouplingLayer",
    "bound_log_scale",
    "glow_log_scale",
    "SCALES",
]




# ------------------------------------------------------------------- masks
def vector_mask(num_dims, parity=0, kind="half"):
    """Mask over a vector: 1 marks the conditioning (copied) dimensions.

    Arguments:
      num_dims: D >= 2.
      parity: 0 or 1; parity 1 is the complement of parity 0.
      kind: "half" (first floor(D/2) dims vs the rest, RealNVP) or
        "alternate" (even vs odd indices, NICE Sec. 5.1).
    Returns:
      float32 array [D].
    """
    if num_dims < 2:
        raise ValueError(f"coupling needs at least 2 dimensions to split, got {num_dims}")
    if kind == "half":
        mask = (np.arange(num_dims) < num_dims // 2).astype(np.float32)
    elif kind == "alternate":
        mask = (np.arange(num_dims) % 2 == 0).astype(np.float32)
    else:
        raise ValueError(f"expected mask kind 'half' or 'alternate', got {kind!r}")
    return mask if parity % 2 == 0 else 1.0 - mask


def checkerboard_mask(height, width, channels, parity=0):
    """Spatial checkerboard (Dinh et al. 2016, Fig. 3 left): b[i, j, :] = (i+j+parity) even.

    Returns: float32 array [height, width, channels].
    """
    if height * width < 2:
        raise ValueError(f"a checkerboard mask needs at least 2 pixels, got {height}x{width}")
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    board = ((rows + cols + parity) % 2 == 0).astype(np.float32)
    return np.repeat(board[:, :, None], channels, axis=2)


def channel_mask(height, width, channels, parity=0):
    """Channel-wise mask (Dinh et al. 2016, Fig. 3 right): first half of the channels vs the rest.

    Returns: float32 array [height, width, channels].
    """
    if channels < 2:
        raise ValueError(f"a channel mask needs at least 2 channels, got {channels}")
    mask = (np.arange(channels) < channels // 2).astype(np.float32)
    mask = mask if parity % 2 == 0 else 1.0 - mask
    return np.broadcast_to(mask, (height, width, channels)).astype(np.float32)


def bound_log_scale(raw, bound):
    """Soft clamp s = bound * tanh(raw / bound): s(0) = 0 with slope 1, |s| < bound."""
    if bound is None:
        return raw
    return bound * tf.tanh(raw / bound)


def glow_log_scale(raw):
    """Glow's coupling scale (the authors' code, `scale = sigmoid(h + 2)` in the
    data -> latent direction): s = -log sigmoid(raw + 2) = softplus(-raw - 2) > 0,
    so data -> latent multiplies by exp(-s) = sigmoid(raw + 2) in (0, 1) and can
    never amplify the activations of the steps that follow (the failure of an
    unbounded or exp(+-3) scale in deep, wide Glows: the gradient norm grows
    ~30x and the loss jumps). A zero network gives exp(-s) = sigmoid(2) = 0.88."""
    return tf.nn.softplus(-raw - 2.0)


#: How an affine coupling turns its network's raw output into the log-scale s.
SCALES = ("tanh", "sigmoid")


def _check_scale(scale, owner):
    if scale not in SCALES:
        raise ValueError(f"{owner}: expected scale in {SCALES}, got {scale!r}")


# --------------------------------------------------------------- bijectors
class _Coupling(Bijector):
    """Shared masked coupling: y = b*x + (1-b)*(x*exp(s(b*x)) + t(b*x))."""

    def __init__(self, mask, fn, additive, log_scale_bound, validate_args, name, parameters, scale="tanh"):
        _check_scale(scale, name)
        self._mask = tf.convert_to_tensor(mask, tf.float32)
        self._fn = fn
        self._additive = additive
        self._log_scale_bound = log_scale_bound
        self._scale = scale
        rank = len(self._mask.shape)
        super().__init__(
            forward_min_event_ndims=rank,
            is_constant_jacobian=additive,
            validate_args=validate_args,
            parameters=parameters,
            name=name,
        )

    @property
    def mask(self):
        return self._mask

    def _shift_and_log_scale(self, x):
        out = self._fn(x * self._mask)
        if self._additive:
            return out, None
        shift, raw = out
        if self._scale == "sigmoid":
            return shift, glow_log_scale(raw)
        return shift, bound_log_scale(raw, self._log_scale_bound)

    def _log_det(self, x, log_scale):
        rank = len(self._mask.shape)
        if log_scale is None:
            return tf.zeros(tf.shape(x)[: tf.rank(x) - rank], x.dtype)
        return tf.reduce_sum((1.0 - self._mask) * log_scale, axis=list(range(-rank, 0)))

    def forward_and_log_det(self, x):
        shift, log_scale = self._shift_and_log_scale(x)
        inner = 1.0 - self._mask
        if log_scale is None:
            return x + inner * shift, self._log_det(x, None)
        return x + inner * (x * tf.math.expm1(log_scale) + shift), self._log_det(x, log_scale)

    def inverse_and_log_det(self, y):
        # b*y == b*x, so the network sees the same input in both directions.
        shift, log_scale = self._shift_and_log_scale(y)
        inner = 1.0 - self._mask
        if log_scale is None:
            return y - inner * shift, self._log_det(y, None)
        x = self._mask * y + inner * (y - shift) * tf.exp(-log_scale)
        return x, -self._log_det(y, log_scale)


class AdditiveCoupling(_Coupling):
    """NICE's additive coupling (Dinh et al. 2014, eq. 5 with a mask):

        y = x + (1 - b) * m(b * x),   log|det dy/dx| = 0.

    References:
      Dinh, Krueger & Bengio, "NICE: Non-linear Independent Components
      Estimation", 2014, https://arxiv.org/abs/1410.8516, Sec. 3.2.

    Arguments:
      mask: {0,1} array of the event shape; 1 = conditioning (copied) entries.
      shift_fn: callable b*x -> m(b*x) of the event shape.
    """

    def __init__(self, mask, shift_fn, validate_args=False, name="additive_coupling"):
        parameters = dict(locals())
        super().__init__(mask, shift_fn, True, None, validate_args, name, parameters)


class AffineCoupling(_Coupling):
    """Affine coupling (Dinh et al. 2016, eq. 9; Kingma & Dhariwal 2018, Table 1):

        y = b*x + (1-b) * (x * exp(s(b*x)) + t(b*x)),
        log|det dy/dx| = sum (1-b) * s(b*x),

    with s soft-clamped to (-log_scale_bound, log_scale_bound) by
    `bound * tanh(raw / bound)`, so a zero network output is the identity and
    the scale can neither vanish nor explode; or, with `scale="sigmoid"`,
    Glow's s = -log sigmoid(raw + 2) (see `glow_log_scale`), whose data ->
    latent factor sigmoid(raw + 2) is below 1.

    References:
      Dinh, Sohl-Dickstein & Bengio, "Density estimation using Real NVP",
      ICLR 2017, https://arxiv.org/abs/1605.08803, Sec. 3.3-3.4.

    Arguments:
      mask: {0,1} array of the event shape; 1 = conditioning entries.
      shift_and_log_scale_fn: callable b*x -> (t, raw s), each of the event shape.
      log_scale_bound: the clamp of s (None: unbounded); `scale="tanh"` only.
      scale: "tanh" (the bounded s above) or "sigmoid" (Glow's).
    """

    def __init__(self, mask, shift_and_log_scale_fn, log_scale_bound=3.0, validate_args=False,
                 name="affine_coupling", scale="tanh"):
        parameters = dict(locals())
        super().__init__(mask, shift_and_log_scale_fn, False, log_scale_bound, validate_args, name,
                         parameters, scale)


# ------------------------------------------------------------------ layer
class CouplingLayer(keras.layers.Layer):
    """Owns a coupling network; `bijector()` returns the coupling built from it.

    The network maps b*x: [batch, *event_shape] to [batch, *event_shape[:-1],
    k * event_shape[-1]] with k = 1 (additive) or 2 (affine: shift, raw
    log-scale); its last layer should be zero-initialized so the coupling
    starts at the identity (see `tfdgm.nn.coupling_nets`).

    Arguments:
      mask: {0,1} array of the event shape (see `vector_mask`,
        `checkerboard_mask`, `channel_mask`); 1 = conditioning entries.
      network: a Keras layer (the shift / log-scale function).
      additive: NICE's additive coupling instead of affine.
      log_scale_bound: clamp of the log-scale (affine, `scale="tanh"`).
      scale: "tanh" or "sigmoid" (Glow's), see `AffineCoupling`.
    """

    def __init__(self, mask, network, additive=False, log_scale_bound=3.0, scale="tanh", **kwargs):
        super().__init__(**kwargs)
        _check_scale(scale, "CouplingLayer")
        self.mask = np.asarray(mask, np.float32)
        self.network = network
        self.additive = bool(additive)
        self.log_scale_bound = log_scale_bound
        self.scale = scale

    def build(self, input_shape=None):
        event_shape = tuple(self.mask.shape)
        if input_shape is not None and tuple(input_shape[1:]) != event_shape:
            raise ValueError(f"expected inputs [batch, {', '.join(map(str, event_shape))}], "
                             f"got {list(input_shape)}")
        if not self.network.built:
            self.network.build((None, *event_shape))
        self.built = True

    def _apply_network(self, x_masked, context=None):
        event_shape = self.mask.shape
        if context is None:
            batch_shape = tf.shape(x_masked)[: tf.rank(x_masked) - len(event_shape)]
            out = self.network(tf.reshape(x_masked, [-1, *event_shape]))
        else:  # a `tfdgm.nn.context.ContextCouplingNet` taking (x, c)
            flat_x, flat_context, batch_shape = broadcast_context(x_masked, context, len(event_shape))
            out = self.network(flat_x, flat_context)
        out = tf.reshape(out, tf.concat([batch_shape, tf.shape(out)[1:]], axis=0))
        if self.additive:
            return out
        shift, raw_log_scale = tf.split(out, 2, axis=-1)
        return shift, raw_log_scale

    def bijector(self, context=None):
        """The coupling bijector built from the current weights; with a
        context c [..., F] (a network taking (x, c)) its shift and log-scale
        are functions of (b*x, c)."""
        fn = self._apply_network if context is None else (lambda x: self._apply_network(x, context))
        if self.additive:
            return AdditiveCoupling(self.mask, fn, name=f"{self.name}_bijector")
        return AffineCoupling(self.mask, fn, self.log_scale_bound, name=f"{self.name}_bijector", scale=self.scale)

    def call(self, x):
        return self.bijector().inverse(x)
