"""ConvDBN: greedy layer schedule, shapes and seeded sampling, second-layer
receptive fields against explicit sums, XLA, export, the CLI with filter PNGs."""

import json

import numpy as np
import pytest
import tensorflow as tf

from tests.checks.export import exported_outputs
from tests.helpers import recording_xla_traces
from tests.models.energy.test_conv_rbm import bars
from tests.models.energy.test_rbm import energy_calls
from tfdgm import cli
from tfdgm.distributions.rbm import BernoulliRBMDistribution
from tfdgm.models.energy import ConvDBN, ConvRBM
from tfdgm.visualize import second_layer_receptive_fields


def _small(**kwargs):
    # 8x8 -> 6x6 (3x3 filters) -> pooled 3x3 -> 2x2 (2x2 filters) -> pooled 1x1
    return ConvDBN(image_shape=(8, 8, 1), num_filters=(4, 3), filter_size=(3, 2), pool_size=(2, 2), **kwargs)


def test_greedy_training_moves_only_the_scheduled_layer():
    model = _small(sampling_steps=5)
    model.compile()
    snapshots = []

    class Snapshot(tf.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append([model.layer_filters(layer).numpy().copy() for layer in range(2)])

    start = [model.layer_filters(layer).numpy().copy() for layer in range(2)]
    model.fit(bars(128), batch_size=32, epochs=2, callbacks=[Snapshot()], verbose=0)  # one epoch per layer
    (first_0, first_1), (second_0, second_1) = snapshots
    assert not np.allclose(first_0, start[0]) and np.array_equal(first_1, start[1])  # epoch 1: layer 1 only
    assert np.array_equal(second_0, first_0) and not np.allclose(second_1, first_1)  # epoch 2: layer 2 only


def test_features_sampling_and_config():
    model = _small(sampling_steps=5, down_steps=2)
    x = bars(5)
    assert model.features(x).shape == (5, 1, 1, 3)
    assert model.features(x, layer=0).shape == (5, 3, 3, 4)
    assert model.hidden_probs(x, layer=1).shape == (5, 2, 2, 3)
    assert model.layer_filters(1).shape == (2, 2, 4, 3)
    samples = model.sample(4, seed=1).numpy()
    assert samples.shape == (4, 8, 8, 1) and samples.min() > 0.0 and samples.max() < 1.0  # E[v | h], not a draw
    np.testing.assert_array_equal(samples, model.sample(4, seed=1).numpy())
    started = model.sample(4, seed=1, start=x[:3]).numpy()
    assert started.shape == (3, 8, 8, 1)
    np.testing.assert_array_equal(started, model.sample(4, seed=1, start=x[:3]).numpy())
    assert ConvDBN.from_config(model.get_config()).get_config() == model.get_config()
    with pytest.raises(ValueError, match="multiples of pool_size"):
        ConvDBN(image_shape=(8, 8, 1), num_filters=(4, 3), filter_size=(3, 3))
    with pytest.raises(ValueError, match="no tractable log_prob"):
        model.log_prob(x)


def test_second_layer_receptive_fields_are_the_weighted_sums_of_first_layer_filters():
    rng = np.random.default_rng(0)
    first = rng.normal(size=(3, 3, 1, 2)).astype(np.float32)
    second = rng.normal(size=(2, 2, 2, 3)).astype(np.float32)
    fields = second_layer_receptive_fields(first, second, pool_size=2)
    expected = np.zeros((2 * 2 + 3 - 1, 2 * 2 + 3 - 1, 1, 3))
    for a, b, k1, k2, u, w in np.ndindex(2, 2, 2, 3, 2, 2):
        # pooling unit (a, b) of group k1 covers detection units (2a + u, 2b + w), each the
        # top-left corner of a copy of first-layer filter k1
        top, left = 2 * a + u, 2 * b + w
        expected[top:top + 3, left:left + 3, :, k2] += second[a, b, k1, k2] / 4.0 * first[:, :, :, k1]
    np.testing.assert_allclose(fields, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.xla
def test_train_step_compiles_with_xla_when_asked():
    model = _small()
    model.compile()
    assert model.jit_compile is False  # off by default: XLA's CPU convolutions are slower
    model.compile(jit_compile=True)
    with recording_xla_traces(model) as traced:
        history = model.fit(bars(64), batch_size=16, epochs=2, verbose=0)
    assert traced and all(traced), traced
    assert all(np.isfinite(values[-1]) for values in history.history.values()), history.history


def test_export_round_trip_in_a_fresh_process_importing_only_tensorflow(tmp_path):
    model = _small(sampling_steps=10)
    model.compile()
    x = bars(64)
    model.fit(x, batch_size=16, epochs=2, verbose=0)
    calls = energy_calls(x[:5], num_samples=3)
    del calls["log_prob"]  # a ConvDBN has no likelihood to export
    result = exported_outputs(model, calls, tmp_path)
    np.testing.assert_allclose(result["features"]["features"], model.features(x[:5]).numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(result["sample"]["samples"], model.sample(3, seed=9).numpy())
    np.testing.assert_array_equal(result["sample"]["samples"], result["again"]["samples"])


def test_cli_trains_on_digits_and_writes_filter_pictures(tmp_path):
    run_dir = tmp_path / "run"
    assert cli.main(["train", "conv_dbn", "--data", "digits", "--epochs", "2", "--num-examples", "256",
                     "--batch-size", "64", "--out", str(run_dir), "--quiet", "--param", "sampling_steps=20"]) == 0
    for name in ("samples.png", "filters_layer1.png", "filters_layer2.png", "metrics.json"):
        assert (run_dir / name).exists(), name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["likelihood"] == "none" and np.isfinite(metrics["reconstruction_error"])
    picture = tf.io.decode_png(tf.io.read_file(str(run_dir / "filters_layer2.png"))).numpy()
    # 40 second-layer fields of (3 * 1 + 3 - 1) = 5 pixels (3 x 3 filters over unpooled 3 x 3 filters)
    # in a 6 x 7 grid with 1-pixel gaps
    assert picture.shape == (6 * 6 + 1, 7 * 6 + 1, 1)


def test_samples_are_the_first_layer_mean_given_the_down_pass():
    """With the first layer's filters at zero, E[v | h] = sigmoid(a) whatever the
    upper layers draw (a binary draw of v would be 0 or 1), from base rates or
    from images."""
    model = _small(sampling_steps=3, down_steps=0)
    model.build()
    model.layer_filters_[0].assign(tf.zeros_like(model.layer_filters_[0]))
    model.visible_biases[0].assign([0.7])
    expected = 1.0 / (1.0 + np.exp(-0.7))
    for start in (None, bars(2)):
        np.testing.assert_allclose(model.sample(2, seed=4, start=start).numpy(), expected, rtol=1e-6)


def _with_dense_top(**kwargs):
    # 8x8 -> 6x6 (3x3 filters) -> pooled 3x3x4 -> 3x3 filters: 1x1 hidden maps, a dense RBM over the 36 units
    return ConvDBN(image_shape=(8, 8, 1), num_filters=(4, 6), filter_size=(3, 3), pool_size=(2, 1),
                   sparsity_target=[0.05, None], **kwargs)


def test_dense_top_layer_is_a_bernoulli_rbm_over_the_pooled_units_with_its_own_step():
    model = _with_dense_top(learning_rate=[1.0, 0.25], sampling_steps=3)
    reference = _with_dense_top(learning_rate=1.0)
    model.build()
    reference.build()
    assert model.is_dense(1) and not model.is_dense(0)
    assert tuple(model.visible_biases[1].shape) == (3, 3, 4) and tuple(model.visible_biases[0].shape) == (1,)
    rng = np.random.default_rng(0)
    for variable in model.trainable_variables:
        variable.assign(0.5 * rng.normal(size=variable.shape))
    reference.set_weights(model.get_weights())
    x = bars(16)
    pooled = model.features(x, layer=0).numpy().reshape(16, -1)
    top = model.layer_distribution(-1)
    rbm = BernoulliRBMDistribution(model.layer_filters(1).numpy().reshape(36, 6),
                                   model.visible_biases[1].numpy().reshape(-1), model.hidden_biases[1].numpy())
    np.testing.assert_allclose(top.free_energy(pooled).numpy(), rbm.free_energy(pooled).numpy(), rtol=1e-5,
                               atol=1e-4)
    np.testing.assert_allclose(model.features(x).numpy().reshape(16, 6), rbm.hidden_probs(pooled).numpy(),
                               rtol=1e-5, atol=1e-6)
    # the top layer's step is 0.25 times the reference's; the first layer's is the same
    seed = tf.constant([1, 2])
    for layer, ratio in ((0, 1.0), (1, 0.25)):
        got, _ = model._layer_step(layer, tf.constant(x), seed)
        expected, _ = reference._layer_step(layer, tf.constant(x), seed)
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g.numpy(), ratio * e.numpy(), rtol=1e-5, atol=1e-6)
    assert ConvDBN.from_config(model.get_config()).learning_rates == [1.0, 0.25]
    assert model.sample(3, seed=1).shape == (3, 8, 8, 1)
    with pytest.raises(ValueError, match="learning_rate"):
        _with_dense_top(learning_rate=[1.0, 0.1, 0.1])


def test_default_steps_follow_each_layers_visibles():
    """Only the first layer of a Gaussian DBN has real-valued visibles; the
    layers above it are binary and take the binary step."""
    assert ConvDBN(image_shape=(8, 8, 1), num_filters=(4, 6), filter_size=(3, 2)).learning_rates == [1.0, 1.0]
    gaussian = ConvDBN(image_shape=(8, 8, 1), num_filters=(4, 6), filter_size=(3, 2), visible="gaussian")
    assert gaussian.learning_rates == [0.1, 1.0]
    assert ConvDBN.from_config(gaussian.get_config()).learning_rates == [0.1, 1.0]
    assert ConvRBM(image_shape=(8, 8, 1), num_filters=4, filter_size=3, visible="gaussian").learning_rate == 0.1
