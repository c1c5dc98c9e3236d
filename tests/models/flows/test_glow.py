"""Glow: step/level mathematics, actnorm data init inside fit (and across a resume),
temperature, class-conditional prior, XLA, export."""

import keras
import numpy as np
import pytest

from tests.checks.export import exported_outputs
from tests.checks.flows import (assert_export_round_trip, assert_model_bijector_correct,
                                assert_sample_log_prob_matches_bijector_path, grid_mass, randomize,
                                two_blobs)
from tfdgm.bijectors.actnorm import ActNormLayer
from tfdgm.bijectors.squeeze import Squeeze
from tfdgm.models import Glow

IMAGE = dict(event_shape=(4, 4, 2), num_levels=2, num_steps=2, hidden_channels=8)
SMALL = dict(event_shape=(4, 4, 1), num_levels=1, num_steps=1, hidden_channels=4)


@pytest.mark.parametrize("kwargs", [dict(event_shape=(2,), num_steps=3, hidden_units=[8]),
                                    dict(event_shape=(9,), num_steps=2, hidden_units=[8]), IMAGE])
def test_log_det_matches_autodiff_jacobian(kwargs):
    model = randomize(Glow(**kwargs), scale=0.05, seed=1)
    assert_model_bijector_correct(model, atol=3e-4)
    assert_sample_log_prob_matches_bijector_path(model, n=4)


def _actnorms(model):
    return [layer for layer in model.step_layers if isinstance(layer, ActNormLayer)]


def test_log_prob_and_its_gradient_run_each_coupling_network_once(monkeypatch):
    """Through actnorm, 1x1 conv, squeeze, factor-out and the split prior, each
    coupling network's output serves its inverse and its log-det (one pass,
    one backward product per step)."""
    import tensorflow as tf

    from tfdgm.bijectors.coupling import CouplingLayer

    calls, apply_network = [], CouplingLayer._apply_network

    def counted(layer, *args, **kwargs):
        calls.append(id(layer))
        return apply_network(layer, *args, **kwargs)

    model = randomize(Glow(**IMAGE), scale=0.05, seed=1)
    couplings = [layer for layer in model._flatten_layers() if isinstance(layer, CouplingLayer)]
    assert len(couplings) == 2 * 2 + 1  # two steps per level, one split prior
    monkeypatch.setattr(CouplingLayer, "_apply_network", counted)
    x = np.random.default_rng(0).normal(size=(3, 4, 4, 2)).astype(np.float32)
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(model.log_prob(x))
    gradients = tape.gradient(loss, model.trainable_variables)
    assert sorted(calls) == sorted(id(layer) for layer in couplings)
    assert all(gradient is not None for gradient in gradients)


def test_actnorm_data_init_happens_inside_fit_and_survives_a_resume(tmp_path):
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(32, 4, 4, 1)).astype(np.float32)
    model = Glow(**SMALL)
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    assert not model.is_initialized
    model.fit(x, batch_size=32, epochs=1, shuffle=False, verbose=0)
    assert model.is_initialized
    first = _actnorms(model)[0]
    squeezed = Squeeze().forward(x).numpy()
    np.testing.assert_allclose(first.loc.numpy(), squeezed.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-4)
    # The latent of the init batch is standardized, level by level.
    z = model.initialize(x).numpy()
    np.testing.assert_allclose(z.mean(axis=(0, 1, 2)), 0.0, atol=0.2)

    model.save_weights(str(tmp_path / "glow.weights.h5"))
    resumed = Glow(**SMALL)
    resumed.build((None, 4, 4, 1))
    resumed.load_weights(str(tmp_path / "glow.weights.h5"))
    assert resumed.is_initialized
    resumed.compile(optimizer=keras.optimizers.SGD(0.0))
    resumed.fit(x * 10.0 - 5.0, batch_size=32, epochs=1, verbose=0)  # no re-initialization
    np.testing.assert_allclose(_actnorms(resumed)[0].loc.numpy(), first.loc.numpy(), rtol=1e-6)


def test_temperature_zero_gives_the_decoded_zero_latent():
    model = randomize(Glow(**IMAGE), scale=0.05, seed=2)
    cold = model.sample(3, seed=0, temperature=0.0).numpy()
    decoded = model.decode(np.zeros((1, 4, 4, 2), np.float32)).numpy()
    np.testing.assert_allclose(cold, np.repeat(decoded, 3, axis=0), rtol=1e-5, atol=1e-5)
    warm = model.sample(200, seed=0, temperature=1.0).numpy()
    cool = model.sample(200, seed=0, temperature=0.5).numpy()
    assert np.std(cool - decoded) < np.std(warm - decoded)


def test_class_conditional_prior_normalizes_per_class_and_mixes_uniformly():
    model = randomize(Glow(event_shape=(2,), num_steps=2, hidden_units=[8], num_classes=3), scale=0.3, seed=3)
    for label in range(3):
        assert abs(grid_mass(model, -12.0, 12.0, 401, context=label) - 1.0) < 0.02
    x = two_blobs(6, seed=4)
    per_class = model.class_log_prob(x).numpy()
    assert per_class.shape == (6, 3)
    np.testing.assert_allclose(model.log_prob(x).numpy(),
                               np.log(np.mean(np.exp(per_class), axis=1)), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(model.log_prob(x, context=np.full([6], 2)).numpy(), per_class[:, 2], rtol=1e-5)
    labels = np.array([0, 1, 2, 1])
    assert_sample_log_prob_matches_bijector_path(model, n=4, context=labels)
    assert model.sample(5, seed=1, context=1).shape == (5, 2)


def test_class_conditional_training_uses_labels():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, size=512)
    x = (rng.normal(size=(512, 2)) * 0.3 + np.where(labels[:, None] == 1, 2.0, -2.0)).astype(np.float32)
    model = Glow(event_shape=(2,), num_steps=2, hidden_units=[16], num_classes=2)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, labels, batch_size=128, epochs=20, verbose=0)
    per_class = model.class_log_prob(x).numpy()
    assert np.mean(np.argmax(per_class, axis=1) == labels) > 0.95


def test_levels_follow_what_divides_the_image():
    assert Glow(event_shape=(28, 28, 1), num_steps=1, hidden_channels=4).num_levels == 2
    assert Glow(event_shape=(8, 8, 1), num_steps=1, hidden_channels=4).num_levels == 3
    with pytest.raises(ValueError, match=r"num_levels=3 squeezes 3 time\(s\).*got 28x28, which allows num_levels <= 2"):
        Glow(event_shape=(28, 28, 1), num_levels=3)
    with pytest.raises(ValueError, match="num_levels <= 0"):
        Glow(event_shape=(7, 7, 1))



def test_export_round_trip_in_a_fresh_process(tmp_path):
    model = randomize(Glow(event_shape=(4, 4, 1), num_levels=1, num_steps=2, hidden_channels=4), scale=0.05)
    x = np.random.default_rng(7).normal(size=(3, 4, 4, 1)).astype(np.float32)
    assert_export_round_trip(model, x, tmp_path)


def test_class_conditional_export_has_per_class_log_prob_and_sampling(tmp_path):
    """A fresh process importing only TensorFlow: log p(x | y), x ~ p(x | y)
    and the per-class table equal the in-memory model (and the mixture is
    their mean), and samples of a label are deterministic for a seed."""
    model = randomize(Glow(event_shape=(4, 4, 1), num_levels=1, num_steps=2, hidden_channels=4, num_classes=3),
                      scale=0.05)
    x = np.random.default_rng(8).normal(size=(4, 4, 4, 1)).astype(np.float32)
    labels = np.array([2, 0, 1, 2], np.int32)
    result = exported_outputs(model, {
        "given": ("log_prob_given_label", {"x": x, "label": labels}),
        "table": ("class_log_prob", {"x": x}), "mixture": ("log_prob", {"x": x}),
        "sample": ("sample_given_label", {"n": 5, "seed": 9, "label": 1}),
        "again": ("sample_given_label", {"n": 5, "seed": 9, "label": 1}),
    }, tmp_path)
    result = {"given": result["given"]["log_prob"], "table": result["table"]["log_prob"],
              "mixture": result["mixture"]["log_prob"], "sample": result["sample"]["samples"],
              "again": result["again"]["samples"]}
    np.testing.assert_array_equal(result["sample"], result["again"])
    np.testing.assert_allclose(result["given"], model.log_prob(x, context=labels).numpy(), rtol=1e-4, atol=1e-3)
    table = np.array(result["table"])
    np.testing.assert_allclose(table, model.class_log_prob(x).numpy(), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(result["given"], table[np.arange(4), labels], rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(result["mixture"], np.log(np.mean(np.exp(table), 1)), rtol=1e-4, atol=1e-3)
    samples = np.array(result["sample"])
    np.testing.assert_allclose(samples, model.sample(5, seed=9, context=1).numpy(), rtol=1e-4, atol=1e-4)
    # The class prior differs per class, so the label changes the samples.
    assert np.abs(samples - model.sample(5, seed=9, context=0).numpy()).max() > 1e-3


def test_train_step_after_initialization_runs_each_coupling_network_once(monkeypatch):
    """The actnorm initialization pass (every step's network, data -> latent)
    runs only while an actnorm is uninitialized; afterwards a train step is
    one log_prob pass, one network call per coupling."""
    import tensorflow as tf

    from tfdgm.bijectors.coupling import CouplingLayer

    calls, apply_network = [], CouplingLayer._apply_network

    def counted(layer, *args, **kwargs):
        calls.append(id(layer))
        return apply_network(layer, *args, **kwargs)

    model = Glow(**IMAGE)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x = tf.constant(np.random.default_rng(0).normal(size=(8, 4, 4, 2)).astype(np.float32))
    monkeypatch.setattr(CouplingLayer, "_apply_network", counted)
    model.train_step(x)  # eager: initializes, then the step
    assert model.is_initialized
    first = len(calls)
    calls.clear()
    model.train_step(x)
    couplings = [layer for layer in model._flatten_layers() if isinstance(layer, CouplingLayer)]
    assert sorted(calls) == sorted(id(layer) for layer in couplings)
    assert first == len(couplings) + 2 * 2  # the first step also ran the four step couplings to initialize


def test_coupling_scale_is_glows_sigmoid_and_old_configurations_keep_tanh():
    x = np.random.default_rng(9).normal(size=(3, 4, 4, 1)).astype(np.float32)
    model = randomize(Glow(**SMALL), scale=0.05)
    assert model.coupling_scale == "sigmoid"
    assert Glow(event_shape=(3,), num_steps=1).coupling_scale == "tanh"  # vectors keep the bounded exp
    assert all(layer.scale == "sigmoid" for layer in model.step_layers if hasattr(layer, "scale"))
    config = model.get_config()
    config.pop("coupling_scale")  # as written before the option existed
    old = Glow.from_config(config)
    old.build()
    old.set_weights(model.get_weights())
    assert old.coupling_scale == "tanh"
    # Same weights, another scale function: another density, each normalized by its own log-det.
    assert not np.allclose(old.log_prob(x).numpy(), model.log_prob(x).numpy())
    assert_model_bijector_correct(old)
    with pytest.raises(ValueError, match="expected coupling_scale in"):
        Glow(**SMALL, coupling_scale="exp")
