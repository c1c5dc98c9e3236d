"""Conditional GAN (Mirza & Osindero 2014): both players see the class label."""

import numpy as np
import tensorflow as tf

from tfdgm.models.adversarial.gan import GAN
from tfdgm.models.labels import class_context

__all__ = ["ConditionalGAN"]


class ConditionalGAN(GAN):
    """min_G max_D E_{x,y}[log D(x|y)] + E_{z,y}[log(1 - D(G(z|y)|y))]
    (Mirza & Osindero 2014, eq. 2): the GAN objective with the one-hot label y
    joined to G's noise and to D's input (as extra channels for images).

    Train on labelled batches, `fit((x, y))` or a dataset of (x, labels).
    `generate(n, context=labels)` samples p(x | y); with no context the labels
    cycle 0, 1, ..., K-1 (so a sample grid shows every class).

    References:
      Mirza & Osindero, "Conditional Generative Adversarial Nets", 2014,
      https://arxiv.org/abs/1411.1784

    Arguments:
      event_shape: shape of one example.
      num_classes: number of labels K (default 10).
      noise_dim, hidden_units, loss, data_transform: as `GAN`.
      architecture: None (MLP for vectors, DCGAN for images), "mlp" or "dcgan".
      base_filters: filters of the convolutional players (default 64).
    """

    def __init__(self, event_shape=(2,), num_classes=10, noise_dim=None, hidden_units=(128, 128),
                 loss="non_saturating", architecture=None, base_filters=64, data_transform=None, name=None, **kwargs):
        super().__init__(event_shape=event_shape, noise_dim=noise_dim, hidden_units=hidden_units, loss=loss,
                         architecture=architecture, data_transform=data_transform, name=name, **kwargs)
        if isinstance(num_classes, bool) or int(num_classes) != num_classes or num_classes < 2:
            raise ValueError(f"ConditionalGAN: expected num_classes an int >= 2, got {num_classes!r}")
        self.num_classes = int(num_classes)
        self.base_filters = int(base_filters)
        self.architecture = self._resolve_architecture(architecture)

    def hyperparameters(self):
        return {**super().hyperparameters(), "num_classes": self.num_classes, "base_filters": self.base_filters}

    @classmethod
    def default_hyperparameters(cls, info):
        return {"num_classes": info.num_classes} if info.num_classes else {}

    def condition(self, context, batch_size=None):
        if context is None:  # every class in turn
            return tf.one_hot(tf.range(batch_size) % self.num_classes, self.num_classes)
        return class_context(context, self.num_classes, "ConditionalGAN", batch_size)

    def training_context(self, labels, batch_size):
        if labels is None:
            raise ValueError("ConditionalGAN: expected labelled batches (x, y) to fit, got x alone")
        return class_context(labels, self.num_classes, "ConditionalGAN", batch_size)

    def evaluation_context(self, labels):
        return np.asarray(labels).astype(np.int32)

    def export_signatures(self):
        """`sample(n, seed, label)` (one label for all n) and `generate(z, label)`
        (a label per row of z)."""
        return {
            "sample": (
                lambda n, seed, label: {"samples": self.generate(n, seed=seed, context=label)},
                [tf.TensorSpec([], tf.int32, name="n"), tf.TensorSpec([], tf.int32, name="seed"),
                 tf.TensorSpec([], tf.int32, name="label")],
            ),
            "generate": (
                lambda z, label: {"samples": self.generate(z, seed=0, context=label)},
                [tf.TensorSpec([None, self.noise_dim], tf.float32, name="z"),
                 tf.TensorSpec([None], tf.int32, name="label")],
            ),
        }
