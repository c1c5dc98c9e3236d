"""The distribution-head protocol: a Keras 3 layer whose output tensor holds a
distribution's parameters, and `distribution(outputs)` that builds it."""

import math
import uuid
import weakref

import keras
import numpy as np
import tensorflow as tf

__all__ = ["DistributionHead", "live_head", "SOFTPLUS_ONE"]

#: softplus(SOFTPLUS_ONE) = 1: a zero raw scale parameter means scale 1.
SOFTPLUS_ONE = math.log(math.e - 1.0)

# head_id -> the newest head built with that id (see `live_head`).
_LIVE_HEADS = weakref.WeakValueDictionary()


def live_head(head_id):
    """The newest head object created with `head_id`, or None."""
    return _LIVE_HEADS.get(head_id)


class DistributionHead(keras.layers.Layer):
    """Base of the heads: `head(features)` -> parameter tensor, `head.distribution(outputs)`
    -> `tfd.Distribution`, `head.log_prob(outputs, targets)` -> checked log-density.

    A Keras 3 model's outputs must be tensors, so the head's output is the
    parameters ([..., num_params], the last axis flat) and the distribution is
    built from them where it is needed: in the loss
    (`tfdgm.losses.NegativeLogLikelihood`), at prediction, in an export. The
    features' leading axes become the distribution's batch shape.

    Each head has a `head_id` (kept in its config), so that the loss
    of a reloaded model finds the model's own head rather than a copy: flow
    heads use their weights inside `distribution`.

    Subclasses set `target_dtype`, implement `params_size()` and
    `_make_distribution(outputs)`, and may override `_invalid_targets` (a
    per-example "invalid value" mask) and `_target_rule` (its message).

    Arguments:
      event_shape: shape of one target, e.g. `(1,)` or `(28, 28, 1)`.
      head_id: identity shared by a head and its copies through configs
        (default: a new random id).
      dtype: Keras dtype policy; default float32 even under a global
        mixed-precision policy.
    """

    target_dtype = tf.float32

    def __init__(self, event_shape, head_id=None, **kwargs):
        # float32 unless asked otherwise, also under a mixed-precision policy:
        # densities need float32 (Keras' advice for a model's last layer).
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        event_shape = tuple(int(d) for d in np.atleast_1d(np.asarray(event_shape, dtype=np.int64)))
        if any(d < 1 for d in event_shape):
            raise ValueError(f"{type(self).__name__}: expected event_shape of positive ints, got {event_shape}")
        self.event_shape = event_shape
        self.event_ndims = len(event_shape)
        self.event_size = int(np.prod(event_shape))
        self.head_id = head_id or uuid.uuid4().hex
        _LIVE_HEADS[self.head_id] = self

    # ----------------------------------------------------------- parameters
    def params_size(self):
        """Number of distribution parameters the projection produces per example."""
        raise NotImplementedError

    def output_size(self, features_size):
        """Width of `head(features)`'s last axis for features of width `features_size`."""
        return self.params_size()

    def build(self, features_shape):
        if len(features_shape) < 2 or features_shape[-1] is None:
            raise ValueError(f"{type(self).__name__}: expected features [batch, ..., F] with a known F, "
                             f"got {list(features_shape)}")
        self.features_size = int(features_shape[-1])
        self.projection = keras.layers.Dense(self.params_size(), name="projection", dtype=self.dtype_policy)
        self.projection.build(tuple(features_shape))
        self.built = True

    def compute_output_shape(self, features_shape):
        return (*features_shape[:-1], self.output_size(features_shape[-1]))

    def call(self, features):
        return self.projection(features)

    # --------------------------------------------------------- distribution
    def distribution(self, outputs):
        """The `tfd.Distribution` whose parameters are `outputs` (= `head(features)`).

        outputs: [*batch, num_outputs] -> batch shape `batch`, event shape `event_shape`.
        """
        outputs = tf.cast(outputs, tf.float32)  # also float16 outputs of a mixed-precision model
        expected = self.output_size(getattr(self, "features_size", None))
        if outputs.shape.rank is not None and outputs.shape.rank < 1 or (
                expected is not None and outputs.shape[-1] is not None and outputs.shape[-1] != expected):
            raise ValueError(f"{type(self).__name__}: expected outputs [batch, {expected}] (this head's own "
                             f"output), got {outputs.shape.as_list()}")
        return self._make_distribution(outputs)

    def _make_distribution(self, outputs):
        raise NotImplementedError

    # -------------------------------------------------------------- targets
    def _target_rule(self):
        """What a valid target value is, for error messages (None: any real)."""
        return None

    def _invalid_targets(self, targets):
        """Boolean [*batch, *event_shape] (or [*batch]) marking invalid target values."""
        return None

    def _expected_target_shape(self):
        return "[batch" + "".join(f", {d}" for d in self.event_shape) + "]"

    def _shape_targets(self, targets, batch_rank, batch_shape):
        """Checks the event dimensions; [batch] is accepted for an event (1,).
        -> (targets, None, or a boolean scalar tensor "the event dimensions
        match" when they are unknown while tracing)."""
        shape = targets.shape
        if shape.rank is None:  # Keras relaxed even the rank (targets [N, 1], then [N])
            shape_ok = tf.equal(tf.size(targets), tf.reduce_prod(batch_shape) * self.event_size)
            with tf.control_dependencies([tf.debugging.Assert(shape_ok, [
                    f"{type(self).__name__}: expected targets of shape {self._expected_target_shape()}"])]):
                return tf.reshape(targets, tf.concat([batch_shape, self.event_shape], 0)), None
        if self.event_shape == (1,) and shape.rank == batch_rank:
            targets = targets[..., None]
            shape = targets.shape
        if shape.rank != batch_rank + self.event_ndims or (
                shape[batch_rank:].is_fully_defined() and tuple(shape[batch_rank:]) != self.event_shape):
            raise ValueError(f"{type(self).__name__}: expected targets of shape {self._expected_target_shape()} "
                             f"(event_shape={self.event_shape}), got {shape.as_list()}")
        if shape[batch_rank:].is_fully_defined():
            return targets, None
        # Keras retraces `fit`'s step with relaxed shapes when the data's shape
        # changes (reduce_retracing), so the event dimensions can be unknown here.
        return targets, tf.reduce_all(tf.equal(tf.shape(targets)[batch_rank:], self.event_shape))

    def _value_check(self, message, invalid, shown):
        """Eagerly: ValueError if any example is invalid. In a graph: a
        `tf.debugging` assertion, which XLA drops (so the mask must also act)."""
        if tf.executing_eagerly():
            if bool(tf.reduce_any(invalid)):
                raise ValueError(f"{message}, got {shown()}")
            return invalid
        check = tf.debugging.Assert(tf.logical_not(tf.reduce_any(invalid)), [message])
        with tf.control_dependencies([check]):
            return tf.identity(invalid)

    def prepare_targets(self, targets, batch_shape=None):
        """Checks and casts targets. -> (targets, boolean [*batch] "invalid" mask, or None).

        A wrong shape raises `ValueError` when the step is traced (also inside
        `fit` and under XLA); when `fit` retraces with unknown dimensions, it is
        checked at run time like the values. A value outside the head's
        support raises `ValueError` eagerly, a `tf.debugging` assertion with
        the same message (`InvalidArgumentError`) in a graph (`fit`); XLA
        drops assertions, so `log_prob` also turns invalid examples into NaN.
        """
        targets = tf.convert_to_tensor(targets)
        if batch_shape is None:
            batch_shape = tf.shape(targets)[:1]
        batch_rank = int(batch_shape.shape[0])
        targets, shape_ok = self._shape_targets(targets, batch_rank, batch_shape)
        invalid = None
        if shape_ok is not None:
            message = (f"{type(self).__name__}: expected targets of shape {self._expected_target_shape()} "
                       f"(event_shape={self.event_shape})")
            invalid = self._value_check(message, tf.fill(tf.shape(targets)[:batch_rank], tf.logical_not(shape_ok)),
                                        lambda: tf.shape(targets).numpy().tolist())
        value_invalid = self._invalid_targets(tf.cast(targets, tf.float32))
        if value_invalid is not None:
            event_axes = list(range(batch_rank, value_invalid.shape.rank))
            value_invalid = tf.reduce_any(value_invalid, axis=event_axes) if event_axes else value_invalid
            value_invalid = self._value_check(
                f"{type(self).__name__}: expected targets {self._target_rule()}", value_invalid,
                lambda: f"{tf.boolean_mask(tf.cast(targets, tf.float32), value_invalid)[:3].numpy().tolist()} "
                        "(first invalid examples)")
            invalid = value_invalid if invalid is None else tf.logical_or(invalid, value_invalid)
        if invalid is None:
            return tf.cast(targets, self.target_dtype), None
        safe = tf.where(self._broadcast_mask(invalid, targets), tf.zeros_like(targets), targets)
        return tf.cast(safe, self.target_dtype), invalid

    @staticmethod
    def _broadcast_mask(invalid, targets):
        extra = targets.shape.rank - invalid.shape.rank
        return tf.reshape(invalid, tf.concat([tf.shape(invalid), tf.ones([extra], tf.int32)], 0))

    def check_targets(self, targets):
        """Raises `ValueError` (naming what was expected) unless `targets`
        ([batch, *event_shape]) are valid for this head. Use it on a dataset
        before `fit` with `jit_compile=True`, where assertions do not run."""
        self.prepare_targets(np.asarray(targets))

    def log_prob(self, outputs, targets):
        """log p(targets | outputs) in nats, [*batch], after checking the
        targets (see `prepare_targets`); invalid examples give NaN."""
        outputs = tf.cast(outputs, tf.float32)  # also float16 outputs of a mixed-precision model
        targets, invalid = self.prepare_targets(targets, tf.shape(outputs)[:-1])
        log_prob = self.distribution(outputs).log_prob(targets)
        if invalid is not None:
            log_prob = tf.where(invalid, tf.constant(np.nan, log_prob.dtype), log_prob)
        return log_prob

    def get_config(self):
        return {**super().get_config(), "event_shape": list(self.event_shape), "head_id": self.head_id}
