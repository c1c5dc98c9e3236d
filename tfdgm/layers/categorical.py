"""Classification head: a softmax over `num_classes` labels as a `tfd.Categorical`."""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfdgm.layers.base import DistributionHead

tfd = tfp.distributions

__all__ = ["Categorical"]


@keras.saving.register_keras_serializable(package="tfdgm")
class Categorical(DistributionHead):
    """p(y = k | x) = softmax(l(x))_k, k in {0, ..., num_classes - 1}.

    Its negative log-likelihood is the sparse categorical cross-entropy; as a
    distribution it also gives `sample`, `mode`, `entropy`, `probs_parameter`.
    The outputs are the logits l. Targets are integer labels `[batch]`, or
    `[batch, 1]` as Keras' sparse losses take them; labels outside
    [0, num_classes) or non-integers are rejected (see
    `DistributionHead.prepare_targets`). Samples are int32.

    References:
      Bridle, "Probabilistic interpretation of feedforward classification
      network outputs", 1990 (the softmax as a categorical likelihood).

    Arguments:
      num_classes: number of labels K.

    Shapes: features [batch, F] -> outputs [batch, num_classes].

    Example:
      >>> head = Categorical(num_classes=3)
      >>> head.distribution(head(np.zeros([2, 4], np.float32))).log_prob([0, 2]).shape
      TensorShape([2])
    """

    target_dtype = tf.int32

    def __init__(self, num_classes, **kwargs):
        kwargs.pop("event_shape", None)
        if isinstance(num_classes, bool) or int(num_classes) != num_classes or num_classes < 2:
            raise ValueError(f"Categorical: expected num_classes an int >= 2, got {num_classes!r}")
        self.num_classes = int(num_classes)
        super().__init__(event_shape=(), **kwargs)

    def params_size(self):
        return self.num_classes

    def _make_distribution(self, outputs):
        return tfd.Categorical(logits=outputs, dtype=tf.int32)

    def _expected_target_shape(self):
        return "[batch] or [batch, 1]"

    def _shape_targets(self, targets, batch_rank, batch_shape):
        if targets.shape.rank == batch_rank + 1 and targets.shape[-1] in (1, None):
            # [batch, 1] labels; a last axis unknown while tracing is checked at run time.
            shape_ok = None if targets.shape[-1] == 1 else tf.equal(tf.shape(targets)[-1], 1)
            return targets[..., 0], shape_ok
        return super()._shape_targets(targets, batch_rank, batch_shape)

    def _target_rule(self):
        return f"integer labels in [0, {self.num_classes})"

    def _invalid_targets(self, targets):
        return tf.logical_or(tf.logical_or(targets < 0.0, targets >= self.num_classes),
                             tf.not_equal(targets, tf.round(targets)))

    def get_config(self):
        config = super().get_config()
        config.pop("event_shape")
        return {**config, "num_classes": self.num_classes}
