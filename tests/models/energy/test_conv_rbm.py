"""ConvRBM: CD training raises the exact likelihood, the sparsity target holds
the hidden activity down, XLA train steps, seeded sampling, shapes, export."""

import numpy as np
import pytest
import tensorflow as tf

from tests.checks.export import exported_outputs
from tests.helpers import recording_xla_traces
from tests.models.energy.test_rbm import energy_calls
from tfdgm.models import get
from tfdgm.models.energy import ConvRBM
from tfdgm.visualize import conv_filter_grid


def bars(num, size=8, length=3, seed=0):
    """Binary images with one horizontal or vertical bar of `length` at a random place."""
    rng = np.random.default_rng(seed)
    images = np.zeros((num, size, size, 1), np.float32)
    for image in images:
        row, col = rng.integers(0, size - length + 1, 2)
        if rng.uniform() < 0.5:
            image[row, col:col + length, 0] = 1.0
        else:
            image[row:row + length, col, 0] = 1.0
    return images


def test_training_increases_the_exact_log_likelihood():
    x = bars(512, size=4, length=2)
    model = ConvRBM(image_shape=(4, 4, 1), num_filters=2, filter_size=3, sparsity_target=None,
                    learning_rate=0.1)
    model.compile()
    assert model.enumerable  # 2^16 visible states
    before = float(tf.reduce_mean(model.log_prob(x)))
    history = model.fit(x, batch_size=32, epochs=15, verbose=0)
    after = float(tf.reduce_mean(model.log_prob(x)))
    # At the start p(v) is nearly uniform (-16 log 2 = -11.1 nats); bars of 2 in a 4x4 image
    # take 24 states (3.2 nats). A 2-filter model cannot reach that; +2 nats is far beyond noise.
    assert after > before + 2.0, (before, after)
    assert history.history["reconstruction_error"][-1] < history.history["reconstruction_error"][0]


def test_sparsity_target_is_reached():
    x = bars(512, seed=1)
    activity = {}
    for target in (None, 0.02):
        model = ConvRBM(image_shape=(8, 8, 1), num_filters=6, filter_size=3, sparsity_target=target,
                        sparsity_cost=1.0)
        model.compile()
        model.fit(x, batch_size=32, epochs=4, verbose=0)
        activity[target] = float(tf.reduce_mean(model.hidden_probs(x)))
    # the regularizer moves each group's bias until its mean detection activation is the target
    assert activity[None] > 0.05, activity
    assert abs(activity[0.02] - 0.02) < 0.005, activity


@pytest.mark.xla
@pytest.mark.parametrize("visible", ["binary", "gaussian"])
def test_train_step_compiles_with_xla(visible):
    """XLA is off by default (`supports_xla = False`, so the test contract skips
    it), but the step compiles when asked for."""
    model = get("conv_rbm")(image_shape=(8, 8, 1), num_filters=3, filter_size=3, visible=visible)
    model.compile()
    assert model.jit_compile is False  # off by default: XLA's CPU convolutions are slower
    model.compile(jit_compile=True)
    x = bars(32)
    x = x if visible == "binary" else x + np.random.default_rng(0).normal(size=x.shape).astype(np.float32)
    with recording_xla_traces(model) as traced:
        model.fit(x, batch_size=16, epochs=1, verbose=0)
    assert traced and all(traced), traced  # fit traced its train step inside XLA


def test_shapes_sampling_and_config():
    model = ConvRBM(image_shape=(8, 8, 1), num_filters=4, filter_size=3, sampling_steps=5)
    x = bars(10)
    assert model.features(x).shape == (10, 3, 3, 4)  # 6x6 hidden maps, pooled by 2
    assert model.hidden_probs(x).shape == (10, 6, 6, 4)
    assert model.filters().shape == (3, 3, 1, 4)
    assert model.free_energy(x).shape == (10,)
    samples = model.sample(6, seed=3).numpy()
    assert samples.shape == (6, 8, 8, 1) and set(np.unique(samples)) <= {0.0, 1.0}
    np.testing.assert_array_equal(samples, model.sample(6, seed=3).numpy())
    assert conv_filter_grid(model.filters().numpy()).shape == (2 * 4 + 1, 2 * 4 + 1, 1)
    clone = ConvRBM.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    with pytest.raises(ValueError, match="multiples of pool_size"):
        ConvRBM(image_shape=(8, 8, 1), filter_size=4)
    with pytest.raises(ValueError, match="shape \\[batch, 8, 8, 1\\]"):
        model.features(np.zeros((2, 8, 8)))


def test_default_hyperparameters_fit_the_datasets():
    from tfdgm.data import dataset_info

    for name in ("digits", "fashion_mnist"):
        info = dataset_info(name)
        model = ConvRBM(event_shape=info.event_shape, **ConvRBM.default_hyperparameters(info))
        assert model.hidden_shape[0] % model.pool_size == 0
        assert ConvRBM.default_preprocess(info) == "binarize:static"
        assert ConvRBM.default_preprocess(info, params={"visible": "gaussian"}).startswith("dequantize,scale")


def test_export_round_trip_in_a_fresh_process_importing_only_tensorflow(tmp_path):
    model = ConvRBM(image_shape=(4, 4, 1), num_filters=2, filter_size=3, sampling_steps=10)
    model.compile()
    x = bars(64, size=4, length=2)
    model.fit(x, batch_size=16, epochs=1, verbose=0)
    result = exported_outputs(model, energy_calls(x[:5], num_samples=3), tmp_path)  # log Z exactly (2^16 states)
    np.testing.assert_allclose(result["features"]["features"], model.features(x[:5]).numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(result["log_prob"]["log_prob"], model.log_prob(x[:5]).numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(result["sample"]["samples"], model.sample(3, seed=9).numpy())
    np.testing.assert_array_equal(result["sample"]["samples"], result["again"]["samples"])
