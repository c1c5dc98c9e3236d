"""Class conditioning shared by the autoregressive models (MADE, MAF, IAF,
NADE, PixelCNN, WaveNet): labels to one-hot contexts, and the marginal over a
uniform class prior that a conditional model's `call(x)` returns."""

import numpy as np
import tensorflow as tf

from tfdgm.models.density import DensityModel

__all__ = ["ClassConditional", "class_context", "marginal_log_prob", "labelled_export_signatures"]


def class_context(context, num_classes, model_name, batch_size=None):
    """Validates a model's context and turns class labels into one-hot vectors.

    Arguments:
      context: None, int labels [batch] (or a scalar label, broadcast to
        `batch_size`), or float one-hot / soft labels [batch, num_classes].
      num_classes: the model's number of classes, None if unconditional.
      model_name: for error messages.
      batch_size: optional batch size a scalar label is broadcast to.
    Returns:
      None or float32 [batch, num_classes].
    Raises:
      ValueError: a context for an unconditional model, a missing context for
        a conditional one, labels out of range or of the wrong shape.
    """
    if num_classes is None:
        if context is not None:
            raise ValueError(f"{model_name}: expected no context (num_classes is None), got one; "
                             "pass num_classes=... to build a conditional model")
        return None
    if context is None:
        raise ValueError(f"{model_name}: expected a context of class labels in [0, {num_classes}), got None")
    context = tf.convert_to_tensor(context)
    rank = context.shape.rank
    if context.dtype.is_integer or rank == 0 or (rank == 1 and context.dtype.is_floating):
        if rank not in (0, 1) and not (rank == 2 and context.shape[-1] == 1):
            raise ValueError(f"{model_name}: expected labels of shape [batch], got shape {list(context.shape)}")
        labels = tf.reshape(tf.cast(context, tf.int32), [-1] if rank else [])
        if tf.executing_eagerly():
            values = labels.numpy()
            if np.any(values < 0) or np.any(values >= num_classes):
                raise ValueError(f"{model_name}: expected labels in [0, {num_classes}), got {np.unique(values).tolist()}")
        if rank == 0 and batch_size is not None:
            labels = tf.fill(tf.reshape(batch_size, [1]), labels)
        return tf.one_hot(labels, num_classes, dtype=tf.float32)
    if rank != 2 or context.shape[-1] != num_classes:
        raise ValueError(f"{model_name}: expected a context of shape [batch, {num_classes}] or labels [batch], "
                         f"got shape {list(context.shape)}")
    return tf.cast(context, tf.float32)


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
