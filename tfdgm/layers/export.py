"""Serving signatures of a user's Keras model ending in a tfdgm head:
`log_prob(x, y)` and seeded `sample(x, seed)`, which `tfdgm.export.save(model,
BASE, head=head)` writes as a SavedModel that bare TensorFlow (TF Serving)
loads without tfdgm, TFP or Keras."""

import tensorflow as tf

from tfdgm.layers.base import DistributionHead

__all__ = ["head_signatures"]


def _input_spec(model, x_spec):
    if x_spec is not None:
        return x_spec if isinstance(x_spec, tf.TensorSpec) else tf.TensorSpec(x_spec, tf.float32)
    inputs = getattr(model, "inputs", None)
    if inputs is None or len(inputs) != 1:
        raise ValueError("tfdgm.export.save: expected a model with one input, or x_spec (e.g. "
                         f"tf.TensorSpec([None, 3], tf.float32)) for it, got "
                         f"{'no known inputs' if inputs is None else f'{len(inputs)} inputs'}")
    return tf.TensorSpec([None, *inputs[0].shape[1:]], tf.as_dtype(inputs[0].dtype))


def head_signatures(model, head, x_spec=None):
    """`{name: (fn, input_signature)}` of `model`, whose output is `head(features)`.

    Signatures (what a TF Serving client calls):
      `log_prob(x, y) -> {"log_prob": [batch]}`: log p(y | x) in nats;
      `sample(x, seed) -> {"samples": [batch, *event_shape]}`: one draw of
        y ~ p(y | x) per row, with the int32 `seed` passed to TFP as the
        stateless pair `[seed, 0]`, so a fixed seed gives fixed samples.

    Arguments:
      model: a built Keras model whose single output is `head`'s output.
      head: the `tfdgm.layers` head at the end of `model`.
      x_spec: `tf.TensorSpec` (or shape) of the input x, needed when the model
        has no known `inputs` (a subclassed model never called symbolically).
    Raises:
      ValueError: if `head` is not a tfdgm head or the input is unknown.
    """
    if not isinstance(head, DistributionHead):
        raise ValueError(f"tfdgm.export.save: expected head to be a tfdgm.layers head, got {type(head).__name__}")
    x_spec = _input_spec(model, x_spec)
    y_spec = tf.TensorSpec([None, *head.event_shape], head.target_dtype)

    def log_prob(x, y):
        return {"log_prob": head.distribution(model(x, training=False)).log_prob(y)}

    def sample(x, seed):
        seed_pair = tf.stack([tf.cast(seed, tf.int32), tf.constant(0, tf.int32)])
        return {"samples": head.distribution(model(x, training=False)).sample(seed=seed_pair)}

    return {
        "log_prob": (log_prob, [x_spec, y_spec]),
        "sample": (sample, [x_spec, tf.TensorSpec([], tf.int32, name="seed")]),
    }
