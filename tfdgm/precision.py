"""Mixed precision (`--precision`): Keras' mixed dtype policies on the
networks, float32 for the mathematics, loss scaling for float16.

    model = tfdgm.models.get("maf")(event_shape=(2,))
    model.build((None, 2))
    tfdgm.precision.apply_precision(model, "mixed_bfloat16")
    model.compile(optimizer=tfdgm.precision.loss_scaled(keras.optimizers.Adam(), "mixed_bfloat16", model))

What runs in the low dtype: every *leaf* layer of the model (Dense,
convolutions, masked layers: the matrix products) computes in the policy's
compute dtype (bfloat16 or float16) from its float32 variables, and hands
its result on in float32. Everything between and after the layers stays
float32: the TFP mathematics built from the layers' outputs (log-determinants,
log-probabilities, log-sum-exp of importance weights, AIS weights), the
energy models' free energies and Gibbs chains (their weights are the model's
own variables, used outside any layer: they are float32 under every policy),
the GAN objectives, and the losses. The model itself keeps the float32 policy,
so its inputs are never rounded.

float16's narrow exponent range needs loss scaling: `loss_scaled` wraps the
optimizer in `keras.optimizers.LossScaleOptimizer`, whose scale the models'
gradient step applies (`scaled_gradients`). Energy models compute their
gradients in float32 and are never loss scaled.
"""

import functools

import keras
import tensorflow as tf

__all__ = ["PRECISIONS", "apply_precision", "loss_scaled", "scaled_gradients", "check_precision"]

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


def check_precision(precision):
    """Returns `precision` ("float32" for None) or raises ValueError."""
    precision = "float32" if precision is None else precision
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of: {', '.join(PRECISIONS)}")
    return precision


def apply_precision(model, precision):
    """Puts `model`'s leaf layers on the mixed policy `precision`, their
    outputs cast back to float32 (module docstring). "float32" changes
    nothing. Call it after the model is built, before `compile`.
    Returns the model."""
    precision = check_precision(precision)
    if precision == "float32":
        return model
    compute_dtype = keras.DTypePolicy(precision).compute_dtype
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if list(layer._flatten_layers(include_self=False, recursive=False)):
            continue  # a container: its own arithmetic stays float32
        if not layer.weights:
            continue  # activations, reshapes, ...: nothing to gain
        layer.dtype_policy = precision
        if not getattr(layer, "_tfdgm_float32_outputs", False):
            layer.call = _float32_outputs(layer.call, compute_dtype)
            layer._tfdgm_float32_outputs = True
    model._tfdgm_precision = precision
    return model


def _float32_outputs(call, compute_dtype):
    @functools.wraps(call)
    def wrapped(*args, **kwargs):
        outputs = call(*args, **kwargs)
        return tf.nest.map_structure(
            lambda value: tf.cast(value, tf.float32)
            if isinstance(value, tf.Tensor) and value.dtype == compute_dtype else value,
            outputs,
        )

    return wrapped


def loss_scaled(optimizer, precision, model=None):
    """`optimizer` in a `keras.optimizers.LossScaleOptimizer` for
    "mixed_float16" (dynamic loss scale), unchanged otherwise and for energy
    models (`model.family == "energy"`: float32 gradients, no scaling)."""
    precision = check_precision(precision)
    if precision != "mixed_float16" or getattr(model, "family", None) == "energy":
        return optimizer
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer
    return keras.optimizers.LossScaleOptimizer(keras.optimizers.get(optimizer))


def scaled_gradients(tape, loss, variables, optimizer):
    """d loss / d variables, times the loss scale when `optimizer` is a
    `LossScaleOptimizer` (whose `apply_gradients` divides it out again and
    skips a step whose gradients overflowed)."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        scale = tf.cast(optimizer.scale_loss(tf.ones([], tf.float32)), loss.dtype)
        return tape.gradient(loss, variables, output_gradients=scale * tf.ones_like(loss))
    return tape.gradient(loss, variables)
