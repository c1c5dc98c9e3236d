"""Class conditioning shared by the autoregressive models (MADE, MAF, IAF,
NADE, PixelCNN, WaveNet): labels to one-hot contexts, and the marginal over a
uniform class prior that a conditional model's `call(x)` returns."""

import tensorflow as tf

from tfdgm.models.density import DensityModel
from tfdgm.models.labels import class_context

__all__ = ["ClassConditional", "class_context", "marginal_log_prob", "labelled_export_signatures"]


def marginal_log_prob(model, x):
    """log p(x) = logsumexp_y log p(x | y) - log C under a uniform class prior
    (a conditional model's `call(x)` without labels). x: [batch, *event_shape] -> [batch]."""
    x = model.validate_input(x)
    batch = tf.shape(x)[0]
    per_class = [model.log_prob(x, tf.fill([batch], label)) for label in range(model.num_classes)]
    return tf.reduce_logsumexp(tf.stack(per_class, 0), 0) - tf.math.log(float(model.num_classes))


class ClassConditional:
    """Mixin for autoregressive models with an optional `num_classes`:
    labels of `fit` batches become the context only when the model is
    conditional, and `call(x)` without a context is the marginal over a
    uniform class prior (what Keras export traces)."""

    def unpack(self, data):
        x, context = super().unpack(data)
        return x, (context if self.conditioning is not None else None)

    def call(self, x, training=False, context=None):
        """log p(x | context), or the marginal log p(x) without a context."""
        if self.num_classes is not None and context is None:
            return marginal_log_prob(self, x)
        if self.context_shape is not None:
            return super().call(x, training=training, context=context)
        return self.log_prob(x, context)


def labelled_export_signatures(model):
    """`log_prob(x, label)` and `sample(n, seed, label)` signatures of a
    class-conditional model (MADE's convention: int32 labels [batch] for
    `log_prob`, one int32 label for `sample`); the unconditional
    `DensityModel` signatures when `model.num_classes` is None."""
    if model.num_classes is None:
        return DensityModel.export_signatures(model)
    event = [None, *model.event_shape]
    return {
        "log_prob": (
            lambda x, label: {"log_prob": model.log_prob(x, label)},
            [tf.TensorSpec(event, tf.float32, name="x"), tf.TensorSpec([None], tf.int32, name="label")],
        ),
        "sample": (
            lambda n, seed, label: {"samples": model.sample(n, seed=seed, context=label)},
            [tf.TensorSpec([], tf.int32, name="n"), tf.TensorSpec([], tf.int32, name="seed"),
             tf.TensorSpec([], tf.int32, name="label")],
        ),
    }
