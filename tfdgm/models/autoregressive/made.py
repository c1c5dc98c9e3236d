"""MADE (Germain et al. 2015): a masked autoencoder as an autoregressive
density, and the masked conditioner network that MAF and IAF reuse."""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfdgm import rng
from tfdgm.bijectors.autoregressive import MaskedAutoregressiveFlow
from tfdgm.models.autoregressive.conditioning import ClassConditional, class_context, labelled_export_signatures
from tfdgm.models.base import as_seed
from tfdgm.models.density import DensityModel
from tfdgm.nn.made import MADENetwork

tfd = tfp.distributions
tfb = tfp.bijectors

__all__ = ["MADE"]

_LIKELIHOODS = ("bernoulli", "gaussian")


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
    def default_preprocess(cls, info, params=None):
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
                MaskedAutoregressiveFlow.from_network(self.network, context, mask_index=mask_index),
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

    def sample(self, n, *, seed=None, context=None, num_test_masks=None):
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
        return labelled_export_signatures(self)
