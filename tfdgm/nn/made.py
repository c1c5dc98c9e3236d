"""MADE's masked conditioner network (Germain et al. 2015), with an optional
context vector at degree 0: the conditioner of MADE, MAF and IAF models and
of the `tfdgm.layers.ConditionalMAF` head."""

import keras
import numpy as np
import tensorflow as tf

from tfdgm.nn.context import broadcast_context
from tfdgm.nn.masked import MaskedDense, hidden_degrees, input_degrees, input_order, made_masks

__all__ = ["MADENetwork"]


class MADENetwork(keras.layers.Layer):
    """MADE's masked MLP: `num_params` outputs per input, output d depending
    only on the inputs before d in the ordering (and on an optional context).

    Degrees and masks follow Germain et al. (2015), Sec. 4: input d has degree
    m^0(d) = its position in `order` (1..D), hidden unit k a degree m^l(k) in
    [min m^{l-1}, D-1], hidden masks 1[m^l(k) >= m^{l-1}(k')], the output mask
    1[m^0(d) > m^L(k)]. A context vector (e.g. a one-hot class) joins the
    first layer's input with degree 0, so it reaches every output. For flows,
    `shift_and_log_scale` splits two parameters into the shift mu and the
    log-scale alpha of x_d = u_d exp(alpha_d) + mu_d (Papamakarios et al.
    2017, Sec. 3.1), the log-scale bounded as alpha = b tanh(a / b).

    Order- and connectivity-agnostic training (Sec. 4): with `num_masks` K > 1
    the network holds a fixed set of K masks sharing one set of weights; mask
    0 is the one described by `order` / `hidden_degrees`, masks 1..K-1 draw a
    random input order (when `order_agnostic`) and hidden degrees by
    `hidden_degrees` from seeds (seed, k). Each mask k is a complete MADE
    with its own order `orders[k]`; `call(..., mask_index=k)` picks one (a
    tensor index keeps the choice inside a compiled step).

    References:
      Germain et al., "MADE: Masked Autoencoder for Distribution Estimation",
      ICML 2015, https://arxiv.org/abs/1502.03509
      Papamakarios et al., "Masked Autoregressive Flow for Density
      Estimation", NeurIPS 2017, https://arxiv.org/abs/1705.07057

    Arguments:
      num_params: outputs per input dimension (1 for Bernoulli logits, 2 for
        shift and log-scale).
      hidden_units: list of hidden layer widths.
      order: "natural", "reversed", "random" or a permutation of range(D)
        (see `tfdgm.nn.masked.input_order`).
      hidden_degrees: "equal" (every degree equally often, deterministic) or
        "random" (uniform draws, as in the paper).
      context_dim: size of the context vector, or None.
      activation: hidden activation.
      zero_init_output: zero-initialize the output layer, so a flow layer
        starts as the identity (shift 0, log-scale 0).
      log_scale_bound: b of the soft bound b tanh(a / b) on the log-scale;
        None leaves it unbounded.
      seed: seed of the random order and random hidden degrees.
      num_masks: K, the size of the fixed mask set (1: one fixed mask).
      order_agnostic: masks 1..K-1 draw random input orders (otherwise they
        keep `order` and differ only in their hidden degrees, which then must
        be "random").
      num_blocks: > 1 computes each single-mask layer as products of its
        non-zero blocks only (`tfdgm.nn.masked.block_plan`): the same
        function, fewer FLOPs; the masks are then fixed (no resampling
        outside the blocks).

    Shapes:
      x: [..., D], context: [..., context_dim], mask_index: int scalar in
      [0, K) -> [..., D, num_params].
    """

    def __init__(
        self,
        num_params=2,
        hidden_units=(64, 64),
        order="natural",
        hidden_degrees="equal",
        context_dim=None,
        activation="relu",
        zero_init_output=True,
        log_scale_bound=3.0,
        seed=None,
        num_masks=1,
        order_agnostic=False,
        num_blocks=1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(num_blocks) != num_blocks or num_blocks < 1:
            raise ValueError(f"MADENetwork: expected num_blocks a positive int, got {num_blocks!r}")
        if int(num_masks) != num_masks or num_masks < 1:
            raise ValueError(f"MADENetwork: expected num_masks a positive int, got {num_masks!r}")
        if num_masks > 1 and not order_agnostic and hidden_degrees != "random":
            raise ValueError(
                "MADENetwork: num_masks > 1 needs order_agnostic=True or hidden_degrees='random' "
                f"(otherwise every mask is the same), got order_agnostic={order_agnostic!r}, "
                f"hidden_degrees={hidden_degrees!r}"
            )
        if int(num_params) != num_params or num_params < 1:
            raise ValueError(f"MADENetwork: expected num_params >= 1, got {num_params!r}")
        hidden_units = [hidden_units] if isinstance(hidden_units, int) else list(hidden_units)
        if not all(isinstance(h, (int, np.integer)) and h > 0 for h in hidden_units):
            raise ValueError(f"MADENetwork: expected hidden_units as a list of positive ints, got {hidden_units!r}")
        if hidden_degrees not in ("equal", "random"):
            raise ValueError(f"MADENetwork: expected hidden_degrees 'equal' or 'random', got {hidden_degrees!r}")
        if context_dim is not None and (int(context_dim) != context_dim or context_dim < 1):
            raise ValueError(f"MADENetwork: expected context_dim a positive int or None, got {context_dim!r}")
        if log_scale_bound is not None and not log_scale_bound > 0:
            raise ValueError(f"MADENetwork: expected log_scale_bound > 0 or None, got {log_scale_bound!r}")
        self.num_params = int(num_params)
        self.hidden_units = [int(h) for h in hidden_units]
        self.order_spec = order
        self.hidden_degrees_method = hidden_degrees
        self.context_dim = None if context_dim is None else int(context_dim)
        self.activation = activation
        self.zero_init_output = zero_init_output
        self.log_scale_bound = log_scale_bound
        self.seed = seed
        self.num_masks = int(num_masks)
        self.order_agnostic = bool(order_agnostic)
        self.num_blocks = int(num_blocks)

    # ------------------------------------------------------------------ build
    def build(self, input_shape, context_shape=None):
        num_inputs = int(input_shape[-1])
        self.num_inputs = num_inputs
        orders, mask_sets = [], []
        for k in range(self.num_masks):
            # Mask 0 is the configured one; mask k > 0 draws from seeds (seed, k).
            rng = np.random.RandomState(self.seed) if k == 0 else np.random.RandomState([k, self.seed or 0])
            if k == 0:
                order = input_order(num_inputs, self.order_spec, self.seed)
            else:
                order = rng.permutation(num_inputs) if self.order_agnostic else orders[0]
            self.input_degrees = input_degrees(order)
            layer_degrees = self._draw_hidden_degrees(self.hidden_degrees_method, rng)
            orders.append(order)
            mask_sets.append(made_masks(self._network_input_degrees(), layer_degrees, self._output_degrees()))
        #: [K, D]: orders[k][i] is the i-th input of mask k's order; input_degrees_set[k] its degrees.
        self.orders = np.stack(orders)
        self.input_degrees_set = np.stack([input_degrees(order) for order in orders])
        self.order, self.input_degrees = self.orders[0], self.input_degrees_set[0]
        masks = mask_sets[0] if self.num_masks == 1 else [np.stack(layer) for layer in zip(*mask_sets)]
        self.hidden_layers = []
        for i, (units, mask) in enumerate(zip(self.hidden_units, masks)):
            layer = MaskedDense(units, mask=mask, activation=self.activation, num_blocks=self.num_blocks,
                                name=f"masked_dense_{i}", dtype=self.dtype_policy)
            layer.build((None, mask.shape[-2]))
            self.hidden_layers.append(layer)
        self.output_layer = MaskedDense(
            num_inputs * self.num_params,
            mask=masks[-1],
            kernel_initializer="zeros" if self.zero_init_output else "glorot_uniform",
            num_blocks=self.num_blocks,
            name="masked_dense_output",
            dtype=self.dtype_policy,
        )
        self.output_layer.build((None, masks[-1].shape[-2]))
        self.built = True

    def _network_input_degrees(self):
        context = np.zeros(self.context_dim or 0, np.int64)
        return np.concatenate([context, self.input_degrees])

    def _output_degrees(self):
        return np.repeat(self.input_degrees, self.num_params)

    def _draw_hidden_degrees(self, method, rng):
        rng = rng if isinstance(rng, np.random.RandomState) else np.random.RandomState(rng)
        degrees, previous = [], self._network_input_degrees()
        for units in self.hidden_units:
            previous = hidden_degrees(units, previous, self.num_inputs, method, rng)
            degrees.append(previous)
        return degrees

    def resample_masks(self, seed):
        """Connectivity-agnostic training (Germain et al. 2015, Sec. 4):
        draws new random hidden degrees with `seed` and resets every mask.
        The input order (and so the autoregressive property) is kept."""
        if not self.built:
            raise ValueError("MADENetwork.resample_masks: expected a built network, got an unbuilt one")
        if self.num_masks > 1:
            raise ValueError(f"MADENetwork.resample_masks: expected a single-mask network, got num_masks={self.num_masks} "
                             "(its fixed mask set is chosen per step by mask_index)")
        if any(layer.blocks is not None for layer in [*self.hidden_layers, self.output_layer]):
            raise ValueError("MADENetwork.resample_masks: expected a model built with num_blocks=1 (dense masked "
                             f"products), got num_blocks={self.num_blocks}, whose blocks fix the masks")
        layer_degrees = self._draw_hidden_degrees("random", seed)
        masks = made_masks(self._network_input_degrees(), layer_degrees, self._output_degrees())
        for layer, mask in zip([*self.hidden_layers, self.output_layer], masks):
            layer.set_mask(mask)

    # ------------------------------------------------------------------- call
    def call(self, x, context=None, mask_index=None):
        x = tf.convert_to_tensor(x)
        x = x if x.dtype.is_floating else tf.cast(x, tf.float32)
        if self.context_dim is not None:
            if context is None:
                raise ValueError("MADENetwork: expected a context of size "
                                 f"{self.context_dim}, got None")
            h, context, batch_shape = broadcast_context(x, tf.cast(context, x.dtype))
            h = tf.concat([context, h], axis=-1)
        elif context is not None:
            raise ValueError("MADENetwork: expected no context (context_dim is None), got one")
        else:
            batch_shape = tf.shape(x)[:-1]
            h = tf.reshape(x, [-1, self.num_inputs])
        for layer in self.hidden_layers:
            h = layer(h, mask_index=mask_index)
        # Cast: the masked layers compute in this layer's dtype policy.
        params = tf.cast(self.output_layer(h, mask_index=mask_index), x.dtype)
        return tf.reshape(params, tf.concat([batch_shape, [self.num_inputs, self.num_params]], 0))

    def shift_and_log_scale(self, x, context=None, mask_index=None):
        """(mu, alpha) for x_d = u_d exp(alpha_d) + mu_d. x: [..., D] -> two [..., D]."""
        if self.num_params != 2:
            raise ValueError(f"MADENetwork.shift_and_log_scale: expected num_params=2, got {self.num_params}")
        params = self(x, context, mask_index=mask_index)
        shift, log_scale = params[..., 0], params[..., 1]
        if self.log_scale_bound is not None:
            log_scale = self.log_scale_bound * tf.tanh(log_scale / self.log_scale_bound)
        return shift, log_scale

    def get_config(self):
        return {
            **super().get_config(),
            "num_params": self.num_params,
            "hidden_units": self.hidden_units,
            "order": self.order_spec if isinstance(self.order_spec, str) else list(map(int, self.order_spec)),
            "hidden_degrees": self.hidden_degrees_method,
            "context_dim": self.context_dim,
            "activation": self.activation,
            "zero_init_output": self.zero_init_output,
            "log_scale_bound": self.log_scale_bound,
            "seed": self.seed,
            "num_masks": self.num_masks,
            "order_agnostic": self.order_agnostic,
            "num_blocks": self.num_blocks,
        }
