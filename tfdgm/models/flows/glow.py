"""Glow (Kingma & Dhariwal 2018): actnorm, invertible 1x1 convolution and affine
coupling steps in a multi-scale architecture with learned split priors."""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfdgm.bijectors.actnorm import ActNormLayer
from tfdgm.bijectors.coupling import SCALES, CouplingLayer, bound_log_scale, channel_mask, vector_mask
from tfdgm.bijectors.invertible_conv import InvertibleConv1x1Layer
from tfdgm.bijectors.split import FactorOut, SplitPriorLayer
from tfdgm.bijectors.squeeze import Squeeze
from tfdgm.models.base import as_seed
from tfdgm.models.flows.base import FlowModel
from tfdgm.models.flows.context import ContextConditional
from tfdgm.models.flows.realnvp import check_image_levels, max_squeezes
from tfdgm.nn.context import ContextCouplingNet
from tfdgm.nn.coupling_nets import GlowCouplingNet, MLPCouplingNet

tfd = tfp.distributions
tfb = tfp.bijectors

__all__ = ["Glow"]


class Glow(ContextConditional, FlowModel):
    """Generative flow with invertible 1x1 convolutions.

    One step of flow, data -> latent (Table 1): actnorm (per-channel affine,
    data-dependent initialization), invertible 1x1 convolution W = P L (U +
    diag(s)), affine coupling on the channel halves with Glow's network
    (zero-initialized last conv). For images the coupling's data -> latent
    scale is the authors' sigmoid(h + 2) (`coupling_scale="sigmoid"`, see
    `tfdgm.bijectors.coupling.glow_log_scale`): below 1, so no step can
    amplify what the next ones see; `coupling_scale="tanh"` (the default
    for vectors) gives exp(s) with s soft-clamped to (-log_scale_bound,
    log_scale_bound), which starts at the identity but diverged on images
    at Adam 1e-4 with 400-channel networks (benchmarks/README.md, Glow).

    * Images `[H, W, C]`: `num_levels` levels of (squeeze, `num_steps` steps,
      split); at every split the factored-out half has the learned prior
      N(mu(z1), sigma(z1)) from a zero-initialized conv of the kept half
      (written as a coupling, see `tfdgm.bijectors.split`). z has the shape
      of x. H and W must be divisible by 2**num_levels (28x28: <= 2).
    * Vectors `(D,)`: `num_steps` steps of actnorm, LU-parameterized linear
      map, half-split affine coupling with an MLP (`hidden_units`).

    Sampling at temperature T draws eps ~ N(0, T² I) (Sec. 5.2); T = 0 gives
    the decoded mode of the prior. With `num_classes`, the prior is
    class-conditional: p(z | y) = N(mu_y, sigma_y) per latent entry (a learned
    table, the Glow paper's linear map of the one-hot label), zero-initialized;
    `log_prob(x, context=y)` is log p(x | y), and without a label the model is
    the uniform mixture p(x) = 1/K sum_y p(x | y). Labels come from `fit(x, y)`.
    The export of a class-conditional Glow adds `log_prob_given_label(x,
    label)`, `sample_given_label(n, seed, label)` and `class_log_prob(x)` to
    the mixture's `log_prob` / `sample` / `encode` / `decode`.

    With `context_shape=(F,)`, Glow models p(x | c) for a real vector c [F]
    per example, generalizing the class-conditional Glow (Sec. 5; the
    authors' `ycond` code) from a one-hot y to any c: every coupling network
    takes c (a learned projection to `context_channels` channels broadcast
    over the pixels and concatenated to its input; concatenated to the input
    of the vector MLP), and the prior is N(mu(c), sigma(c)) over the whole
    latent z, (mu, log sigma) a zero-initialized linear map of c (the
    paper's learned class prior, a linear map of y), log sigma soft-clamped.
    The split priors keep conditioning on the kept half only: the
    c-dependent prior already covers the factored-out entries of z.
    `log_prob(x, context)`, `sample(n, context=...)`, `fit((x, context))`.

    Actnorm is initialized from the first training batch inside the first
    train step (or by `initialize(x)`); the flag is a weight, so it survives
    checkpoints and resumed runs.

    References:
      Kingma & Dhariwal, "Glow: Generative Flow with Invertible 1x1
      Convolutions", NeurIPS 2018, https://arxiv.org/abs/1807.03039.

    Arguments:
      event_shape: `(D,)` or `(H, W, C)`.
      num_levels: L (images; default as many as divide, at most 3).
      num_steps: K steps of flow per level (32 in the paper).
      hidden_channels: coupling network width for images (512 in the paper).
      hidden_units: coupling MLP widths for vectors.
      num_classes: number of classes of a class-conditional prior (None: off).
      context_shape: (F,) for a flow conditioned on context vectors (None:
        off; not together with num_classes).
      context_channels: channels of the context projection (images).
      log_scale_bound: clamp of the prior log-scales (and of the coupling
        log-scales with `coupling_scale="tanh"`).
      coupling_scale: "sigmoid" (Glow's) or "tanh" (see above); None:
        "sigmoid" for images, "tanh" for vectors.
      data_transform: preprocessing spec (see `GenerativeModel`).

    Example:
      >>> model = Glow(event_shape=(8, 8, 1), num_levels=2, num_steps=4, num_classes=10)
      >>> model.compile(); model.fit(x, y, epochs=10)
      >>> model.sample(8, seed=0, context=3, temperature=0.7)
    """

    def __init__(self, event_shape=(2,), num_levels=None, num_steps=8, hidden_channels=128,
                 hidden_units=(128, 128), num_classes=None, log_scale_bound=3.0, context_shape=None,
                 context_channels=8, coupling_scale=None, data_transform=None, name=None, **kwargs):
        super().__init__(event_shape=event_shape, data_transform=data_transform, name=name, **kwargs)
        if coupling_scale is None:
            coupling_scale = "sigmoid" if len(self.event_shape) == 3 else "tanh"
        if coupling_scale not in SCALES:
            raise ValueError(f"Glow: expected coupling_scale in {SCALES}, got {coupling_scale!r}")
        self.coupling_scale = coupling_scale
        self._init_context(context_shape, num_classes)
        self.context_channels = int(context_channels)
        if int(num_steps) < 1:
            raise ValueError(f"Glow: expected num_steps >= 1, got {num_steps}")
        if num_classes is not None and int(num_classes) < 2:
            raise ValueError(f"Glow: expected num_classes >= 2 or None, got {num_classes}")
        self.num_steps = int(num_steps)
        self.hidden_channels = int(hidden_channels)
        self.hidden_units = [int(u) for u in hidden_units]
        self.num_classes = None if num_classes is None else int(num_classes)
        self.log_scale_bound = float(log_scale_bound)
        self.is_image = len(self.event_shape) == 3
        # Per level: (squeezed shape, [(actnorm, conv, coupling)] * K, split prior or None).
        self._plan = []
        if self.is_image:
            if num_levels is None:
                num_levels = max(1, min(3, max_squeezes(self.event_shape)))
            check_image_levels("Glow", self.event_shape, num_levels, 0)
            self.num_levels = int(num_levels)
            h, w, c = self.event_shape
            for level in range(self.num_levels):
                h, w, c = h // 2, w // 2, 4 * c
                steps = [self._step((h, w, c), f"level{level}_step{k}") for k in range(self.num_steps)]
                last = level == self.num_levels - 1
                prior = None if last else SplitPriorLayer((h, w, c), self.log_scale_bound,
                                                          name=f"level{level}_prior")
                self._plan.append(((h, w, c), steps, prior))
                c //= 2
        else:
            if self.event_ndims != 1 or self.num_dims < 2:
                raise ValueError(f"Glow: expected event_shape (D,) with D >= 2 or (H, W, C), "
                                 f"got {self.event_shape}")
            self.num_levels = None
            steps = [self._step((self.num_dims,), f"step{k}") for k in range(self.num_steps)]
            self._plan.append(((self.num_dims,), steps, None))
        # Flat lists so Keras tracks every layer.
        self.step_layers = [layer for _, steps, _ in self._plan for step in steps for layer in step]
        self.prior_layers = [prior for _, _, prior in self._plan if prior is not None]

    def _step(self, shape, name):
        channels = shape[-1]
        if len(shape) == 3:
            mask = channel_mask(*shape, parity=1)
            net = GlowCouplingNet(2 * channels, self.hidden_channels)
        else:
            mask = vector_mask(channels, 1, "half")
            net = MLPCouplingNet(2 * channels, self.hidden_units)
        if self.context_shape is not None:
            net = ContextCouplingNet(net, self.context_size, self.context_channels)
        return (ActNormLayer(channels, name=f"{name}_actnorm"),
                InvertibleConv1x1Layer(channels, name=f"{name}_invconv"),
                CouplingLayer(mask, net, log_scale_bound=self.log_scale_bound, scale=self.coupling_scale,
                              name=f"{name}_coupling"))

    @classmethod
    def from_config(cls, config):
        # A configuration written before `coupling_scale` existed had tanh couplings.
        return cls(**{"coupling_scale": "tanh", **config})

    @classmethod
    def default_hyperparameters(cls, info):
        params = {"num_classes": None}
        if info.kind == "vector" or len(info.event_shape) != 3:
            return {**params, "num_steps": 8, "hidden_units": [128, 128]}
        big = info.event_shape[0] >= 16
        return {**params, "num_levels": max(1, min(3, max_squeezes(info.event_shape))),
                "num_steps": 16 if big else 8, "hidden_channels": 256 if big else 64}

    def hyperparameters(self):
        return {"num_levels": self.num_levels, "num_steps": self.num_steps,
                "hidden_channels": self.hidden_channels, "hidden_units": list(self.hidden_units),
                "num_classes": self.num_classes, "log_scale_bound": self.log_scale_bound,
                "context_shape": None if self.context_shape is None else list(self.context_shape),
                "context_channels": self.context_channels, "coupling_scale": self.coupling_scale}

    def build(self, input_shape=None):
        for shape, steps, prior in self._plan:
            for actnorm, conv, coupling in steps:
                actnorm.build()
                conv.build()
                coupling.build((None, *shape))
            if prior is not None:
                prior.build((None, *shape))
        if self.num_classes is not None:
            table = (self.num_classes, *self.latent_shape)
            self.class_loc = self.add_weight(name="class_loc", shape=table, initializer="zeros")
            self.class_log_scale = self.add_weight(name="class_log_scale", shape=table,
                                                   initializer="zeros")
        if self.context_shape is not None:
            size = int(np.prod(self.latent_shape))
            self.context_prior = keras.layers.Dense(2 * size, kernel_initializer="zeros", name="context_prior")
            self.context_prior.build((None, self.context_size))
        self.built = True

    # ------------------------------------------------------------- bijector
    @staticmethod
    def _step_bijectors(step, context=None):
        # Data -> latent order: actnorm, 1x1 conv, coupling.
        actnorm, conv, coupling = step
        return [actnorm.bijector(), conv.bijector(), coupling.bijector(context)]

    def _level_bijector(self, level, context=None):
        shape, steps, prior = self._plan[level]
        parts = []
        if self.is_image:
            parts.append(tfb.Invert(Squeeze()))
        for step in steps:
            parts += self._step_bijectors(step, context)
        if prior is not None:
            parts.append(prior.bijector())
            parts.append(FactorOut(self._level_bijector(level + 1, context), shape[-1] // 2))
        if self.is_image:
            parts.append(Squeeze())
        return tfb.Chain(parts)

    def bijector(self, context=None):
        """Latent -> data chain; listed in data -> latent order (its inverse runs
        front to back). With `context_shape`: for a context [N, F] (or [F])."""
        context = self.prepare_context(context) if self.context_shape is not None else None
        return self._level_bijector(0, context)

    # ------------------------------------------------------ data-dependent init
    def initialize(self, x, context=None):
        """Data-dependent actnorm initialization on x: [batch, *event_shape] (Sec. 3.1).

        Each actnorm is set from its own input: x is pushed data -> latent,
        level by level. A no-op once initialized (`tf.cond` on each layer's
        flag), so it is safe to call in every train step and under XLA.
        """
        self._ensure_built()
        h = self.validate_input(x)
        if self.context_shape is not None:
            context = self.prepare_context(context, tf.shape(h)[0])
        else:
            context = None
        for level, (shape, steps, prior) in enumerate(self._plan):
            if self.is_image:
                h = Squeeze().forward(h)
            for actnorm, conv, coupling in steps:
                h = actnorm.initialize(h)
                h = conv.bijector().inverse(h)
                h = coupling.bijector(context).inverse(h)
            if prior is not None:
                h = h[..., : shape[-1] // 2]
        return h

    @property
    def is_initialized(self):
        self._ensure_built()
        return all(bool(layer.initialized.numpy() > 0.5) for layer in self.step_layers
                   if isinstance(layer, ActNormLayer))

    def train_step(self, data):
        x, context = self.unpack(data)
        context = context if self.context_shape is not None else None
        self._ensure_built()
        # The initialization pass (every coupling network, data -> latent) runs
        # only while some actnorm is uninitialized, not in every step.
        flags = [layer.initialized > 0.5 for layer in self.step_layers if isinstance(layer, ActNormLayer)]
        tf.cond(tf.reduce_all(tf.stack(flags)), lambda: tf.constant(False),
                lambda: (self.initialize(x, context), tf.constant(True))[1])
        return super().train_step(data)

    # ---------------------------------------------------------------- prior
    def base_distribution(self, context=None, temperature=1.0):
        """N(0, T² I), or with `num_classes` N(mu_y, (T sigma_y)²) (a uniform
        mixture over y when `context` is None). context: int labels [batch];
        with `context_shape`: N(mu(c), (T sigma(c))²), context [N, F]."""
        if self.context_shape is not None:
            context = self.prepare_context(context)
            params = tf.reshape(self.context_prior(context), tf.concat([tf.shape(context)[:1], [-1, 2]], 0))
            shape = tf.concat([tf.shape(context)[:1], self.latent_shape], 0)
            loc = tf.reshape(params[..., 0], shape)
            scale = tf.reshape(tf.exp(bound_log_scale(params[..., 1], self.log_scale_bound)), shape)
            return tfd.Independent(tfd.Normal(loc, temperature * scale), len(self.latent_shape))
        if self.num_classes is None:
            return super().base_distribution(context, temperature)
        ndims = len(self.latent_shape)
        scale = tf.exp(bound_log_scale(self.class_log_scale, self.log_scale_bound))
        if context is None:
            components = tfd.Independent(tfd.Normal(self.class_loc, temperature * scale), ndims)
            mixture = tfd.Categorical(logits=tf.zeros([self.num_classes]))
            return tfd.MixtureSameFamily(mixture, components)
        labels = self._labels(context)
        return tfd.Independent(
            tfd.Normal(tf.gather(self.class_loc, labels), temperature * tf.gather(scale, labels)), ndims)

    def _labels(self, context):
        labels = tf.convert_to_tensor(context)
        if labels.dtype.is_floating:
            labels = tf.cast(tf.round(labels), tf.int32)
        labels = tf.cast(tf.reshape(labels, [-1]) if labels.shape.rank and labels.shape.rank > 1
                         else labels, tf.int32)
        return labels

    def sample(self, n, *, seed=None, context=None, temperature=1.0):
        """x = f(eps), eps ~ N(0, T² I) (or the class prior): -> [n, *event_shape].

        context: a class label (int) or n labels for a class-conditional Glow.
        """
        self._ensure_built()
        if self.context_shape is not None:
            return super().sample(n, seed=seed, context=context, temperature=temperature)
        if self.num_classes is None or context is None:
            return super().sample(n, seed=seed, context=None, temperature=temperature)
        labels = tf.broadcast_to(self._labels(context), [n])
        return self.distribution(labels, temperature).sample(seed=as_seed(seed))

    def log_prob(self, x, context=None):
        """log p(x) (or log p(x | y) with context = labels [batch]). -> [batch]."""
        conditional = self.num_classes is not None or self.context_shape is not None
        return super().log_prob(x, context if conditional else None)

    def class_log_prob(self, x):
        """log p(x | y) for every class y: [batch, *event_shape] -> [batch, num_classes]."""
        if self.num_classes is None:
            raise ValueError("Glow.class_log_prob: expected a class-conditional Glow (num_classes), got None")
        self._ensure_built()
        x = self.validate_input(x)
        chain = self.bijector()
        z = chain.inverse(x)
        ildj = chain.inverse_log_det_jacobian(x, event_ndims=self.event_ndims)
        scale = tf.exp(bound_log_scale(self.class_log_scale, self.log_scale_bound))
        base = tfd.Independent(tfd.Normal(self.class_loc, scale), len(self.latent_shape))
        return base.log_prob(z[:, None]) + ildj[:, None]

    # ----------------------------------------------------------------- export
    def export_signatures(self):
        """The flow signatures (the class mixture when conditional), plus, with
        `num_classes`: `log_prob_given_label(x, label[batch])` -> log p(x | y),
        `sample_given_label(n, seed, label)` -> x ~ p(x | y) (one scalar label),
        `class_log_prob(x)` -> [batch, num_classes]."""
        signatures = super().export_signatures()
        if self.num_classes is None:  # unconditional, or the context signatures
            return signatures
        x_spec = tf.TensorSpec([None, *self.event_shape], tf.float32, name="x")
        signatures["log_prob_given_label"] = (
            lambda x, label: {"log_prob": self.log_prob(x, context=label)},
            [x_spec, tf.TensorSpec([None], tf.int32, name="label")],
        )
        signatures["sample_given_label"] = (
            lambda n, seed, label: {"samples": self.sample(n, seed=seed, context=label)},
            [tf.TensorSpec([], tf.int32, name="n"), tf.TensorSpec([], tf.int32, name="seed"),
             tf.TensorSpec([], tf.int32, name="label")],
        )
        signatures["class_log_prob"] = (lambda x: {"log_prob": self.class_log_prob(x)}, [x_spec])
        return signatures
