"""The adversarial protocol: a generator G and a discriminator (or critic) D,
both Keras 3 models, a noise density p_Z (a TFP distribution), and a
`train_step` that alternates the players, each with its own optimizer.

One `fit` step is Goodfellow et al. (2014), Alg. 1, with k = `n_critic`:
  k times:  D <- D - eta_D grad_D loss_D(x, G(z))     (fresh z each time)
  once:     G <- G - eta_G grad_G loss_G(G(z))
The real batch x is reused for the k critic updates (Alg. 1 draws a new one
each time; one Keras step sees one batch). Subclasses set the losses.
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfdgm.models import latent_tools
from tfdgm.models.adversarial.quality import collect_examples, sample_quality
from tfdgm.models.base import GenerativeModel, as_seed
from tfdgm.nn import dcgan as players
from tfdgm.replicas import replica_rows, step_seed

tfd = tfp.distributions

__all__ = ["AdversarialModel"]


class AdversarialModel(GenerativeModel):
    """Base of GAN, DCGAN, WGAN, WGANGP, ConditionalGAN and PointCloudGAN.

    Subclasses implement `build_generator()`, `build_discriminator()` (Keras 3
    models, from shapes alone), `discriminator_objective(x, fake, context, seed)`
    -> (loss, extra metrics) and `generator_objective(fake, context)`.

    Arguments:
      event_shape: shape of one example.
      noise_dim: size of z ~ p_Z = N(0, I) (default 100 for images, Radford et
        al. 2016; 16 otherwise).
      data_transform: preprocessing spec (see `GenerativeModel`). The
        generator's output activation follows its model-space range: sigmoid
        for [0, 1] (e.g. "dequantize,scale"), tanh for [-1, 1], else linear.
      generator: optional user Keras model G: [batch, noise_dim (+ num_classes)]
        -> any shape of num_dims elements per example, used instead of the
        built one (its output range must be the model space's: e.g. tanh
        with "scale:-1:1"). noise_dim defaults to its input width.
      discriminator: optional user Keras model D (the critic): [batch,
        *event_shape] (an input of rank > 2) or [batch, num_dims] (rank 2)
        -> [batch, 1] or [batch]. A critic trained with a gradient penalty
        must not mix examples (no batch norm).
    Both players are saved with the model (`get_config` serializes them).
    """

    family = "adversarial"
    serving_default = "generate"
    #: Critic updates per generator update (Arjovsky et al. 2017, Alg. 1).
    n_critic = 1
    #: Names of the training metrics, in the order `fit` prints them.
    metric_names = ("d_loss", "g_loss")
    #: Default learning rate of `make_optimizer`.
    default_learning_rate = 2e-4

    #: Whether the constructor takes user `generator` / `discriminator` models
    #: (False where `build` makes more than the two players).
    accepts_user_players = True

    def __init__(self, event_shape=(2,), noise_dim=None, data_transform=None, name=None, generator=None,
                 discriminator=None, **kwargs):
        super().__init__(event_shape=event_shape, data_transform=data_transform, name=name, **kwargs)
        generator, discriminator = _player(generator, "generator"), _player(discriminator, "discriminator")
        if (generator is not None or discriminator is not None) and not self.accepts_user_players:
            raise ValueError(f"{type(self).__name__}: builds its own players; expected generator=None and "
                             f"discriminator=None, got {type(generator).__name__}, {type(discriminator).__name__}")
        # Which players the user gave (the models themselves are tracked as self.generator / self.discriminator).
        self._user_player_names = tuple(key for key, player in (("generator", generator), ("discriminator", discriminator))
                                        if player is not None)
        if noise_dim is None and generator is not None and _input_width(generator) is not None:
            noise_dim = _input_width(generator)
        if noise_dim is None:
            noise_dim = 100 if self.event_ndims == 3 else 16
        if isinstance(noise_dim, bool) or int(noise_dim) != noise_dim or noise_dim < 1:
            raise ValueError(f"{type(self).__name__}: expected noise_dim a positive int, got {noise_dim!r}")
        self.noise_dim = int(noise_dim)
        self._trackers = {metric: keras.metrics.Mean(name=metric) for metric in self.metric_names}
        self._seed_generator = keras.random.SeedGenerator(name="training_seed")
        self.generator = generator
        self.discriminator = discriminator
        self.generator_optimizer = None
        self.discriminator_optimizer = None

    # ------------------------------------------------------------- the players
    #: "mlp" (fully connected players) or "dcgan" (convolutional, images only).
    architecture = "mlp"
    #: Widths of the MLP players' hidden layers.
    hidden_units = (128, 128)
    #: Filters of the first convolution of the DCGAN players.
    base_filters = 64
    #: Normalization inside a convolutional discriminator ("batch", "layer", None).
    critic_normalization = "batch"

    def _resolve_architecture(self, architecture):
        architecture = architecture or ("dcgan" if self.event_ndims == 3 else "mlp")
        if architecture not in ("mlp", "dcgan"):
            raise ValueError(f"{type(self).__name__}: expected architecture 'mlp' or 'dcgan', got {architecture!r}")
        if architecture == "dcgan" and self.event_ndims != 3:
            raise ValueError(
                f"{type(self).__name__}: the 'dcgan' architecture needs images (H, W, C), got event_shape {self.event_shape}"
            )
        return architecture

    @property
    def context_dim(self):
        return int(self.num_classes or 0)

    def build_generator(self):
        """G: [batch, noise_dim (+ num_classes)] -> [batch, ...] (MLP or DCGAN)."""
        input_dim = self.noise_dim + self.context_dim
        if self.architecture == "dcgan":
            return players.dcgan_generator(input_dim, self.event_shape, self.base_filters, self.output_activation())
        return players.mlp_generator(input_dim, self.num_dims, self.hidden_units, self.output_activation())

    def build_discriminator(self):
        """D: [batch, num_dims (+ num_classes)] or [batch, H, W, C (+ num_classes)] -> [batch, 1]."""
        if self.architecture == "dcgan":
            height, width, channels = self.event_shape
            return players.dcgan_discriminator(
                (height, width, channels + self.context_dim), self.base_filters, self.critic_normalization
            )
        return players.mlp_discriminator(self.num_dims + self.context_dim, self.hidden_units)

    def build(self, input_shape=None):
        """Builds both players from shapes (never by tracing `call`), or takes the user's."""
        if "generator" not in self._user_player_names:
            self.generator = self.build_generator()
        if "discriminator" not in self._user_player_names:
            self.discriminator = self.build_discriminator()
        self._check_user_players()
        self.built = True

    def _check_user_players(self):
        """ValueError when a user player's static shapes do not fit the model's."""
        generator, critic = self._user_player("generator"), self._user_player("discriminator")
        name = type(self).__name__
        if generator is not None:
            width = _input_width(generator)
            if width is not None and width != self.noise_dim + self.context_dim:
                raise ValueError(f"{name}: expected a generator taking [batch, {self.noise_dim + self.context_dim}] "
                                 f"(noise_dim + num_classes), got input width {width}")
            shape = _output_shape(generator)
            if shape is not None and None not in shape[1:] and int(np.prod(shape[1:])) != self.num_dims:
                raise ValueError(f"{name}: expected a generator output of {self.num_dims} values per example "
                                 f"(event_shape {self.event_shape}), got shape {list(shape)}")
        if critic is not None:
            shape = _output_shape(critic)
            if shape is not None and None not in shape[1:] and int(np.prod(shape[1:])) != 1:
                raise ValueError(f"{name}: expected a discriminator output [batch, 1] or [batch], got {list(shape)}")

    def _critic_takes_images(self):
        """Whether D takes [batch, H, W, C] examples (else flattened [batch, num_dims])."""
        critic = self._user_player("discriminator")
        if critic is not None:
            inputs = getattr(critic, "inputs", None)
            return len(inputs[0].shape) > 2 if inputs else self.event_ndims > 1
        return self.architecture == "dcgan"

    def get_config(self):
        """The constructor arguments, with user players serialized (Keras' format)."""
        config = super().get_config()
        for key in ("generator", "discriminator"):  # None: the class builds its own
            user = key in self._user_player_names
            config[key] = keras.saving.serialize_keras_object(getattr(self, key)) if user else None
        return config

    def _user_player(self, key):
        return getattr(self, key) if key in self._user_player_names else None

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator", "discriminator"):
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

    def output_activation(self):
        """sigmoid / tanh / None for a model-space range (0, 1) / (-1, 1) / other."""
        model_range = getattr(self.data_transform, "model_range", None)
        if model_range is not None and tuple(float(v) for v in model_range) == (0.0, 1.0):
            return "sigmoid"
        if model_range is not None and tuple(float(v) for v in model_range) == (-1.0, 1.0):
            return "tanh"
        return None

    @classmethod
    def default_preprocess(cls, info, params=None):
        """Discrete data (images) is dequantized and scaled to [0, 1]; continuous data is left as it is."""
        return None if info.num_levels is None else "dequantize,scale"

    def noise_distribution(self):
        """p_Z = N(0, I_noise_dim), a `tfd.Distribution` with event shape [noise_dim]."""
        return tfd.MultivariateNormalDiag(loc=tf.zeros([self.noise_dim]))

    def condition(self, context, batch_size=None):
        """The players' context from a user context (override; default: none)."""
        if context is not None:
            raise ValueError(f"{type(self).__name__} is unconditional: expected no context, got one")
        return None

    def _generate(self, z, context=None, training=False, seed=None):
        """G(z) reshaped to [batch, *event_shape]. `context`: as returned by `condition`."""
        inputs = z if context is None else tf.concat([z, context], axis=-1)
        outputs = self.generator(inputs, training=training)
        return tf.reshape(outputs, tf.concat([tf.shape(z)[:1], self.event_shape], 0))

    def discriminate(self, x, context=None, training=False):
        """D's logits (or critic scores) on x: [batch, *event_shape] -> [batch].

        A class context joins x as extra inputs (MLP) or constant channels (conv)."""
        if self._critic_takes_images():
            if context is not None:
                shape = tf.concat([tf.shape(x)[:3], [self.context_dim]], 0)
                x = tf.concat([x, tf.broadcast_to(context[:, None, None, :], shape)], axis=-1)
        else:
            x = tf.reshape(x, [-1, self.num_dims])
            if context is not None:
                x = tf.concat([x, context], axis=-1)
        return tf.reshape(self.discriminator(x, training=training), tf.shape(x)[:1])

    # --------------------------------------------------------------- sampling
    def _noise(self, n_or_z, seed):
        if isinstance(n_or_z, (int, np.integer)) or (
            isinstance(n_or_z, (tf.Tensor, np.ndarray)) and len(n_or_z.shape) == 0
        ):
            if tf.executing_eagerly() and int(n_or_z) < 1:
                raise ValueError(f"{type(self).__name__}: expected a positive number of samples, got {int(n_or_z)}")
            return self.noise_distribution().sample(n_or_z, seed=as_seed(seed))
        z = tf.convert_to_tensor(n_or_z, tf.float32)
        if z.shape.rank != 2 or z.shape[-1] != self.noise_dim:
            raise ValueError(f"{type(self).__name__}: expected z of shape [batch, {self.noise_dim}], got {list(z.shape)}")
        return z

    def generate(self, n_or_z, *, seed=None, context=None):
        """Samples G(z), z ~ p_Z: -> [n, *event_shape] in model space.

        Arguments:
          n_or_z: a number of samples, or a noise batch z: [n, noise_dim].
          seed: int seed of z (stateless: the same seed gives the same samples).
          context: class labels for conditional models.
        """
        self._ensure_built()
        noise_seed, extra_seed = tf.unstack(tf.random.experimental.stateless_split(as_seed(seed), 2))
        z = self._noise(n_or_z, noise_seed)
        context = self.condition(context, batch_size=tf.shape(z)[0])
        return self._generate(z, context, training=False, seed=extra_seed)

    def sample(self, n, *, seed=None, context=None):
        """Same as `generate(n, seed)` (the protocol every model shares)."""
        return self.generate(n, seed=seed, context=context)

    def call(self, x, training=False):
        """D's logits (critic scores) on data x: [batch, *event_shape] -> [batch]."""
        return self.discriminate(x, self.condition(None, batch_size=tf.shape(x)[0]) if self.num_classes else None,
                                 training=training)

    def interpolate(self, start=None, end=None, *, num_steps=8, method="linear", seed=None, context=None):
        """Samples along a path in noise space: -> [num_steps, *event_shape]
        (a generator has no encoder: the ends are noise vectors, see
        `GenerativeModel.interpolate`).

        Arguments:
          start, end: [noise_dim] endpoints; drawn from p_Z with `seed` when None.
          num_steps: points on the path, endpoints included.
          method: "linear" or "spherical" (slerp, White 2016; see `latent_tools.interpolate`).
          context: a class label (conditional models).
        """
        self._ensure_built()
        if start is None or end is None:
            ends = self.noise_distribution().sample(2, seed=as_seed(seed))
            start = ends[0] if start is None else start
            end = ends[1] if end is None else end
        path = latent_tools.interpolate(start, end, num_steps=num_steps, method=method)
        return self.generate(path, seed=seed, context=context)

    def figures(self, examples=None, *, seed=0):
        """"interpolation": a strip of samples between two noise draws of `seed`."""
        return {"interpolation": self.interpolate(num_steps=8, seed=seed)}

    # --------------------------------------------------------------- training
    def make_optimizer(self, learning_rate=None, *, epochs=None, steps_per_epoch=None, player=None):
        """Adam(2e-4, beta_1=0.5), as Radford et al. (2016, Sec. 4), for either
        `player` ("generator" or "discriminator") (override)."""
        return keras.optimizers.Adam(self._rate(learning_rate), beta_1=0.5)

    def _rate(self, learning_rate):
        return self.default_learning_rate if learning_rate is None else float(learning_rate)

    def compile(self, optimizer=None, generator_optimizer=None, discriminator_optimizer=None, jit_compile=None, **kwargs):
        """Compiles with one optimizer per player (XLA on by default, see `GenerativeModel.compile`).

        Arguments:
          optimizer: used for both players when the per-player ones are not
            given (each gets its own copy, so their states stay separate);
            default: `make_optimizer(player=...)` (Adam(2e-4, 0.5) for GANs, RMSProp
            for WGAN, Adam(1e-4, 0, 0.9) for WGAN-GP on images, Adam(1e-3, 0, 0.9)
            on vectors).
          generator_optimizer, discriminator_optimizer: per-player optimizers.
        Both optimizers are attributes of the model, so checkpoints hold both states.
        """
        generator_optimizer = _make_optimizer(generator_optimizer or optimizer,
                                              lambda: self.make_optimizer(player="generator"))
        discriminator_optimizer = _make_optimizer(discriminator_optimizer or _copy(optimizer),
                                                  lambda: self.make_optimizer(player="discriminator"))
        super().compile(optimizer=generator_optimizer, jit_compile=jit_compile, **kwargs)
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer
        if self.built:
            self._build_optimizers()

    def get_compile_config(self):
        """Keras' compile config, with both players' optimizers (`load_model` restores both)."""
        config = super().get_compile_config()
        if config:
            config.pop("optimizer", None)
            for key in ("generator_optimizer", "discriminator_optimizer"):
                config[key] = keras.saving.serialize_keras_object(getattr(self, key))
        return config

    def build_optimizer_state(self):
        self._build_optimizers()

    def _build_optimizers(self):
        with tf.init_scope():
            self.generator_optimizer.build(self.generator_variables())
            self.discriminator_optimizer.build(self.discriminator_variables())

    def generator_variables(self):
        return list(self.generator.trainable_variables)

    def discriminator_variables(self):
        return list(self.discriminator.trainable_variables)

    def fit(self, x=None, y=None, **kwargs):
        self._ensure_built()
        if self.generator_optimizer is not None:
            self._build_optimizers()
        return super().fit(x, y, **kwargs)

    def training_seed(self):
        """A fresh stateless seed per step from a Keras `SeedGenerator`
        (reproducible after `keras.utils.set_random_seed`); under replicas the
        same on all of them (`tfdgm.replicas.step_seed`)."""
        return step_seed(self._seed_generator, self.generator_optimizer.iterations)

    def training_context(self, context, batch_size):
        """The context used in training from the batch's labels (default: labels ignored)."""
        return None

    def discriminator_objective(self, x, fake, context, seed):
        """-> (loss_D, dict of extra metrics) (override)."""
        raise NotImplementedError

    def generator_objective(self, fake, context):
        """-> loss_G (override)."""
        raise NotImplementedError

    def after_discriminator_step(self):
        """Called after every critic update (WGAN clips its weights here)."""

    def generator_regularizer(self, x, context, seed):
        """An extra term of the generator step that sees the real batch x
        (PointCloudGAN's encoder reconstruction). -> (loss, dict of metrics);
        default: (0, {})."""
        return 0.0, {}

    def train_step(self, data):
        x, labels = self.unpack(data)
        x = self.validate_input(x)
        batch = tf.shape(x)[0]
        context = self.training_context(labels, batch)
        p_z = self.noise_distribution()
        seeds = tf.random.experimental.stateless_split(self.training_seed(), 2 * self.n_critic + 2)
        for step in range(self.n_critic):  # D <- D - eta grad_D loss_D, n_critic times
            z = replica_rows(lambda n, seed=seeds[2 * step]: p_z.sample(n, seed=seed), batch)
            fake = self._generate(z, context, training=True, seed=seeds[2 * step])
            with tf.GradientTape() as tape:
                d_loss, extras = self.discriminator_objective(x, fake, context, seeds[2 * step + 1])
            self.apply_gradients(tape, d_loss, self.discriminator_variables(), self.discriminator_optimizer)
            self.after_discriminator_step()
        with tf.GradientTape() as tape:  # G <- G - eta grad_G loss_G, once
            z = replica_rows(lambda n: p_z.sample(n, seed=seeds[-2]), batch)
            fake = self._generate(z, context, training=True, seed=seeds[-1])
            g_loss = self.generator_objective(fake, context)
            regularizer, more = self.generator_regularizer(
                x, context, tf.random.experimental.stateless_fold_in(seeds[-1], 1))
            total = g_loss + regularizer
        self.apply_gradients(tape, total, self.generator_variables(), self.generator_optimizer)
        return self._update_metrics(d_loss=d_loss, g_loss=g_loss, **extras, **more)

    def test_step(self, data):
        x, labels = self.unpack(data)
        x = self.validate_input(x)
        batch = tf.shape(x)[0]
        context = self.training_context(labels, batch)
        seeds = tf.random.experimental.stateless_split(self.training_seed(), 3)
        fake = self._generate(self.noise_distribution().sample(batch, seed=seeds[0]), context, seed=seeds[1])
        d_loss, extras = self.discriminator_objective(x, fake, context, seeds[2])
        _, more = self.generator_regularizer(x, context, tf.random.experimental.stateless_fold_in(seeds[2], 1))
        return self._update_metrics(d_loss=d_loss, g_loss=self.generator_objective(fake, context), **extras, **more)

    @property
    def metrics(self):
        return list(self._trackers.values())

    def _update_metrics(self, **values):
        for metric, value in values.items():
            self._trackers[metric].update_state(value)
        return {metric: tracker.result() for metric, tracker in self._trackers.items()}

    # ------------------------------------------------------------- evaluation
    def evaluation(self, dataset, verbose=1, num_samples=2000, seed=0, feature_extractor="default", **options):
        """Sample-quality metrics of `num_samples` generated vs test examples.

        Features: for 28x28x1 images, the penultimate layer of tfdgm's fixed
        Fashion-MNIST classifier (`tfdgm.metrics.classifier`; NOT the Inception
        FID, whose numbers it does not reproduce); otherwise the flattened data.
        Reports the Fréchet distance (Heusel et al. 2017) and k-NN precision /
        recall / coverage (`tfdgm.metrics.coverage`) in those features.

        Arguments:
          dataset: batches of model-space test examples (x or (x, labels)).
          num_samples: examples compared (at most the size of the dataset).
          seed: generation seed.
          feature_extractor: "default", None (raw data) or a callable mapping
            data-space examples scaled to [0, 1] -> [n, F] features.
        """
        if options:
            raise ValueError(f"{type(self).__name__}.evaluation takes no options, got {sorted(options)}")
        real, labels = collect_examples(dataset, num_samples)
        context = None if labels is None else self.evaluation_context(labels)
        fake = []
        for i, start in enumerate(range(0, len(real), 500)):
            stop = min(len(real), start + 500)
            part = None if context is None else context[start:stop]
            fake.append(self.generate(stop - start, seed=seed + i, context=part).numpy())
        return sample_quality(self, real, np.concatenate(fake), feature_extractor=feature_extractor)

    def evaluation_context(self, labels):
        """The context to generate with when comparing with test examples of `labels`."""
        return None

    # ----------------------------------------------------------------- export
    def export_signatures(self):
        """`sample(n, seed)` (G applied to seeded noise) and `generate(z)` (G
        applied to given noise), both -> {"samples": [n, *event_shape]}."""
        return {
            "sample": (
                lambda n, seed: {"samples": self.generate(n, seed=seed)},
                [tf.TensorSpec([], tf.int32, name="n"), tf.TensorSpec([], tf.int32, name="seed")],
            ),
            "generate": (
                lambda z: {"samples": self.generate(z, seed=0)},
                [tf.TensorSpec([None, self.noise_dim], tf.float32, name="z")],
            ),
        }


def _player(model, argument):
    """A user player: None or a Keras model (ValueError otherwise)."""
    if model is None or isinstance(model, keras.layers.Layer):
        return model
    raise ValueError(f"expected {argument} a Keras model or None, got {type(model).__name__}")


def _input_width(model):
    """The last input dimension of a functional Keras model with one rank-2 input (else None)."""
    inputs = getattr(model, "inputs", None)
    if not inputs or len(inputs) != 1 or len(inputs[0].shape) != 2 or inputs[0].shape[-1] is None:
        return None
    return int(inputs[0].shape[-1])


def _output_shape(model):
    outputs = getattr(model, "outputs", None)
    return tuple(outputs[0].shape) if outputs and len(outputs) == 1 else None


def _copy(optimizer):
    if isinstance(optimizer, keras.optimizers.Optimizer):
        return type(optimizer).from_config(optimizer.get_config())
    return optimizer


def _make_optimizer(optimizer, default):
    if optimizer is None:
        return default()
    return keras.optimizers.get(optimizer)
