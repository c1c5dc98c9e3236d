"""NICE: additive couplings + scaling, logistic prior, trained 2-D density, XLA, export."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tests.checks.flows import (assert_export_round_trip, assert_model_bijector_correct,
                                assert_sample_log_prob_matches_bijector_path,
                                assert_train_step_lowers_to_xla, grid_mass, randomize,
                                two_blobs)
from tfdgm.models import NICE, IndependentGaussian

tfd = tfp.distributions


@pytest.mark.parametrize("shape", [(2,), (7,), (16,), (4, 4, 1)])
def test_log_det_matches_autodiff_jacobian(shape):
    model = randomize(NICE(event_shape=shape, hidden_units=[16]), seed=len(shape))
    assert_model_bijector_correct(model)
    assert_sample_log_prob_matches_bijector_path(model, n=5)


def test_log_det_is_the_scaling_layer_alone():
    """Additive couplings have unit Jacobian: log|det| = sum log S (Dinh et al. 2014, eq. 3)."""
    model = randomize(NICE(event_shape=(6,), hidden_units=[8]), seed=1)
    z = np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32)
    ldj = model.bijector().forward_log_det_jacobian(z, event_ndims=1).numpy()
    np.testing.assert_allclose(ldj, np.sum(model.scaling.log_scale.numpy()), rtol=1e-5)


def test_logistic_prior_is_the_default_and_gaussian_is_an_option():
    assert isinstance(NICE(event_shape=(2,)).base_distribution().distribution, tfd.Logistic)
    assert isinstance(NICE(event_shape=(2,), prior="gaussian").base_distribution().distribution, tfd.Normal)
    with pytest.raises(ValueError, match="expected prior 'logistic' or 'gaussian', got 'laplace'"):
        NICE(event_shape=(2,), prior="laplace")


def test_trained_toy_density_integrates_to_one_and_beats_a_gaussian():
    x, held_out = two_blobs(2048, seed=0), two_blobs(1024, seed=1)
    model = NICE(event_shape=(2,), num_layers=4, hidden_units=[32, 32])
    model.compile(optimizer=tf.keras.optimizers.Adam(3e-3))
    model.fit(x, batch_size=256, epochs=40, verbose=0)
    gaussian = IndependentGaussian(event_shape=(2,))
    gaussian.fit_closed_form(x)
    flow_nll = -float(tf.reduce_mean(model.log_prob(held_out)))
    gaussian_nll = -float(tf.reduce_mean(gaussian.log_prob(held_out)))
    assert flow_nll < gaussian_nll - 0.2, (flow_nll, gaussian_nll)
    # Logistic tails are heavier than Gaussian ones: a wider grid.
    assert abs(grid_mass(model, -14.0, 14.0, 561) - 1.0) < 0.02


@pytest.mark.xla
def test_train_step_compiles_with_xla():
    x = np.random.default_rng(2).normal(size=(8, 4, 4, 1)).astype(np.float32)
    assert_train_step_lowers_to_xla(NICE(event_shape=(4, 4, 1), hidden_units=[16]), x)


def test_export_round_trip_in_a_fresh_process(tmp_path):
    model = randomize(NICE(event_shape=(2, 2, 1), hidden_units=[8]), seed=4)
    x = np.random.default_rng(5).normal(size=(4, 2, 2, 1)).astype(np.float32)
    assert_export_round_trip(model, x, tmp_path)
