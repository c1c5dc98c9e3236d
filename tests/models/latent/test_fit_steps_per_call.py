"""`fit` runs several train steps per compiled call unless a callback has
batch-level hooks, and either way trains the same model (VAE as the example;
the choice lives in `GenerativeModel.choose_steps_per_execution`)."""

import keras
import numpy as np
import tensorflow as tf

from tfdgm.models import VAE


def _data(num=230, dims=6, seed=0):
    return (np.random.default_rng(seed).random((num, dims)) < 0.3).astype(np.float32)


def _vae(steps_per_execution=None):
    keras.utils.set_random_seed(7)
    model = VAE(event_shape=(6,), hidden_units=[8], latent_dim=2)
    model.compile(steps_per_execution=steps_per_execution)
    return model


class _EveryBatch(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches, self.nll = [], []

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append(batch)
        self.nll.append(float(logs["nll"]))


def test_without_batch_hooks_several_steps_per_call_and_one_update_per_batch():
    model = _vae()
    model.fit(_data(), batch_size=10, epochs=2, verbose=0)  # 23 batches of 10 (230 rows)
    assert model.steps_per_execution == model.auto_steps_per_execution > 1
    assert int(model.optimizer.iterations) == 2 * 23


def test_a_batch_level_callback_sees_every_batch_and_its_running_mean():
    model = _vae()
    seen = _EveryBatch()
    history = model.fit(_data(), batch_size=10, epochs=1, verbose=0, callbacks=[seen])
    assert model.steps_per_execution == 1
    assert seen.batches == list(range(23))
    # The logs are running means over the epoch: the last batch's is the epoch's.
    np.testing.assert_allclose(seen.nll[-1], history.history["nll"][-1], rtol=1e-6)


def test_several_steps_per_call_train_the_same_weights_as_one():
    x = _data()
    several, one = _vae(), _vae(steps_per_execution=1)
    logs = []
    for model in (several, one):
        keras.utils.set_random_seed(11)  # the same batch order
        logs.append(model.fit(x, batch_size=10, epochs=2, verbose=0).history["nll"])
    assert several.steps_per_execution > 1 and one.steps_per_execution == 1
    for a, b in zip(several.get_weights(), one.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logs[0], logs[1], rtol=1e-5)


def test_steps_per_epoch_is_kept_on_a_repeated_dataset():
    model = _vae()
    dataset = tf.data.Dataset.from_tensor_slices(_data()).batch(10).repeat()
    model.fit(dataset, steps_per_epoch=7, epochs=2, verbose=0)  # 7: a divisor of 7 per call
    assert 7 % model.steps_per_execution == 0
    assert int(model.optimizer.iterations) == 14


def test_a_given_steps_per_execution_is_kept_and_auto_is_saved_as_not_given():
    model = _vae(steps_per_execution=3)
    model.fit(_data(), batch_size=10, epochs=1, verbose=0, callbacks=[_EveryBatch()])
    assert model.steps_per_execution == 3
    assert _vae().get_compile_config()["steps_per_execution"] is None
