"""CycleGAN (Zhu et al. 2017): unpaired translation between two domains A and B."""

import numpy as np
import tensorflow as tf

from tfdgm import rng
from tfdgm.inference import adversarial as objectives
from tfdgm.models.adversarial.base import AdversarialModel
from tfdgm.models.adversarial.quality import collect_examples, sample_quality
from tfdgm.models.base import as_seed
from tfdgm.nn import dcgan as players

__all__ = ["CycleGAN"]

_DIRECTIONS = ("a2b", "b2a")


class CycleGAN(AdversarialModel):
    """Two translators G: A -> B, F: B -> A and two discriminators D_A, D_B:

        L = L_GAN(G, D_B) + L_GAN(F, D_A)
            + λ_cyc (E||F(G(a)) - a||_1 + E||G(F(b)) - b||_1)        (eq. 2-3)
            + λ_id  (E||G(b) - b||_1 + E||F(a) - a||_1)              (Sec. 5.2)

    with the least-squares adversarial loss the paper trains with (Sec. 4:
    D minimizes (D(b) - 1)^2 + D(G(a))^2, G minimizes (D(G(a)) - 1)^2).
    One `fit` step updates both translators, then both discriminators.

    Data: a training example is an UNPAIRED couple (a, b) placed side by side,
    as `tfdgm.data` domain sets give it ("fashion_mnist_sneakers_boots"):
    images (H, 2W, C) = [a | b], vectors (2D,) = [a, b]. `event_shape` is
    that couple's shape; `domain_shape` one domain's. `fit` also takes
    (x_a, x_b) tuples of domain batches.

    `generator` is G (A -> B), `discriminator` is D_B; `generator_b2a` is F,
    `discriminator_a` is D_A. `translate(x, "a2b" | "b2a")` maps a batch.
    `sample(n)` returns [F(b) | G(a)] couples for the latest training couples
    (a buffer of 64), so per-epoch sample pictures show translations.
    `failure_cases(x)` shows where it fails, as the paper does (Sec. 5.3,
    Fig. 17): the couples whose cycles a -> G(a) -> F(G(a)) come back worst.

    References:
      Zhu, Park, Isola & Efros, "Unpaired Image-to-Image Translation using
      Cycle-Consistent Adversarial Networks", ICCV 2017, https://arxiv.org/abs/1703.10593

    Arguments:
      event_shape: couple shape, (H, 2W, C) for images or (2D,) for vectors.
      cycle_weight: λ_cyc (default 10).
      identity_weight: λ_id (default 5 = 0.5 λ_cyc, as Sec. 5.2).
      hidden_units: MLP widths for vector domains (default [64, 64]).
      base_filters: filters of the image translators / discriminators (default 32).
      num_residual_blocks: residual blocks of an image translator (default 2).
      loss: "least_squares" (default) or "non_saturating".
      data_transform: preprocessing spec.
    """

    metric_names = ("d_loss", "g_loss", "cycle_loss", "identity_loss")
    serving_default = "translate"
    buffer_size = 64

    accepts_user_players = False  # four players, built from shapes

    def __init__(self, event_shape=(2,), cycle_weight=10.0, identity_weight=5.0, hidden_units=(64, 64),
                 base_filters=32, num_residual_blocks=2, loss="least_squares", data_transform=None, name=None, **kwargs):
        super().__init__(event_shape=event_shape, noise_dim=1, data_transform=data_transform, name=name, **kwargs)
        if self.event_ndims == 1 and self.event_shape[0] % 2 == 0:
            self.domain_shape = (self.event_shape[0] // 2,)
        elif self.event_ndims == 3 and self.event_shape[1] % 2 == 0:
            self.domain_shape = (self.event_shape[0], self.event_shape[1] // 2, self.event_shape[2])
        else:
            raise ValueError(f"CycleGAN: expected event_shape (2D,) or (H, 2W, C) holding a couple [a | b], "
                             f"got {self.event_shape}")
        if loss not in ("least_squares", "non_saturating"):
            raise ValueError(f"CycleGAN: expected loss 'least_squares' or 'non_saturating', got {loss!r}")
        self.cycle_weight, self.identity_weight = float(cycle_weight), float(identity_weight)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.base_filters, self.num_residual_blocks = int(base_filters), int(num_residual_blocks)
        self.loss = loss
        self.architecture = "mlp" if self.event_ndims == 1 else "resnet"

    def hyperparameters(self):
        return {"cycle_weight": self.cycle_weight, "identity_weight": self.identity_weight,
                "hidden_units": list(self.hidden_units), "base_filters": self.base_filters,
                "num_residual_blocks": self.num_residual_blocks, "loss": self.loss}

    # ------------------------------------------------------------- players
    def _translator(self, name):
        if self.architecture == "mlp":
            dim = self.domain_shape[0]
            return players.mlp_generator(dim, dim, self.hidden_units, self.output_activation(), name=name)
        return players.resnet_translator(self.domain_shape, self.base_filters, self.num_residual_blocks,
                                         self.output_activation(), name=name)

    def _critic(self, name):
        if self.architecture == "mlp":
            return players.mlp_discriminator(self.domain_shape[0], self.hidden_units, name=name)
        return players.patch_discriminator(self.domain_shape, self.base_filters, name=name)

    def build(self, input_shape=None):
        self.generator = self._translator("generator_a2b")
        self.generator_b2a = self._translator("generator_b2a")
        self.discriminator = self._critic("discriminator_b")
        self.discriminator_a = self._critic("discriminator_a")
        self.couple_buffer = self.add_weight(name="couple_buffer", shape=(self.buffer_size, *self.event_shape),
                                             initializer="zeros", trainable=False)
        self.built = True

    @property
    def generator_a2b(self):
        return self.generator

    @property
    def discriminator_b(self):
        return self.discriminator

    def generator_variables(self):
        return self.generator.trainable_variables + self.generator_b2a.trainable_variables

    def discriminator_variables(self):
        return self.discriminator.trainable_variables + self.discriminator_a.trainable_variables

    # ----------------------------------------------------------- couples
    def split_couple(self, x):
        """[batch, *event_shape] couples -> (a, b), each [batch, *domain_shape]."""
        return tf.split(x, 2, axis=-1 if self.event_ndims == 1 else 2)

    def join_couple(self, a, b):
        return tf.concat([a, b], axis=-1 if self.event_ndims == 1 else 2)

    def _couples(self, data):
        x, y = self.unpack(data)
        if y is not None and tuple(y.shape[1:]) == self.domain_shape:  # (x_a, x_b) batches
            x = self.join_couple(tf.cast(x, tf.float32), tf.cast(y, tf.float32))
        return self.validate_input(x)

    def _check_domain(self, x):
        x = tf.convert_to_tensor(x, tf.float32)
        if x.shape.rank != len(self.domain_shape) + 1 or tuple(x.shape[1:]) != self.domain_shape:
            raise ValueError(f"CycleGAN: expected x of shape [batch, {', '.join(map(str, self.domain_shape))}], "
                             f"got {list(x.shape)}")
        return x

    def translate(self, x, direction="a2b"):
        """G(x) for "a2b", F(x) for "b2a". x: [batch, *domain_shape] -> same shape."""
        self._ensure_built()
        if direction not in _DIRECTIONS:
            raise ValueError(f"CycleGAN: expected direction 'a2b' or 'b2a', got {direction!r}")
        x = self._check_domain(x)
        return (self.generator if direction == "a2b" else self.generator_b2a)(x, training=False)

    def generate(self, n_or_z, seed=None, context=None):
        """[F(b) | G(a)] for n couples of the training buffer (chosen with `seed`)."""
        self._ensure_built()
        if context is not None:
            raise ValueError("CycleGAN: expected no context")
        couples = self.couple_buffer
        if not isinstance(n_or_z, (int, np.integer)) and len(getattr(n_or_z, "shape", ())) != 0:
            couples = self.validate_input(n_or_z)  # explicit couples
        else:
            index = rng.uniform([n_or_z], as_seed(seed), minval=0, maxval=self.buffer_size, dtype=tf.int32)
            couples = tf.gather(couples, index)
        a, b = self.split_couple(couples)
        return self.join_couple(self.translate(b, "b2a"), self.translate(a, "a2b"))

    def call(self, x, training=False):
        """Translated couples [F(b) | G(a)] of couples x = [a | b]."""
        a, b = self.split_couple(x)
        return self.join_couple(self.generator_b2a(b, training=training), self.generator(a, training=training))

    def interpolate(self, start=None, end=None, *, num_steps=8, method="linear", seed=None, **options):
        raise ValueError("CycleGAN has no noise to interpolate in; use translate()")

    # ------------------------------------------------------- failure cases
    def cycle_errors(self, x):
        """Per-couple cycle errors of couples x = [a | b]: -> (mean |F(G(a)) - a|, mean |G(F(b)) - b|), each [batch]."""
        self._ensure_built()
        a, b = self.split_couple(self.validate_input(x))
        axes = list(range(1, len(self.domain_shape) + 1))
        error_a = tf.reduce_mean(tf.abs(self.translate(self.translate(a, "a2b"), "b2a") - a), axes)
        error_b = tf.reduce_mean(tf.abs(self.translate(self.translate(b, "b2a"), "a2b") - b), axes)
        return error_a, error_b

    def cycle_strips(self, x, direction="a2b"):
        """Rows [x | G(x) | F(G(x))] ("a2b", x = a) or [x | F(x) | G(F(x))] ("b2a", x = b), images side by side.
        x: [batch, *domain_shape] -> [batch, H, 3W, C] (vectors: [batch, 3D])."""
        there = self.translate(x, direction)
        back = self.translate(there, "b2a" if direction == "a2b" else "a2b")
        return tf.concat([self._check_domain(x), there, back], axis=-1 if self.event_ndims == 1 else 2)

    def failure_cases(self, x, num_cases=8):
        """The seed's failure cases: the couples whose cycles come back worst.

        Arguments:
          x: [n, *event_shape] couples [a | b] (model space); num_cases: rows per direction.
        Returns:
          dict: "worst_cycles_a2b" ([a | G(a) | F(G(a))] rows, largest |F(G(a)) - a| first),
          "worst_cycles_b2a" (the same for b), "best_cycles_a2b" (smallest errors, for
          contrast), and their errors "worst_errors_a2b", "worst_errors_b2a", "best_errors_a2b".
        """
        error_a, error_b = (e.numpy() for e in self.cycle_errors(x))
        a, b = self.split_couple(self.validate_input(x))
        k = min(int(num_cases), len(error_a))
        worst_a, worst_b, best_a = np.argsort(-error_a)[:k], np.argsort(-error_b)[:k], np.argsort(error_a)[:k]
        return {
            "worst_cycles_a2b": self.cycle_strips(tf.gather(a, worst_a), "a2b"),
            "worst_cycles_b2a": self.cycle_strips(tf.gather(b, worst_b), "b2a"),
            "best_cycles_a2b": self.cycle_strips(tf.gather(a, best_a), "a2b"),
            "worst_errors_a2b": error_a[worst_a], "worst_errors_b2a": error_b[worst_b], "best_errors_a2b": error_a[best_a],
        }

    def figures(self, examples=None, *, seed=0):
        """Run-directory pictures of couples x: "translations" ([a | G(a) | F(G(a))] rows)
        and "worst_cycle_reconstructions" (x's couples ordered by a's cycle error, worst first)."""
        if examples is None:
            return {}
        a, _ = self.split_couple(self.validate_input(examples))
        cases = self.failure_cases(examples, num_cases=len(a))
        return {"translations": self.cycle_strips(a, "a2b"), "worst_cycle_reconstructions": cases["worst_cycles_a2b"]}

    # --------------------------------------------------------------- training
    def _adversarial(self, logits, target_real):
        if self.loss == "least_squares":
            return tf.reduce_mean(tf.square(logits - (1.0 if target_real else 0.0)))
        return tf.reduce_mean(tf.nn.softplus(-logits if target_real else logits))

    def train_step(self, data):
        x = self._couples(data)
        a, b = self.split_couple(x)
        self.couple_buffer.assign(tf.concat([x, self.couple_buffer], 0)[: self.buffer_size])
        G, F, D_A, D_B = self.generator, self.generator_b2a, self.discriminator_a, self.discriminator
        with tf.GradientTape() as tape:  # translators: fool D_A, D_B; cycle back; leave targets alone
            fake_b, fake_a = G(a, training=True), F(b, training=True)
            adversarial = self._adversarial(D_B(fake_b, training=True), True) + self._adversarial(D_A(fake_a, training=True), True)
            cycle = (objectives.cycle_consistency_loss(a, F(fake_b, training=True))
                     + objectives.cycle_consistency_loss(b, G(fake_a, training=True)))
            identity = (objectives.cycle_consistency_loss(b, G(b, training=True))
                        + objectives.cycle_consistency_loss(a, F(a, training=True)))
            g_loss = adversarial + self.cycle_weight * cycle + self.identity_weight * identity
        self.apply_gradients(tape, g_loss, self.generator_variables(), self.generator_optimizer)
        with tf.GradientTape() as tape:  # discriminators: real -> 1, translated -> 0 (halved, Sec. 4)
            d_loss = 0.5 * (self._adversarial(D_B(b, training=True), True) + self._adversarial(D_B(fake_b, training=True), False)
                            + self._adversarial(D_A(a, training=True), True) + self._adversarial(D_A(fake_a, training=True), False))
        self.apply_gradients(tape, d_loss, self.discriminator_variables(), self.discriminator_optimizer)
        return self._update_metrics(d_loss=d_loss, g_loss=g_loss, cycle_loss=cycle, identity_loss=identity)

    def test_step(self, data):
        a, b = self.split_couple(self._couples(data))
        fake_b, fake_a = self.generator(a), self.generator_b2a(b)
        cycle = (objectives.cycle_consistency_loss(a, self.generator_b2a(fake_b))
                 + objectives.cycle_consistency_loss(b, self.generator(fake_a)))
        identity = (objectives.cycle_consistency_loss(b, self.generator(b))
                    + objectives.cycle_consistency_loss(a, self.generator_b2a(a)))
        d_loss = 0.5 * (self._adversarial(self.discriminator(b), True) + self._adversarial(self.discriminator(fake_b), False)
                        + self._adversarial(self.discriminator_a(a), True) + self._adversarial(self.discriminator_a(fake_a), False))
        g_loss = (self._adversarial(self.discriminator(fake_b), True) + self._adversarial(self.discriminator_a(fake_a), True)
                  + self.cycle_weight * cycle + self.identity_weight * identity)
        return self._update_metrics(d_loss=d_loss, g_loss=g_loss, cycle_loss=cycle, identity_loss=identity)

    def evaluation(self, dataset, verbose=1, num_samples=1000, feature_extractor="default", **options):
        """Test cycle loss and the Fréchet distance / precision / recall of
        G(A) vs B and F(B) vs A (and of A vs B untranslated, as a baseline)."""
        if options:
            raise ValueError(f"CycleGAN.evaluation takes no options, got {sorted(options)}")
        couples, _ = collect_examples(dataset, num_samples)
        a, b = (t.numpy() for t in self.split_couple(tf.constant(couples)))
        fake_b = np.concatenate([self.translate(a[i:i + 500], "a2b").numpy() for i in range(0, len(a), 500)])
        fake_a = np.concatenate([self.translate(b[i:i + 500], "b2a").numpy() for i in range(0, len(b), 500)])
        cycle = float(objectives.cycle_consistency_loss(a, self.translate(fake_b, "b2a"))
                      + objectives.cycle_consistency_loss(b, self.translate(fake_a, "a2b")))
        results = {"cycle_loss": cycle, "num_samples": int(len(a))}
        for label, real, fake in (("a2b", b, fake_b), ("b2a", a, fake_a), ("untranslated_a_vs_b", b, a)):
            quality = sample_quality(self, real, fake, feature_extractor, image_shape=self.domain_shape)
            results.update({f"{label}_{k}": v for k, v in quality.items() if k != "num_samples"})
        return results

    # ----------------------------------------------------------------- export
    def export_signatures(self):
        """`translate(x)` -> {"a2b": G(x), "b2a": F(x)}, x: [batch, *domain_shape]."""
        return {
            "translate": (
                lambda x: {"a2b": self.translate(x, "a2b"), "b2a": self.translate(x, "b2a")},
                [tf.TensorSpec([None, *self.domain_shape], tf.float32, name="x")],
            ),
        }

