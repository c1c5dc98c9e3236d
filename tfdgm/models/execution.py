"""How `fit` runs a tfdgm train step: XLA by default where the model allows,
and several train steps per compiled call where Keras' callbacks allow.

Keras 3's `jit_compile="auto"` resolves to False on a machine without a GPU,
so tfdgm asks for XLA itself (`xla_by_default`). Keras runs
`steps_per_execution` steps inside one compiled call and calls the batch
hooks of callbacks once per call (`steps_per_call`).
"""

import os

import keras
import tensorflow as tf

__all__ = ["xla_by_default", "steps_per_call", "has_batch_hooks"]


def xla_by_default(model):
    """Whether `compile()` turns XLA on: where the model's step compiles
    (`supports_xla`), unless several replicas share one CPU (XLA then places
    every replica's cluster on CPU:0 and fails with "Trying to access
    resource ... located in device CPU:1", measured on TF 2.21; replicas on
    GPUs/TPUs keep XLA) or `TFDGM_JIT_COMPILE=0` is set."""
    return bool(model.supports_xla) and not _replicas_share_a_cpu() and _xla_allowed_by_environment()


def steps_per_call(model, callbacks=None, steps=()):
    """Train steps per compiled call for the next `fit` / `evaluate` /
    `predict` of `model`: `model.auto_steps_per_execution` (which removes
    most of Keras' per-step Python overhead on small models) when no callback
    has a batch-level hook of its own; else 1, so every batch's hooks see that
    batch's logs. Also 1 eagerly and under several replicas (Keras 3.15's
    multi-step loop fails under `MirroredStrategy`). `steps`: the call's
    `steps_per_epoch` / `validation_steps` / `steps` where given; the count
    divides each (Keras would otherwise run whole calls past them on a
    repeated dataset). -> int."""
    chosen = model.auto_steps_per_execution
    if model.run_eagerly or model.distribute_strategy.num_replicas_in_sync > 1 or has_batch_hooks(callbacks):
        chosen = 1
    for count in steps:
        if count:
            chosen = max(d for d in range(1, chosen + 1) if int(count) % d == 0)
    return chosen


_BATCH_HOOKS = ("on_batch_begin", "on_batch_end", "on_train_batch_begin", "on_train_batch_end",
                "on_test_batch_begin", "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end")


def has_batch_hooks(callbacks):
    """Whether a callback (a list, or a `keras.callbacks.CallbackList`) has a
    batch-level hook of its own; Keras' `History` and `ProgbarLogger` are
    written for one call per several steps and do not count."""
    if callbacks is None:
        return False
    callbacks = getattr(callbacks, "callbacks", callbacks)
    if not isinstance(callbacks, (list, tuple)):
        callbacks = [callbacks]
    for callback in callbacks:
        if isinstance(callback, (keras.callbacks.History, keras.callbacks.ProgbarLogger)):
            continue
        for hook in _BATCH_HOOKS:
            if getattr(type(callback), hook, None) is not getattr(keras.callbacks.Callback, hook):
                return True
    return False


def _xla_allowed_by_environment():
    value = os.environ.get("TFDGM_JIT_COMPILE", "1").strip().lower()
    if value not in ("0", "1", "false", "true"):
        raise ValueError(f"expected TFDGM_JIT_COMPILE to be 0 or 1, got {value!r}")
    return value in ("1", "true")


def _replicas_share_a_cpu():
    strategy = tf.distribute.get_strategy()
    if strategy.num_replicas_in_sync < 2:
        return False
    devices = getattr(strategy.extended, "worker_devices", ())
    return bool(devices) and all("CPU" in device.upper() for device in devices)
