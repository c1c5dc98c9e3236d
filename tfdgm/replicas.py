"""What a train step does under several replicas (`tf.distribute`): one
step seed common to every replica and worker, this replica's rows of a draw
for the global batch, a seed of its own, and sums over all replicas. Outside
a multi-replica strategy each is the single-process equivalent, so a model
calls them unconditionally. Which strategy runs the step is
`tfdgm.distribute`.
"""

import tensorflow as tf

__all__ = ["step_seed", "replica_rows", "replica_seed", "replica_sum"]


def step_seed(seed_generator, step):
    """The stateless seed `[2]` int32 of a train step.

    Outside replicas: `seed_generator.next()` (the generator's state advances
    by one per call). Under several replicas, whose replica context cannot
    assign the generator's state, the state offset by `step` (e.g. the
    optimizer's `iterations`): the same on every replica and every worker,
    a new one each step, and the one `next()` gives at the first step of a
    fresh model, so that a distributed step and a single-process step draw
    the same numbers.
    """
    if tf.distribute.get_strategy().num_replicas_in_sync > 1:
        state = tf.convert_to_tensor(seed_generator.state)
        offset = tf.stack([tf.zeros([], state.dtype), tf.cast(step, state.dtype)])
        return tf.cast(state + offset, tf.int32)
    return tf.cast(seed_generator.next(), tf.int32)


def replica_rows(sample, batch_size):
    """This replica's `batch_size` rows of a draw for the global batch.

    `sample(n)` draws n rows from a step seed common to all replicas
    (`step_seed`). Under several replicas it is called for the global batch
    (`batch_size` times the replicas) and replica r keeps rows
    [r * batch_size, (r + 1) * batch_size): the replicas together use the
    numbers one process would for the same global batch, rather than one
    draw repeated on every replica. Outside replicas: `sample(batch_size)`.
    """
    strategy = tf.distribute.get_strategy()
    context = tf.distribute.get_replica_context()
    replicas = strategy.num_replicas_in_sync
    if replicas == 1 or context is None:
        return sample(batch_size)
    rows = sample(batch_size * replicas)
    start = tf.cast(context.replica_id_in_sync_group, tf.int32) * batch_size
    return rows[start:start + batch_size]


def replica_seed(seed):
    """`seed` with the replica's id folded in under several replicas (each
    replica, on every worker, then draws its own numbers: its own Gibbs
    chains); `seed` unchanged otherwise."""
    context = tf.distribute.get_replica_context()
    if tf.distribute.get_strategy().num_replicas_in_sync == 1 or context is None:
        return seed
    return tf.random.experimental.stateless_fold_in(seed, tf.cast(context.replica_id_in_sync_group, tf.int32))


def replica_sum(values):
    """The sums over all replicas of `values` (a list of tensors) under
    several replicas, e.g. the statistics of every worker's shard; `values`
    unchanged otherwise."""
    context = tf.distribute.get_replica_context()
    if tf.distribute.get_strategy().num_replicas_in_sync == 1 or context is None:
        return values
    return context.all_reduce(tf.distribute.ReduceOp.SUM, values)
