"""MAF (Papamakarios et al. 2017): a stack of MADE-conditioned affine
autoregressive bijectors, with order reversal and optional batch norm."""

import tensorflow as tf
import tensorflow_probability as tfp

from tfdgm.bijectors.autoregressive import MaskedAutoregressiveFlow
from tfdgm.bijectors.batch_norm import BatchNorm
from tfdgm.models.autoregressive.conditioning import ClassConditional, class_context
from tfdgm.nn.made import MADENetwork
from tfdgm.models.flows.base import FlowModel
from tfdgm.models.flows.context import ContextConditional
from tfdgm.nn.masked import input_order

tfd = tfp.distributions
tfb = tfp.bijectors

__all__ = ["MAF"]

_PERMUTATIONS = ("reverse", "random")
# num_blocks="auto" uses 4 blocks when a MADE layer has at least this many
# weights (D x widest hidden layer): below it the block products' extra ops
# cost more than the multiply-adds they save, while at 784 x 512 they make
# the XLA train step faster (benchmarks/README.md, MAF).
_AUTO_BLOCKS_MIN_WEIGHTS = 2**16


class AutoregressiveFlow(ClassConditional, ContextConditional, FlowModel):
    """Shared body of MAF and IAF: `num_layers` MADE conditioners, their
    orderings, batch norm, the class label or context vector, training and export.

    Subclasses implement `layer_bijector(network, context)`, the latent ->
    data bijector of one autoregressive layer.
    """

    data_kind = "continuous"

    def __init__(
        self,
        event_shape=(2,),
        num_layers=5,
        hidden_units=(64, 64),
        permutation="reverse",
        batch_norm=False,
        num_classes=None,
        activation="relu",
        hidden_degrees="equal",
        log_scale_bound=3.0,
        batch_norm_momentum=0.9,
        seed=0,
        num_blocks="auto",
        context_shape=None,
        data_transform=None,
        name=None,
        **kwargs,
    ):
        super().__init__(event_shape=event_shape, data_transform=data_transform, name=name, **kwargs)
        model = type(self).__name__
        self._init_context(context_shape, num_classes)
        if int(num_layers) != num_layers or num_layers < 1:
            raise ValueError(f"{model}: expected num_layers a positive int, got {num_layers!r}")
        if permutation not in _PERMUTATIONS:
            raise ValueError(f"{model}: expected permutation in {_PERMUTATIONS}, got {permutation!r}")
        if num_classes is not None and (int(num_classes) != num_classes or num_classes < 1):
            raise ValueError(f"{model}: expected num_classes a positive int or None, got {num_classes!r}")
        if log_scale_bound is not None and not log_scale_bound > 0:
            raise ValueError(f"{model}: expected log_scale_bound > 0 or None, got {log_scale_bound!r}")
        self.num_layers = int(num_layers)
        self.hidden_units = [hidden_units] if isinstance(hidden_units, int) else [int(h) for h in hidden_units]
        self.permutation = permutation
        self.use_batch_norm = bool(batch_norm)
        self.num_classes = None if num_classes is None else int(num_classes)
        self.activation = activation
        self.hidden_degrees = hidden_degrees
        self.log_scale_bound = log_scale_bound
        self.batch_norm_momentum = batch_norm_momentum
        self.seed = int(seed)
        self.num_blocks = self._resolve_num_blocks(num_blocks)
        self.networks = [
            MADENetwork(
                num_params=2,
                hidden_units=self.hidden_units,
                order=self._layer_order(k),
                hidden_degrees=hidden_degrees,
                context_dim=self.num_classes or self.context_size,
                activation=activation,
                zero_init_output=True,
                log_scale_bound=log_scale_bound,
                seed=self.seed + k,
                num_blocks=self.num_blocks,
                name=f"made_{k}",
            )
            for k in range(self.num_layers)
        ]
        self.batch_norms = (
            [BatchNorm(momentum=batch_norm_momentum, name=f"batch_norm_{k}") for k in range(self.num_layers)]
            if self.use_batch_norm
            else []
        )

    def _resolve_num_blocks(self, num_blocks):
        if num_blocks == "auto":
            return 4 if self.num_dims * max(self.hidden_units) >= _AUTO_BLOCKS_MIN_WEIGHTS else 1
        if isinstance(num_blocks, str) or int(num_blocks) != num_blocks or num_blocks < 1:
            raise ValueError(f"{type(self).__name__}: expected num_blocks a positive int or 'auto', got {num_blocks!r}")
        return int(num_blocks)

    def _layer_order(self, k):
        if self.permutation == "reverse":
            return "natural" if k % 2 == 0 else "reversed"
        return input_order(self.num_dims, "random", self.seed + 1000 * (k + 1)) if k else "natural"

    # ----------------------------------------------------------------- config
    @classmethod
    def default_hyperparameters(cls, info):
        """Toy 2-D sets: 5 layers of MADE[64, 64]; images: the paper's
        MNIST setting, 5 layers of MADE[1024] with batch norm."""
        if info.kind == "image":
            return {"num_layers": 5, "hidden_units": [1024], "batch_norm": True}
        return {"num_layers": 5, "hidden_units": [64, 64], "batch_norm": False}

    @classmethod
    def default_preprocess(cls, info, params=None):
        """Dequantize, scale to [0, 1] and logit-transform (lambda = 1e-6, the
        paper's MNIST setting) discrete data; continuous data as is."""
        return None if info.num_levels is None else "dequantize,scale,logit:1e-06"

    def hyperparameters(self):
        return {
            "num_layers": self.num_layers,
            "hidden_units": self.hidden_units,
            "permutation": self.permutation,
            "batch_norm": self.use_batch_norm,
            "num_classes": self.num_classes,
            "activation": self.activation,
            "hidden_degrees": self.hidden_degrees,
            "log_scale_bound": self.log_scale_bound,
            "batch_norm_momentum": self.batch_norm_momentum,
            "seed": self.seed,
            "num_blocks": self.num_blocks,
            "context_shape": None if self.context_shape is None else list(self.context_shape),
        }

    @property
    def latent_shape(self):
        return (self.num_dims,)

    def build(self, input_shape=None):
        for network in self.networks:
            network.build((None, self.num_dims))
        for layer in self.batch_norms:
            layer.build((None, self.num_dims))
        self.built = True

    def resample_masks(self, seed):
        """New random hidden degrees in every conditioner (connectivity-agnostic training)."""
        self._ensure_built()
        for k, network in enumerate(self.networks):
            network.resample_masks(seed * self.num_layers + k)

    # ------------------------------------------------------------ the flow
    def layer_bijector(self, network, context):
        """The latent -> data bijector of one layer (override)."""
        raise NotImplementedError

    def bijector(self, context=None, training=False):
        """Latent -> data `tfb.Chain`: [reshape, layer_1, bn_1, ..., layer_K, bn_K]
        (so x -> z runs layer_1^{-1} first). `training`: batch norm on batch
        statistics. context: labels (`num_classes`) or vectors [N, F] (`context_shape`)."""
        if self.context_shape is not None:
            context = self.prepare_context(context)
        else:
            context = class_context(context, self.num_classes, type(self).__name__)
        bijectors = [tfb.Reshape(event_shape_out=self.event_shape, event_shape_in=[self.num_dims])]
        for k, network in enumerate(self.networks):
            bijectors.append(self.layer_bijector(network, context))
            if self.use_batch_norm:
                bijectors.append(self.batch_norms[k].bijector(training))
        return tfb.Chain(bijectors)

    def distribution(self, context=None, temperature=1.0, training=False):
        return tfd.TransformedDistribution(
            self.base_distribution(context, temperature), self.bijector(context, training)
        )

    def sample(self, n, *, seed=None, context=None, temperature=1.0):
        """x = f(z), z ~ N(0, temperature^2 I); a scalar label is used for all n."""
        if context is not None and self.num_classes is not None:
            context = class_context(context, self.num_classes, type(self).__name__, batch_size=n)
        return super().sample(n, seed=seed, context=context, temperature=temperature)

    # --------------------------------------------------------------- training
    def train_step(self, data):
        x, context = self.unpack(data)
        x = self.validate_input(x)
        with tf.GradientTape() as tape:
            log_prob = self.distribution(context, training=True).log_prob(x)
            loss = -tf.reduce_mean(log_prob)
        self.apply_gradients(tape, loss)
        for layer in self.batch_norms:
            layer.update_moving_statistics()
        return self._update_metrics(log_prob, x)

    # ----------------------------------------------------------------- export
    def export_signatures(self):
        if self.num_classes is None:
            return super().export_signatures()
        event = [None, *self.event_shape]
        latent = [None, *self.latent_shape]
        label = tf.TensorSpec([None], tf.int32, name="label")
        return {
            "log_prob": (
                lambda x, label: {"log_prob": self.log_prob(x, label)},
                [tf.TensorSpec(event, tf.float32, name="x"), label],
            ),
            "sample": (
                lambda n, seed, label: {"samples": self.sample(n, seed=seed, context=label)},
                [tf.TensorSpec([], tf.int32, name="n"), tf.TensorSpec([], tf.int32, name="seed"),
                 tf.TensorSpec([], tf.int32, name="label")],
            ),
            "encode": (
                lambda x, label: {"z": self.encode(x, label)},
                [tf.TensorSpec(event, tf.float32, name="x"), label],
            ),
            "decode": (
                lambda z, label: {"x": self.decode(z, label)},
                [tf.TensorSpec(latent, tf.float32, name="z"), label],
            ),
        }


class MAF(AutoregressiveFlow):
    """Masked Autoregressive Flow (Papamakarios et al. 2017).

    Each layer is x_d = u_d exp(alpha_d) + mu_d with (mu_d, alpha_d) =
    MADE(x_<d) (Sec. 3.1), TFP's `MaskedAutoregressiveFlow` conditioned by
    our Keras 3 `MADENetwork`. log p(x) = log N(u) - sum_d alpha_d summed
    over layers, with u_d = (x_d - mu_d) exp(-alpha_d), so density evaluation (training) is one pass per layer, while
    sampling is D sequential passes per layer. Consecutive layers reverse the
    input order (or draw a random one); optional batch norm follows each
    layer in the data -> noise direction (Sec. 4, Appendix B). Conditional
    MAF (Sec. 3.4) p(x | y): a one-hot label joins every
    MADE's input with degree 0; `fit` on (x, y) batches uses y as context.
    With `context_shape=(F,)` the same MADE input takes any real context
    vector c [F] instead: p(x | c) through `log_prob(x, context)`,
    `sample(n, context=...)`, `fit((x, context))` (the base stays N(0, I), as
    in the paper).

    Identity initialization: each MADE's output layer is zero-initialized, so
    every layer starts as the identity (shift 0, log-scale 0), and the
    log-scale is bounded, alpha = b tanh(a / b), b = `log_scale_bound`. An
    unbounded log-scale gives non-finite log-densities on logit-space
    Fashion-MNIST (docs/architecture.md, "Known pitfalls").

    References:
      Papamakarios, Pavlakou and Murray, "Masked Autoregressive Flow for
      Density Estimation", NeurIPS 2017, https://arxiv.org/abs/1705.07057
      Germain et al., "MADE", ICML 2015, https://arxiv.org/abs/1502.03509

    Arguments:
      event_shape: shape of one example (flattened row-major inside the flow).
      num_layers: number of autoregressive layers K.
      hidden_units: hidden widths of each MADE.
      permutation: "reverse" (alternate natural / reversed order) or "random"
        (a random order per layer after the first).
      batch_norm: batch-norm bijector after each layer.
      num_classes: class-conditional MAF p(x | y) when set.
      context_shape: (F,): MAF conditioned on real context vectors c [F]
        (not together with num_classes).
      activation: MADE hidden activation.
      hidden_degrees: "equal" or "random" MADE hidden degrees.
      log_scale_bound: b of alpha = b tanh(a / b); None: unbounded.
      batch_norm_momentum: of the moving statistics.
      seed: seed of the random orders and degrees.
      num_blocks: B > 1 multiplies only the non-zero blocks of every masked
        weight (same function, about (B + 1) / 2B of the multiply-adds; see
        `tfdgm.nn.masked.block_plan`; layers where blocks save under 15%
        stay dense); the masks then stay fixed. 1: dense products, needed by
        `resample_masks`. "auto": 4 when D x the widest hidden layer is at
        least 65,536 weights, else 1.
      data_transform, name: see `GenerativeModel`.

    Example:
      >>> model = MAF(event_shape=(2,))
      >>> model.log_prob(np.zeros([3, 2], np.float32)).shape
      TensorShape([3])
    """

    def layer_bijector(self, network, context):
        return MaskedAutoregressiveFlow.from_network(network, context)
