"""RealNVP: bijector mathematics on vectors and images, a trained 2-D density that
integrates to one and beats a Gaussian, sampling path, export (the XLA step: the
contract's RealNVP, and its two-level Glow for the shared squeeze and factor-out)."""

import numpy as np
import pytest
import tensorflow as tf

from tests.checks.flows import (assert_export_round_trip, assert_model_bijector_correct,
                                assert_sample_log_prob_matches_bijector_path,
                                grid_mass, randomize, two_blobs)
from tfdgm.models import IndependentGaussian, RealNVP

IMAGE = dict(event_shape=(4, 4, 2), num_levels=2, hidden_channels=8, num_blocks=1)


@pytest.mark.parametrize("dims", [2, 5, 16])
def test_vector_flow_log_det_matches_autodiff_jacobian(dims):
    model = randomize(RealNVP(event_shape=(dims,), num_layers=4, hidden_units=[16]), seed=dims)
    assert_model_bijector_correct(model)


def test_multiscale_image_flow_log_det_matches_autodiff_jacobian():
    model = randomize(RealNVP(**IMAGE), scale=0.05)
    assert_model_bijector_correct(model, atol=3e-4)
    assert_sample_log_prob_matches_bijector_path(model, n=4)
    assert model.sample(2, seed=0, temperature=0.5).shape == (2, 4, 4, 2)


def test_fresh_model_is_the_identity():
    model = RealNVP(event_shape=(4, 4, 1), num_levels=2, hidden_channels=4, num_blocks=1)
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 1)).astype(np.float32)
    np.testing.assert_allclose(model.encode(x).numpy(), x, atol=1e-6)


def test_levels_follow_what_divides_the_image():
    assert RealNVP(event_shape=(28, 28, 1), hidden_channels=4, num_blocks=1).num_levels == 3
    assert RealNVP(event_shape=(8, 8, 1), hidden_channels=4, num_blocks=1).num_levels == 3
    assert RealNVP(event_shape=(7, 7, 1), hidden_channels=4, num_blocks=1).num_levels == 1
    with pytest.raises(ValueError, match=r"num_levels=4 squeezes 3 time\(s\).*got 28x28, which allows num_levels <= 3"):
        RealNVP(event_shape=(28, 28, 1), num_levels=4)
    with pytest.raises(ValueError, match="expected event_shape"):
        RealNVP(event_shape=(2, 3))


def test_trained_toy_density_integrates_to_one_and_beats_a_gaussian():
    x, held_out = two_blobs(2048, seed=0), two_blobs(1024, seed=1)
    model = RealNVP(event_shape=(2,), num_layers=6, hidden_units=[32, 32])
    model.compile(optimizer=tf.keras.optimizers.Adam(3e-3))
    history = model.fit(x, batch_size=256, epochs=40, verbose=0)
    assert history.history["nll"][-1] < history.history["nll"][0]
    gaussian = IndependentGaussian(event_shape=(2,))
    gaussian.fit_closed_form(x)
    flow_nll = -float(tf.reduce_mean(model.log_prob(held_out)))
    gaussian_nll = -float(tf.reduce_mean(gaussian.log_prob(held_out)))
    assert flow_nll < gaussian_nll - 0.3, (flow_nll, gaussian_nll)
    assert abs(grid_mass(model, -8.0, 8.0, 401) - 1.0) < 0.02
    assert_sample_log_prob_matches_bijector_path(model)


def test_export_round_trip_in_a_fresh_process(tmp_path):
    model = randomize(RealNVP(event_shape=(3,), num_layers=3, hidden_units=[8]), seed=4)
    x = np.random.default_rng(5).normal(size=(4, 3)).astype(np.float32)
    assert_export_round_trip(model, x, tmp_path)
