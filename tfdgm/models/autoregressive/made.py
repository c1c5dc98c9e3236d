"""MADE (Germain et al. 2015): a masked autoencoder as an autoregressive
density, and the masked conditioner network that MAF and IAF reuse."""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfdgm import rng
from tfdgm.bijectors.autoregressive import MaskedAutoregressiveFlow
from tfdgm.models.autoregressive.conditioning import ClassConditional, class_context, marginal_log_prob
from tfdgm.models.base import DensityModel, as_seed
from tfdgm.nn.masked import MaskedDense, hidden_degrees, input_degrees, input_order, made_masks

tfd = tfp.distributions
tfb = tfp.bijectors

__all__ = ["MADE", "MADENetwork", "ClassConditional", "class_context", "marginal_log_prob"]

_LIKELIHOODS = ("bernoulli", "gaussian")


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
                                name=f"masked_dense_{i}")
            layer.build((None, mask.shape[-2]))
            self.hidden_layers.append(layer)
        self.output_layer = MaskedDense(
            num_inputs * self.num_params,
            mask=masks[-1],
            kernel_initializer="zeros" if self.zero_init_output else "glorot_uniform",
            num_blocks=self.num_blocks,
            name="masked_dense_output",
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
        x = tf.convert_to_tensor(x, tf.float32)
        batch_shape = tf.shape(x)[:-1]
        h = tf.reshape(x, [-1, self.num_inputs])
        if self.context_dim is not None:
            if context is None:
                raise ValueError("MADENetwork: expected a context of size "
                                 f"{self.context_dim}, got None")
            context = tf.cast(context, tf.float32)
            context = tf.broadcast_to(context, tf.concat([batch_shape, [self.context_dim]], 0))
            h = tf.concat([tf.reshape(context, [-1, self.context_dim]), h], axis=-1)
        elif context is not None:
            raise ValueError("MADENetwork: expected no context (context_dim is None), got one")
        for layer in self.hidden_layers:
            h = layer(h, mask_index=mask_index)
        params = self.output_layer(h, mask_index=mask_index)
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

    def bijector(self, context=None, name=None, mask_index=None):
        """The affine autoregressive bijector (TFP's `MaskedAutoregressiveFlow`)
        conditioned by this network (with mask `mask_index`): forward u -> x
        is the D-pass x_d = u_d exp(alpha_d(x_<d)) + mu_d(x_<d), inverse x -> u
        one pass."""
        return MaskedAutoregressiveFlow(
            shift_and_log_scale_fn=lambda y: self.shift_and_log_scale(y, context, mask_index), name=name
        )

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


class _MADEAutoregressive(tfd.Autoregressive):
    """`tfd.Autoregressive` whose event shape is known statically (MADE's
    always is; TFP cannot know it for an arbitrary `distribution_fn`), so
    that it can be a `tfd.Mixture` component."""

    def __init__(self, distribution_fn, num_steps, known_event_shape, name="MADEAutoregressive"):
        self._known_event_shape = tf.TensorShape(known_event_shape)
        super().__init__(distribution_fn, num_steps=num_steps, name=name)

    def _event_shape(self):
        return self._known_event_shape


class MADE(ClassConditional, DensityModel):
    """MADE: p(x) = prod_d p(x_d | x_<d) by one masked autoencoder pass
    (Germain et al. 2015, Sec. 3-4).

    `likelihood="bernoulli"` (binary data): p(x_d | x_<d) =
    Bernoulli(sigmoid(l_d)), log p(x) = sum_d x_d log s(l_d) + (1 - x_d)
    log(1 - s(l_d)). `likelihood="gaussian"` (continuous
    data): p(x_d | x_<d) = Normal(mu_d, exp(alpha_d)), which is a one-layer
    MAF (Papamakarios et al. 2017, Sec. 3.1) and is built as one: a
    `tfd.TransformedDistribution` of N(0, I) through TFP's
    `MaskedAutoregressiveFlow`. log_prob takes one network pass; sampling
    takes D passes.

    Order- and connectivity-agnostic training (Sec. 4): with `num_masks` K > 1
    the model holds a fixed set of K masks (orders when `order_agnostic`,
    hidden degrees when `hidden_degrees="random"`) sharing all weights; each
    training step uses mask (step mod K), chosen inside the compiled step.
    Every mask k defines a normalized MADE p_k, and the test-time density is
    the ensemble p(x) = 1/M sum_{k<M} p_k(x) over the first M =
    `num_test_masks` masks (log-mean-exp of the masks' log-densities), a
    `tfd.Mixture` with equal weights, still normalized. With K = 1,
    `resample_masks(seed)` or the `tfdgm.nn.masked.MaskResampling` callback
    redraw the single mask from outside the step.

    References:
      Germain et al., "MADE: Masked Autoencoder for Distribution Estimation",
      ICML 2015, https://arxiv.org/abs/1502.03509

    Arguments:
      event_shape: shape of one example; images are flattened in row-major
        order.
      hidden_units: hidden layer widths of the masked MLP.
      likelihood: "bernoulli" or "gaussian".
      order: input ordering of mask 0: "natural", "reversed", "random" or a
        permutation of range(D).
      hidden_degrees: "equal" or "random" (see `MADENetwork`).
      num_classes: class-conditional model p(x | y) when set; the context is
        an int label [batch] or a one-hot [batch, num_classes].
      activation: hidden activation.
      log_scale_bound: bound b on the Gaussian log-std, b tanh(a / b).
      seed: seed of the random orders / hidden degrees.
      num_masks: K, the number of masks trained (1: a single fixed mask).
      order_agnostic: masks 1..K-1 use random input orders.
      num_test_masks: M in [1, K], the masks averaged by `log_prob`
        (default K).
      data_transform, name: see `GenerativeModel`.

    Example:
      >>> model = MADE(event_shape=(8,))
      >>> model.log_prob(np.zeros([2, 8], np.float32)).shape
      TensorShape([2])
      >>> ensemble = MADE(event_shape=(8,), num_masks=8, order_agnostic=True)
    """

    data_kind = "binary"

    def __init__(
        self,
        event_shape=(2,),
        hidden_units=(64, 64),
        likelihood="bernoulli",
        order="natural",
        hidden_degrees="equal",
        num_classes=None,
        activation="relu",
        log_scale_bound=5.0,
        seed=0,
        num_masks=1,
        order_agnostic=False,
        num_test_masks=None,
        data_transform=None,
        name=None,
        **kwargs,
    ):
        super().__init__(event_shape=event_shape, data_transform=data_transform, name=name, **kwargs)
        if likelihood not in _LIKELIHOODS:
            raise ValueError(f"MADE: expected likelihood in {_LIKELIHOODS}, got {likelihood!r}")
        if num_classes is not None and (int(num_classes) != num_classes or num_classes < 1):
            raise ValueError(f"MADE: expected num_classes a positive int or None, got {num_classes!r}")
        if int(num_masks) != num_masks or num_masks < 1:
            raise ValueError(f"MADE: expected num_masks a positive int, got {num_masks!r}")
        num_test_masks = int(num_masks) if num_test_masks is None else num_test_masks
        if int(num_test_masks) != num_test_masks or not 1 <= num_test_masks <= num_masks:
            raise ValueError(f"MADE: expected num_test_masks an int in [1, {int(num_masks)}], got {num_test_masks!r}")
        self.likelihood = likelihood
        self.num_classes = None if num_classes is None else int(num_classes)
        self.num_masks = int(num_masks)
        self.num_test_masks = int(num_test_masks)
        self.network = MADENetwork(
            num_params=1 if likelihood == "bernoulli" else 2,
            hidden_units=hidden_units,
            order=order,
            hidden_degrees=hidden_degrees,
            context_dim=self.num_classes,
            activation=activation,
            zero_init_output=False,
            log_scale_bound=log_scale_bound,
            seed=seed,
            num_masks=num_masks,
            order_agnostic=order_agnostic,
            name="made_network",
        )

    @classmethod
    def default_hyperparameters(cls, info):
        """Bernoulli for discrete data (binarized), Gaussian for continuous;
        one hidden layer of 500 units on images (the paper's MNIST model)."""
        continuous = info.num_levels is None
        params = {"likelihood": "gaussian" if continuous else "bernoulli"}
        params["hidden_units"] = [500] if info.kind == "image" else [64, 64]
        return params

    @classmethod
    def default_preprocess(cls, info):
        """Binarize discrete data; leave continuous data as is."""
        return None if info.num_levels is None else "binarize:static"

    def hyperparameters(self):
        network = self.network
        return {
            "hidden_units": network.hidden_units,
            "likelihood": self.likelihood,
            "order": network.order_spec if isinstance(network.order_spec, str) else list(map(int, network.order_spec)),
            "hidden_degrees": network.hidden_degrees_method,
            "num_classes": self.num_classes,
            "activation": network.activation,
            "log_scale_bound": network.log_scale_bound,
            "seed": network.seed,
            "num_masks": self.num_masks,
            "order_agnostic": network.order_agnostic,
            "num_test_masks": self.num_test_masks,
        }

    def build(self, input_shape=None):
        self.network.build((None, self.num_dims))
        self.built = True

    def resample_masks(self, seed):
        """New random hidden degrees and masks (Germain et al. 2015, Sec. 4);
        single-mask models only (K > 1 masks are chosen per training step)."""
        self._ensure_built()
        self.network.resample_masks(seed)

    def _check_num_test_masks(self, num_test_masks):
        num_test_masks = self.num_test_masks if num_test_masks is None else num_test_masks
        if int(num_test_masks) != num_test_masks or not 1 <= num_test_masks <= self.num_masks:
            raise ValueError(f"MADE: expected num_test_masks an int in [1, {self.num_masks}], got {num_test_masks!r}")
        return int(num_test_masks)

    def training_mask_index(self):
        """The mask of the current training step: optimizer step mod K (a
        tensor, so the choice is part of the compiled step), or None for K = 1."""
        if self.num_masks == 1:
            return None
        return tf.cast(self.optimizer.iterations % self.num_masks, tf.int32)

    def logits(self, x, context=None, mask_index=None):
        """Bernoulli logits l_d(x_<d) under mask `mask_index` (default 0).
        x: [..., *event_shape] -> [..., *event_shape]."""
        self._ensure_built()
        x = tf.convert_to_tensor(x, tf.float32)
        batch_shape = tf.shape(x)[: x.shape.rank - self.event_ndims]
        flat = tf.reshape(x, tf.concat([batch_shape, [self.num_dims]], 0))
        return tf.reshape(self.network(flat, context, mask_index=mask_index)[..., 0], tf.shape(x))

    def distribution(self, context=None, mask_index=None, num_test_masks=None):
        """p_k for `mask_index` k; without it the ensemble of the first
        `num_test_masks` masks (a `tfd.Mixture` with equal weights), or p_0
        when that is one mask."""
        context = class_context(context, self.num_classes, "MADE")
        if mask_index is not None:
            return self._mask_distribution(context, mask_index)
        num_test_masks = self._check_num_test_masks(num_test_masks)
        if num_test_masks == 1:
            return self._mask_distribution(context, None)
        components = [self._mask_distribution(context, k) for k in range(num_test_masks)]
        batch = components[0].batch_shape_tensor()
        mixture = tfd.Categorical(logits=tf.zeros(tf.concat([batch, [num_test_masks]], 0)))
        return tfd.Mixture(mixture, components)

    def _mask_distribution(self, context, mask_index):
        if self.likelihood == "gaussian":
            bijector = tfb.Chain([
                tfb.Reshape(event_shape_out=self.event_shape, event_shape_in=[self.num_dims]),
                self.network.bijector(context, mask_index=mask_index),
            ])
            base = tfd.Independent(tfd.Normal(tf.zeros([self.num_dims]), 1.0), reinterpreted_batch_ndims=1)
            return tfd.TransformedDistribution(base, bijector)

        def conditional(x=None):
            if x is None:
                batch = [] if context is None else [tf.shape(context)[0]]
                x = tf.zeros([*batch, *self.event_shape])
            return tfd.Independent(
                tfd.Bernoulli(logits=self.logits(x, context, mask_index), dtype=tf.float32),
                reinterpreted_batch_ndims=self.event_ndims,
            )

        return _MADEAutoregressive(conditional, num_steps=self.num_dims, known_event_shape=self.event_shape)

    def log_prob(self, x, context=None, num_test_masks=None):
        """log p(x) in nats; with K > 1 masks the ensemble log (1/M) sum_k
        p_k(x) over M = `num_test_masks` masks. x: [batch, *event_shape] -> [batch]."""
        self._ensure_built()
        x = self.validate_input(x)
        num_test_masks = self._check_num_test_masks(num_test_masks)
        if num_test_masks == 1:
            return self.distribution(context, num_test_masks=1).log_prob(x)
        per_mask = tf.stack([self.distribution(context, mask_index=k).log_prob(x) for k in range(num_test_masks)])
        return tf.reduce_logsumexp(per_mask, 0) - tf.math.log(float(num_test_masks))

    def training_distribution(self, context=None):
        """p_k with k the step's mask: the train step minimizes -mean log p_k(x)
        (order/connectivity-agnostic training)."""
        return self.distribution(context, mask_index=self.training_mask_index())

    def test_step(self, data):
        x, context = self.unpack(data)
        x = self.validate_input(x)
        return self._update_metrics(self.log_prob(x, context), x)

    def sample(self, n, seed=None, context=None, num_test_masks=None):
        """Ancestral sampling in the autoregressive order, D network passes
        (a `tf.while_loop`); with an ensemble, each sample's mask is drawn
        uniformly from the first `num_test_masks`. -> [n, *event_shape]."""
        self._ensure_built()
        num_test_masks = self._check_num_test_masks(num_test_masks)
        context = class_context(context, self.num_classes, "MADE", batch_size=n)
        seed = as_seed(seed)
        if num_test_masks == 1:
            return self._sample_with_mask(n, seed, context, None)
        draws = [self._sample_with_mask(n, tf.random.experimental.stateless_fold_in(seed, k), context, k)
                 for k in range(num_test_masks)]
        which = tf.random.stateless_uniform(
            tf.reshape(tf.convert_to_tensor(n, tf.int32), [1]), tf.random.experimental.stateless_fold_in(seed, num_test_masks),
            maxval=num_test_masks, dtype=tf.int32)
        return tf.gather(tf.stack(draws, 1), which, axis=1, batch_dims=1)

    def _sample_with_mask(self, n, seed, context, mask_index):
        if self.likelihood == "gaussian":
            return self._mask_distribution(context, mask_index).sample(n, seed=seed)
        degrees = tf.gather(tf.constant(self.network.input_degrees_set, tf.int32),
                            0 if mask_index is None else mask_index)

        def step(k, x):
            probabilities = tf.sigmoid(self.network(x, context, mask_index=mask_index)[..., 0])
            uniform = rng.uniform(tf.shape(x), rng.fold_in(seed, k))
            draw = tf.cast(uniform < probabilities, tf.float32)
            return k + 1, tf.where(degrees == k + 1, draw, x)

        _, x = tf.while_loop(
            lambda k, x: k < self.num_dims,
            step,
            (tf.constant(0), tf.zeros(tf.stack([tf.convert_to_tensor(n, tf.int32), self.num_dims]))),
            maximum_iterations=self.num_dims,
        )
        return tf.reshape(x, [-1, *self.event_shape])

    def export_signatures(self):
        if self.num_classes is None:
            return super().export_signatures()
        event = [None, *self.event_shape]
        return {
            "log_prob": (
                lambda x, label: {"log_prob": self.log_prob(x, label)},
                [tf.TensorSpec(event, tf.float32, name="x"), tf.TensorSpec([None], tf.int32, name="label")],
            ),
            "sample": (
                lambda n, seed, label: {"samples": self.sample(n, seed=seed, context=label)},
                [tf.TensorSpec([], tf.int32, name="n"), tf.TensorSpec([], tf.int32, name="seed"),
                 tf.TensorSpec([], tf.int32, name="label")],
            ),
        }
