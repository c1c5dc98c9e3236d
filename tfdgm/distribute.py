"""`tf.distribute` strategies selected by name (`--strategy`), and what a
multi-worker run needs beyond Keras: chief-only outputs, the chief's state
broadcast on resume, scalar logs Keras 3 can reduce across workers, and one
clear error when a worker is lost. docs/scaling.md is the user's guide.

`mirrored` on a machine without GPUs splits the CPU into logical devices so
that the multi-replica code path (per-replica batches, all-reduced gradients)
runs and is tested anywhere; with GPUs it mirrors over them.

`multiworker` is `tf.distribute.MultiWorkerMirroredStrategy` with its cluster
from `TF_CONFIG`. Every worker runs the same `tfdgm train` command; the global
batch (`--batch-size`) is split over all replicas of all workers, and each
worker reads its shard of every global batch.
"""

import atexit
import contextlib
import functools
import json
import os
import re
import shutil
import tempfile

import keras
import tensorflow as tf

__all__ = [
    "STRATEGIES",
    "make_strategy",
    "WorkerLost",
    "is_multi_worker",
    "is_chief",
    "worker_output_directory",
    "broadcast_from_chief",
    "ChiefStateBroadcast",
    "reducible_logs",
    "worker_failures",
    "translate_worker_failures",
]

STRATEGIES = ("default", "mirrored", "multiworker", "tpu")

#: Seconds a collective (gradient all-reduce) may wait for the other workers
#: before the step fails; `TFDGM_COLLECTIVE_TIMEOUT` overrides.
DEFAULT_COLLECTIVE_TIMEOUT = 120
#: Seconds without a heartbeat after which the coordination service declares
#: a worker dead and fails every other worker; `TFDGM_HEARTBEAT_TIMEOUT` overrides.
DEFAULT_HEARTBEAT_TIMEOUT = 20
#: Seconds the workers wait for each other to start; `TFDGM_REGISTER_TIMEOUT` overrides.
DEFAULT_REGISTER_TIMEOUT = 300


class WorkerLost(ValueError):
    """A worker of a multi-worker run stopped (killed, crashed, unreachable)."""


def _seconds_from_environment(name, default):
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise ValueError(f"expected {name} to be a positive number of seconds, got {text!r}")
    return value


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
      ValueError: for an unknown name, a TF_CONFIG that is malformed, or a
        TPU that cannot be reached.
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
        return _multi_worker_strategy()
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise ValueError(f"strategy 'tpu' needs a reachable TPU; none found ({error})") from None
    return tf.distribute.TPUStrategy(resolver)


def _cluster_from_environment():
    """(cluster dict, task dict) of TF_CONFIG, checked; ({}, {}) without TF_CONFIG."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        return {}, {}
    try:
        config = json.loads(text)
        cluster, task = config.get("cluster", {}), config.get("task", {})
        workers = list(cluster.get("chief", [])) + list(cluster.get("worker", []))
        task_type, index = task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(
            "expected TF_CONFIG as JSON like "
            '{"cluster": {"worker": ["host1:port", "host2:port"]}, "task": {"type": "worker", "index": 0}}, '
            f"got {text!r} ({error})"
        ) from None
    if task_type not in cluster or not 0 <= index < len(cluster[task_type]):
        raise ValueError(f"TF_CONFIG's task {task} is not in its cluster {cluster}")
    if not workers:
        raise ValueError(f"TF_CONFIG's cluster lists no chief or worker: {cluster}")
    return cluster, task


def _multi_worker_strategy():
    """`MultiWorkerMirroredStrategy` whose collectives time out and whose
    coordination service declares a silent worker dead, so that a lost worker
    fails the others instead of leaving them blocked in an all-reduce."""
    cluster, _ = _cluster_from_environment()
    if cluster:
        _configure_coordination_service(cluster)
    options = tf.distribute.experimental.CommunicationOptions(
        timeout_seconds=_seconds_from_environment("TFDGM_COLLECTIVE_TIMEOUT", DEFAULT_COLLECTIVE_TIMEOUT)
    )
    global _MULTI_WORKER_STARTED, _MULTI_WORKER_STRATEGY
    if _MULTI_WORKER_STRATEGY is not None:  # a process joins its cluster once
        return _MULTI_WORKER_STRATEGY
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    except (tf.errors.OpError, RuntimeError) as error:
        raise WorkerLost(_lost_message(error, "while the workers connected")) from None
    _MULTI_WORKER_STARTED = _MULTI_WORKER_STARTED or is_multi_worker(strategy)
    _MULTI_WORKER_STRATEGY = strategy
    return strategy


#: Whether this process has joined a multi-worker cluster (errors of its
#: collectives then mean a lost worker).
_MULTI_WORKER_STARTED = False
_MULTI_WORKER_STRATEGY = None


def _configure_coordination_service(cluster):
    """The coordination service MultiWorkerMirroredStrategy starts, with
    tfdgm's heartbeat and start-up timeouts (the strategy keeps a service
    configured before it). TensorFlow exposes this only through its eager
    context (`configure_coordination_service`, TF 2.21)."""
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.eager import context

    if context.context().coordination_service is not None:
        return
    jobs = [
        coordination_config_pb2.CoordinatedJob(name=job, num_tasks=len(cluster[job]))
        for job in ("chief", "worker")
        if job in cluster
    ]
    leader = f"/job:{'chief' if 'chief' in cluster else 'worker'}/replica:0/task:0"
    context.context().configure_coordination_service(
        service_type="standalone",
        service_leader=leader,
        coordinated_jobs=jobs,
        heartbeat_timeout_in_ms=int(
            1000 * _seconds_from_environment("TFDGM_HEARTBEAT_TIMEOUT", DEFAULT_HEARTBEAT_TIMEOUT)
        ),
        cluster_register_timeout_in_ms=int(
            1000 * _seconds_from_environment("TFDGM_REGISTER_TIMEOUT", DEFAULT_REGISTER_TIMEOUT)
        ),
        shutdown_barrier_timeout_in_ms=int(
            1000 * _seconds_from_environment("TFDGM_HEARTBEAT_TIMEOUT", DEFAULT_HEARTBEAT_TIMEOUT)
        ),
    )


# ------------------------------------------------------------------- roles
def is_multi_worker(strategy=None):
    """True under a `MultiWorkerMirroredStrategy` spanning several workers."""
    strategy = strategy or tf.distribute.get_strategy()
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and bool(
        strategy.extended._in_multi_worker_mode()  # no public accessor in TF 2.21
    )


def _task(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return None, None
    return resolver.task_type, resolver.task_id


def is_chief(strategy=None):
    """Whether this process writes the run's outputs: always outside a
    multi-worker run; in one, the task "chief" or, without one, worker 0."""
    strategy = strategy or tf.distribute.get_strategy()
    if not is_multi_worker(strategy):
        return True
    task_type, task_id = _task(strategy)
    if task_type == "chief":
        return True
    has_chief = "chief" in strategy.cluster_resolver.cluster_spec().as_dict()
    return task_type == "worker" and task_id == 0 and not has_chief


def worker_output_directory(run_dir, strategy=None):
    """Where this worker writes the run's outputs: `run_dir` on the chief; on
    any other worker a fresh temporary directory (TensorFlow's rule for
    multi-worker checkpoints: every worker saves, only the chief's copy is
    kept), deleted when the process exits."""
    strategy = strategy or tf.distribute.get_strategy()
    if is_chief(strategy):
        return run_dir
    task_type, task_id = _task(strategy)
    directory = tempfile.mkdtemp(prefix=f"tfdgm-{task_type}{task_id}-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return directory


# ------------------------------------------------------------ resumption
def broadcast_from_chief(variables, strategy=None):
    """Gives every worker the chief's values of `variables` (in place).

    One sum all-reduce in which only the chief's first replica contributes
    its values (the others contribute zeros). Integer and half-precision
    values travel as float64 / float32 and are cast back (exact for the
    integers a training state holds: step counters, seeds below 2**53).
    Every worker must call it with the same variables in the same order.
    """
    strategy = strategy or tf.distribute.get_strategy()
    variables = list(variables)
    if not variables:
        return

    @tf.function
    def chief_values():
        def contribute():
            context = tf.distribute.get_replica_context()
            first = tf.equal(context.replica_id_in_sync_group, 0)
            parts = [_wide(tf.convert_to_tensor(v)) for v in variables]
            parts = [tf.where(first, part, tf.zeros_like(part)) for part in parts]
            summed = list(parts)
            # One all-reduce per dtype, in the same order on every worker.
            for dtype in sorted({part.dtype for part in parts}, key=lambda d: d.name):
                indices = [i for i, part in enumerate(parts) if part.dtype == dtype]
                totals = context.all_reduce(tf.distribute.ReduceOp.SUM, [parts[i] for i in indices])
                for i, value in zip(indices, totals):
                    summed[i] = value
            return summed

        return strategy.experimental_local_results(strategy.run(contribute))[0]

    for variable, value in zip(variables, chief_values()):
        variable.assign(tf.cast(value, variable.dtype))


def _wide(value):
    if value.dtype in (tf.float16, tf.bfloat16):
        return tf.cast(value, tf.float32)
    if value.dtype.is_floating:
        return value
    return tf.cast(value, tf.float64)


class ChiefStateBroadcast(keras.callbacks.Callback):
    """After a resumable backup restored the chief (`on_train_begin`), gives
    every worker the chief's weights, optimizer state and epoch, so that
    `--resume` needs the checkpoint on the chief only.

    Place it after the backup callback in the callback list.
    """

    def on_train_begin(self, logs=None):
        strategy = self.model.distribute_strategy
        if not is_multi_worker(strategy):
            return
        variables = list(self.model.variables)
        optimizers = [self.model.optimizer] + [
            getattr(self.model, name, None) for name in ("generator_optimizer", "discriminator_optimizer")
        ]
        seen = set()
        for optimizer in optimizers:
            if optimizer is not None and id(optimizer) not in seen and optimizer.built:
                seen.add(id(optimizer))
                variables += list(optimizer.variables)
        unique = list({id(v): v for v in variables}.values())
        with strategy.scope():
            epoch = tf.Variable(float(self.model._initial_epoch or 0), trainable=False)
        broadcast_from_chief(unique + [epoch], strategy)
        self.model._initial_epoch = int(epoch.numpy()) or None


# ------------------------------------------------------------------- steps
def reducible_logs(step):
    """Wraps a `train_step` / `test_step` so that Keras can reduce its logs
    over several workers.

    Keras 3.15 reduces a step's logs under a multi-worker
    `MultiWorkerMirroredStrategy` by `strategy.reduce("MEAN", value, axis=0)`,
    which fails on the scalar logs every step returns ("Invalid reduction
    dimension 0 for input with 0 dimensions"). Scalars are given the shape
    [1] here, so the reduction averages the replicas' values into a scalar.
    Elsewhere the step is returned unchanged.
    """

    @functools.wraps(step)
    def wrapped(data):
        logs = step(data)
        if not is_multi_worker():
            return logs
        return tf.nest.map_structure(
            lambda value: tf.reshape(value, [1]) if _is_scalar_tensor(value) else value, logs
        )

    return wrapped


def _is_scalar_tensor(value):
    return isinstance(value, (tf.Tensor, tf.Variable)) and value.shape.rank == 0


# ---------------------------------------------------------------- failures
_LOST_ERRORS = (
    tf.errors.UnavailableError,
    tf.errors.DeadlineExceededError,
    tf.errors.CancelledError,
    tf.errors.AbortedError,
    tf.errors.InternalError,
    tf.errors.UnknownError,
)


def _lost_message(error, when="during training"):
    text = str(error)
    tasks = sorted(set(re.findall(r"/job:\w+/replica:\d+/task:\d+", text)))
    if "unhealthy" in text or "heartbeat" in text:
        cause = "stopped sending heartbeats"
    elif isinstance(error, tf.errors.DeadlineExceededError):
        cause = "did not answer a collective in time"
    elif isinstance(error, tf.errors.UnavailableError):
        cause = "became unreachable (connection lost)"
    else:
        lines = [line.strip() for line in text.splitlines() if line.strip() and "Graph execution error" not in line]
        cause = f"{type(error).__name__}: {lines[0][:200] if lines else 'no detail'}"
    who = ", ".join(tasks) if tasks else "a worker"
    return (
        f"multi-worker run stopped {when}: {who} {cause}; restart every worker with the same "
        "command and --resume to continue from the last checkpoint"
    )


@contextlib.contextmanager
def worker_failures(strategy=None):
    """Turns the errors TensorFlow raises when a peer worker dies (a
    collective that timed out or was cancelled, a coordination service that
    lost a heartbeat) into one `WorkerLost` with what to do next. Outside a
    multi-worker run it changes nothing."""
    strategy = strategy or tf.distribute.get_strategy()
    try:
        yield
    except _LOST_ERRORS as error:
        if not (_MULTI_WORKER_STARTED or is_multi_worker(strategy)):
            raise
        raise WorkerLost(_lost_message(error)) from None


def translate_worker_failures(function):
    """Decorator: `function` raises `WorkerLost` (a `ValueError`, which the
    CLI prints as one line) where a peer worker's death surfaced as a
    TensorFlow error, once this process has joined a multi-worker cluster."""

    @functools.wraps(function)
    def wrapped(*args, **kwargs):
        with worker_failures():
            return function(*args, **kwargs)

    return wrapped
