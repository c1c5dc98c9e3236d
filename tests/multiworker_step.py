"""One SGD training step of a small model, for tests/test_multiworker.py.

Run as `python -m tests.multiworker_step MODELS STRATEGY OUT_DIR`: for each
of the comma-separated MODELS ("maf", "gan"), builds it with a fixed seed
under STRATEGY ("default" or "multiworker", cluster from TF_CONFIG), takes
one `fit` step on a fixed global batch of 16 examples, and (on the chief)
writes the initial and the updated weights to OUT_DIR/MODEL.npz. Every
worker also writes the examples it reads of the global batch, as Keras'
`fit` distributes the dataset (`experimental_distribute_dataset`), to
OUT_DIR/shard_TASK.npy. SGD, not Adam: Adam's first step is nearly
sign(gradient) and would hide a gradient off by a constant factor.
"""

import sys

import keras
import numpy as np
import tensorflow as tf

from tfdgm import distribute
from tfdgm.models.adversarial import GAN
from tfdgm.models.autoregressive import MAF

GLOBAL_BATCH = 16


def build(name):
    if name == "maf":
        model = MAF(event_shape=(2,), num_layers=2, hidden_units=(16,))
        model.build((None, 2))
        model.compile(optimizer=keras.optimizers.SGD(0.1))
    else:
        model = GAN(event_shape=(2,), noise_dim=4, hidden_units=(16,))
        model.build((None, 2))
        model.compile(generator_optimizer=keras.optimizers.SGD(0.1),
                      discriminator_optimizer=keras.optimizers.SGD(0.1))
    return model


def main(names, strategy_name, out_dir):
    strategy = distribute.make_strategy(strategy_name)
    x = _global_batch()
    batches = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices(x).batch(GLOBAL_BATCH))
    local = strategy.experimental_local_results(next(iter(batches)))
    task = strategy.cluster_resolver.task_id if distribute.is_multi_worker(strategy) else 0
    np.save(f"{out_dir}/shard_{task}.npy", np.concatenate([np.asarray(v) for v in local]))
    for name in names.split(","):
        one_step(name, strategy, f"{out_dir}/{name}.npz")


def one_step(name, strategy, out):
    keras.utils.set_random_seed(7)
    with strategy.scope():
        model = build(name)
    # Every weight moved off its initial value (flows start at the identity,
    # whose zero last layers would leave the first layers' gradients zero).
    offsets = np.random.RandomState(1)
    for variable in model.trainable_variables:
        variable.assign(variable.numpy() + 0.3 * offsets.normal(size=variable.shape).astype(np.float32))
    initial = [v.numpy() for v in model.weights]
    data = tf.data.Dataset.from_tensor_slices(_global_batch()).batch(GLOBAL_BATCH)
    model.fit(data, epochs=1, verbose=0)
    if distribute.is_chief(strategy):
        arrays = {f"initial_{i}": v for i, v in enumerate(initial)}
        arrays.update({f"updated_{i}": v.numpy() for i, v in enumerate(model.weights)})
        np.savez(out, **arrays)


def _global_batch():
    return np.random.RandomState(0).normal(size=(GLOBAL_BATCH, 2)).astype(np.float32)


if __name__ == "__main__":
    main(*sys.argv[1:4])
