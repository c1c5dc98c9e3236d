"""Class labels as a model's context, shared by the families' conditional
models (the autoregressive ones and ConditionalGAN)."""

import numpy as np
import tensorflow as tf

__all__ = ["class_context"]


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
