"""PlanarFlow: bijector mathematics, exact inverse inside log_prob, training, export (its XLA
train step is in tests/test_model_contract.py)."""

import numpy as np
import pytest
import tensorflow as tf

from tests.checks.flows import (assert_export_round_trip, assert_model_bijector_correct,
                                assert_sample_log_prob_matches_bijector_path, grid_mass, randomize, two_blobs)
from tfdgm.bijectors.planar import AmortizedPlanar
from tfdgm.models import PlanarFlow


@pytest.mark.parametrize("shape", [(2,), (16,), (2, 2, 2)])
def test_log_det_matches_autodiff_jacobian(shape):
    model = randomize(PlanarFlow(event_shape=shape, num_layers=4), scale=0.5, seed=len(shape))
    assert_model_bijector_correct(model)
    assert_sample_log_prob_matches_bijector_path(model, n=8)


def test_encode_inverts_decode():
    model = randomize(PlanarFlow(event_shape=(3,), num_layers=6), scale=1.0)
    z = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    np.testing.assert_allclose(model.encode(model.decode(z)).numpy(), z, atol=2e-4)


def test_density_integrates_to_one_and_training_improves_it():
    x = two_blobs(1024, seed=0)
    model = PlanarFlow(event_shape=(2,), num_layers=8)
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-2))
    history = model.fit(x, batch_size=256, epochs=15, verbose=0)
    assert history.history["nll"][-1] < history.history["nll"][0] - 0.2
    assert abs(grid_mass(model, -10.0, 10.0, 301) - 1.0) < 0.02


def test_posterior_layer_is_an_amortized_planar_flow():
    layer = PlanarFlow.posterior_layer(latent_dim=4, num_layers=3)
    assert isinstance(layer, AmortizedPlanar)
    layer.build((None, 6))
    z = layer.bijector(np.ones((2, 6), np.float32)).forward(np.zeros((2, 4), np.float32))
    assert z.shape == (2, 4)


def test_export_round_trip_in_a_fresh_process(tmp_path):
    model = randomize(PlanarFlow(event_shape=(3,), num_layers=3), scale=0.5, seed=4)
    x = np.random.default_rng(5).normal(size=(4, 3)).astype(np.float32)
    assert_export_round_trip(model, x, tmp_path)
