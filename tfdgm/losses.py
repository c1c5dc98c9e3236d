"""Keras losses over tfdgm's distribution heads."""

import keras

from tfdgm.layers.base import DistributionHead, live_head

__all__ = ["NegativeLogLikelihood"]


def _resolve_head(head):
    """A head object from a head or its serialized config: the live head
    with the config's `head_id` if there is one (a reloaded model's own head,
    whose weights a flow's `distribution` uses), else a new head."""
    if isinstance(head, DistributionHead):
        return head
    if isinstance(head, dict):
        head_id = head.get("config", {}).get("head_id")
        found = live_head(head_id) if head_id else None
        if found is not None:
            return found
        head = keras.saving.deserialize_keras_object(head)
        if isinstance(head, DistributionHead):
            return head
    raise ValueError(f"NegativeLogLikelihood: expected a tfdgm.layers head (e.g. IndependentNormal) or its "
                     f"serialized config, got {type(head).__name__}")


@keras.saving.register_keras_serializable(package="tfdgm")
class NegativeLogLikelihood(keras.losses.Loss):
    """-log p(y_true | y_pred) in nats, where y_pred is `head`'s output and
    p is `head.distribution(y_pred)`: maximum likelihood with `model.fit`.

    Per example the loss is `-head.log_prob(y_pred, y_true)`, reduced by
    Keras (`reduction`, sample weights, masks). Targets are checked (see
    `tfdgm.layers.DistributionHead.prepare_targets`): a wrong shape raises
    `ValueError` when `fit` traces the step; a wrong value (a non-binary
    target for `IndependentBernoulli`, a label outside [0, num_classes) for
    `Categorical`) raises `InvalidArgumentError` with the same message in
    `fit`, `ValueError` when called eagerly, and under `jit_compile=True`,
    where XLA drops assertions, makes the loss NaN (call
    `head.check_targets(y)` first, or use `keras.callbacks.TerminateOnNaN`).

    Serialization stores the head's config, not the object; on
    `keras.models.load_model` it resolves to the reloaded model's own head
    (by the config's `head_id`), so a flow head's weights and the loss stay
    one, and `fit` goes on after reloading.

    References:
      Fisher, "On the mathematical foundations of theoretical statistics",
      1922 (maximum likelihood); Bishop, "Pattern Recognition and Machine
      Learning", 2006, Sec. 5.2 and 5.6 (network outputs as the parameters
      of a conditional distribution).

    Arguments:
      head: the `tfdgm.layers` head whose output is `y_pred`.
      reduction, name, dtype: as for `keras.losses.Loss`.

    Example:
      >>> head = tfdgm.layers.IndependentNormal(event_shape=(1,))
      >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(16, activation="relu"), head])
      >>> model.compile(optimizer="adam", loss=tfdgm.losses.NegativeLogLikelihood(head))
    """

    def __init__(self, head, reduction="sum_over_batch_size", name="negative_log_likelihood", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.head = _resolve_head(head)

    def call(self, y_true, y_pred):
        return -self.head.log_prob(y_pred, y_true)

    def get_config(self):
        return {**super().get_config(), "head": keras.saving.serialize_keras_object(self.head)}
