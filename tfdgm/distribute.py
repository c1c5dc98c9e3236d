"""`tf.distribute` strategies selected by name (`--strategy`).

`mirrored` on a machine without GPUs splits the CPU into logical devices so
that the multi-replica code path (per-replica batches, all-reduced gradients)
runs and is tested anywhere; with GPUs it mirrors over them.
"""

import tensorflow as tf

__all__ = ["STRATEGIES", "make_strategy"]

STRATEGIES = ("default", "mirrored", "multiworker", "tpu")


def make_strategy(name="default", num_cpu_replicas=2):
    """Returns the `tf.distribute.Strategy` called `name`.

    Arguments:
      name: "default" (no distribution), "mirrored" (all local GPUs, or
        `num_cpu_replicas` logical CPU devices when there is no GPU),
        "multiworker" (`MultiWorkerMirroredStrategy`, cluster from TF_CONFIG),
        "tpu" (`TPUStrategy` on the TPU that `TPUClusterResolver` finds).
      num_cpu_replicas: logical CPU devices for "mirrored" without GPUs. Must
        be set before TensorFlow initializes its devices (first op).
    Raises:
      ValueError: for an unknown name, or a TPU that cannot be reached.
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; expected one of: {', '.join(STRATEGIES)}")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if tf.config.list_physical_devices("GPU"):
            return tf.distribute.MirroredStrategy()
        cpus = tf.config.list_physical_devices("CPU")
        try:
            tf.config.set_logical_device_configuration(
                cpus[0], [tf.config.LogicalDeviceConfiguration()] * num_cpu_replicas
            )
        except RuntimeError:
            pass  # devices already initialized: use what exists
        devices = [device.name for device in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise ValueError(f"strategy 'tpu' needs a reachable TPU; none found ({error})") from None
    return tf.distribute.TPUStrategy(resolver)
