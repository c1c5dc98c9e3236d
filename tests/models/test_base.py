"""The model protocol: input checks, XLA, data-space bits/dim, NaN guard, replicas."""

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tests.helpers import run_python
from tfdgm.data import parse_preprocessing
from tfdgm.models import DensityModel, IndependentBernoulli, IndependentGaussian
from tfdgm.training import ResumableBackup, StopOnNaN


def test_wrong_shape_dtype_and_event_shape_raise_clear_errors():
    model = IndependentGaussian(event_shape=(28, 28, 1))
    with pytest.raises(ValueError, match=r"expected x of shape \[batch, 28, 28, 1\], got shape \[28, 28\]"):
        model.log_prob(np.zeros((28, 28), np.float32))
    with pytest.raises(ValueError, match=r"expected x of shape \[batch, 28, 28, 1\], got shape \[4, 784\]"):
        model.log_prob(np.zeros((4, 784), np.float32))
    with pytest.raises(ValueError, match="numeric dtype, got dtype <U1"):
        model.log_prob(np.full((1, 28, 28, 1), "a"))
    with pytest.raises(ValueError, match="event_shape as a tuple of positive ints"):
        IndependentGaussian(event_shape=(0, 3))
    # Integer input is accepted and cast.
    assert model.log_prob(np.zeros((2, 28, 28, 1), np.uint8)).shape == (2,)


def test_bits_per_dim_is_reported_in_data_space():
    """A Gaussian in [0, 1]-scaled space of 0..255 data: bits/dim adds log2(256)."""
    transform = parse_preprocessing(
        "dequantize,scale", info=_image_info(num_levels=256, event_shape=(2, 2, 1))
    )
    model = IndependentGaussian(event_shape=(2, 2, 1), data_transform=transform)
    y = np.random.default_rng(1).uniform(size=(5, 2, 2, 1)).astype(np.float32)
    model_nats = -model.log_prob(y).numpy()
    # Hand computation: y = x / 256, so log p_x(x) = log p_y(y) - D log 256.
    expected = (model_nats + 4 * math.log(256.0)) / (4 * math.log(2.0))
    np.testing.assert_allclose(model.bits_per_dim(y).numpy(), expected, rtol=1e-5)


def _image_info(num_levels, event_shape):
    from tfdgm.data import DatasetInfo

    return DatasetInfo(
        name="test",
        event_shape=event_shape,
        kind="image",
        num_classes=None,
        num_levels=num_levels,
        splits=("train",),
        description="test",
    )


class _Exploding(DensityModel):
    """log p(x) = w * sum(x) - log Z: a huge learning rate overflows w to inf."""

    def build(self, input_shape=None):
        self.w = self.add_weight(name="w", shape=(), initializer="zeros")
        self.built = True

    def distribution(self, context=None):
        return tfp.distributions.Independent(
            tfp.distributions.Normal(loc=self.w * tf.ones(self.event_shape), scale=1.0),
            reinterpreted_batch_ndims=1,
        )


def test_nan_loss_stops_training_and_rolls_back_to_last_good_checkpoint(tmp_path):
    model = _Exploding(event_shape=(2,))
    model.build()
    model.compile(optimizer=keras.optimizers.SGD(1e37))
    x = np.full((64, 2), 5.0, np.float32)
    backup = ResumableBackup(str(tmp_path / "checkpoints"), save_freq=1)
    guard = StopOnNaN(backup)
    model.fit(x, batch_size=8, epochs=3, callbacks=[backup, guard], verbose=0)
    assert guard.stopped_on_nan
    assert np.isfinite(model.w.numpy())  # rolled back
    metadata = json.loads((tmp_path / "checkpoints" / "training_metadata.json").read_text())
    assert metadata["epoch"] == 0


MIRRORED_SCRIPT = r"""
import json, numpy as np, keras, tensorflow as tf
from tfdgm.distribute import make_strategy
from tfdgm.models import IndependentGaussian
strategy = make_strategy("{strategy}")
x = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32) * 2 + 1
with strategy.scope():
    model = IndependentGaussian(event_shape=(3,))
    model.build((None, 3))
    model.compile(optimizer=keras.optimizers.SGD(0.1))
model.fit(x, batch_size=64, epochs=1, shuffle=False, verbose=0)
print(json.dumps({{"replicas": strategy.num_replicas_in_sync,
                  "loc": model.loc.numpy().tolist(), "log_scale": model.log_scale.numpy().tolist()}}))
"""


def test_mirrored_strategy_on_two_cpu_replicas_matches_one_device():
    results = {}
    for strategy in ("default", "mirrored"):
        done = run_python(MIRRORED_SCRIPT.format(strategy=strategy))
        assert done.returncode == 0, done.stderr[-3000:]
        results[strategy] = json.loads(done.stdout.strip().splitlines()[-1])
    assert results["default"]["replicas"] == 1
    assert results["mirrored"]["replicas"] == 2
    # One SGD step on the full batch: the same update whether split or not.
    for key in ("loc", "log_scale"):
        np.testing.assert_allclose(results["mirrored"][key], results["default"][key], rtol=1e-5, atol=1e-6)
        assert np.any(np.abs(results["default"][key]) > 1e-3)  # the step did move


def test_fit_refuses_nan_empty_and_misshapen_arrays():
    model = IndependentGaussian(event_shape=(3,))
    model.compile()
    with pytest.raises(ValueError, match="expected finite training data, got 1 NaN/inf"):
        model.fit(np.array([[0.0, np.nan, 1.0]], np.float32), verbose=0)
    with pytest.raises(ValueError, match="at least one training example"):
        model.fit(np.zeros((0, 3), np.float32), verbose=0)
    with pytest.raises(ValueError, match=r"expected x of shape \[batch, 3\], got shape \[1, 4\]"):
        model.fit(np.zeros((8, 4), np.float32), verbose=0)
    dataset = tf.data.Dataset.from_tensor_slices(np.zeros((8, 4), np.float32)).batch(4)
    with pytest.raises(ValueError, match=r"expected x of shape \[batch, 3\]"):
        model.fit(dataset, verbose=0)


def test_environment_turns_the_xla_default_off_and_rejects_other_values(monkeypatch):
    model = IndependentBernoulli(event_shape=(6,))
    monkeypatch.delenv("TFDGM_JIT_COMPILE", raising=False)
    model.compile()
    assert model.jit_compile is True  # XLA by default on CPU too (Keras' "auto" would say False)
    monkeypatch.setenv("TFDGM_JIT_COMPILE", "0")
    model.compile()
    assert model.jit_compile is False
    model.compile(jit_compile=True)  # an explicit argument wins
    assert model.jit_compile is True
    monkeypatch.setenv("TFDGM_JIT_COMPILE", "maybe")
    with pytest.raises(ValueError, match="TFDGM_JIT_COMPILE to be 0 or 1"):
        model.compile()


def test_fit_on_a_dataset_does_not_warn_about_shuffle():
    import warnings

    model = IndependentGaussian(event_shape=(2,))
    model.compile(optimizer="adam")
    data = tf.data.Dataset.from_tensor_slices(np.zeros([8, 2], np.float32)).batch(4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(data, epochs=1, verbose=0)
    assert not [w for w in caught if "shuffle" in str(w.message)]
    with warnings.catch_warnings(record=True) as caught:  # asked for explicitly: Keras still says it ignores it
        warnings.simplefilter("always")
        model.fit(data, epochs=1, verbose=0, shuffle=True)
    assert [w for w in caught if "shuffle" in str(w.message)]


@pytest.mark.parametrize("steps_per_execution", [1, 10])
def test_the_first_fit_traces_the_train_step_once(steps_per_execution):
    """The optimizer's slots exist before the step is traced: slots created in
    the first trace make tf.function trace it again without variable creation."""
    from tfdgm.models import MAF

    model = MAF(event_shape=(2,), num_layers=1, hidden_units=[4])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), steps_per_execution=steps_per_execution)
    traces = []
    step = model.train_step
    model.train_step = lambda data: traces.append(1) or step(data)
    model.fit(np.random.default_rng(0).normal(size=(16, 2)).astype(np.float32), batch_size=8, epochs=2, verbose=0)
    assert len(traces) == 1
    assert len(model.optimizer.variables) > 1  # the slots are there: Adam's momenta and velocities
