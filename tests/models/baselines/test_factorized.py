"""The factorized baselines: normalization, MLE, sampling, training through fit."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import binary_states, grid_2d
from tfdgm.models import IndependentBernoulli, IndependentGaussian, IndependentLogistic


def _random_weights(model, seed=0):
    rng = np.random.default_rng(seed)
    model.build((None, *model.event_shape))
    for weight in model.trainable_variables:
        weight.assign(rng.normal(0.0, 0.7, weight.shape).astype(np.float32))
    return model


def test_bernoulli_distribution_sums_to_one_by_enumeration():
    model = _random_weights(IndependentBernoulli(event_shape=(2, 2, 1)))
    states = binary_states(4).reshape(-1, 2, 2, 1)
    total = tf.reduce_sum(tf.exp(model.log_prob(states)))
    assert abs(float(total) - 1.0) < 1e-5


@pytest.mark.parametrize("model_class", [IndependentGaussian, IndependentLogistic])
def test_continuous_density_integrates_to_one(model_class):
    model = _random_weights(model_class(event_shape=(2,)), seed=1)
    points, area = grid_2d(-12.0, 12.0, 801)
    total = float(tf.reduce_sum(tf.exp(model.log_prob(points)))) * area
    assert abs(total - 1.0) < 2e-3


def test_bernoulli_samples_match_probabilities_and_are_seeded():
    model = _random_weights(IndependentBernoulli(event_shape=(5,)), seed=2)
    probabilities = tf.sigmoid(model.logits).numpy()
    samples = model.sample(20000, seed=7).numpy()
    assert samples.shape == (20000, 5)
    assert set(np.unique(samples)) <= {0.0, 1.0}
    # 5 standard errors of a binomial mean: a false alarm is ~1e-6 per dim.
    tolerance = 5 * np.sqrt(probabilities * (1 - probabilities) / 20000)
    assert np.all(np.abs(samples.mean(0) - probabilities) < tolerance)
    np.testing.assert_array_equal(samples, model.sample(20000, seed=7).numpy())
    assert not np.array_equal(samples, model.sample(20000, seed=8).numpy())


def test_gaussian_closed_form_mle_is_the_maximum_of_the_likelihood():
    rng = np.random.default_rng(3)
    x = rng.normal([1.0, -2.0, 0.5], [0.5, 2.0, 1.0], size=(4000, 3)).astype(np.float32)
    model = IndependentGaussian(event_shape=(3,))
    model.fit_closed_form(x)
    best = float(tf.reduce_mean(model.log_prob(x)))
    np.testing.assert_allclose(model.loc.numpy(), x.mean(0), rtol=1e-5, atol=1e-5)
    # The exact Gaussian MLE average log-likelihood: -1/2 sum_i (log(2 pi s_i^2) + 1).
    exact = -0.5 * np.sum(np.log(2 * np.pi * x.var(0)) + 1)
    assert abs(best - exact) < 1e-3
    # Any perturbation of the parameters lowers the likelihood.
    for weight in model.trainable_variables:
        weight.assign_add(0.05 * np.ones(weight.shape, np.float32))
        assert float(tf.reduce_mean(model.log_prob(x))) < best
        weight.assign_sub(0.05 * np.ones(weight.shape, np.float32))


def test_fit_on_a_fresh_model_reaches_the_closed_form_mle():
    """`fit` on a never-called model works (no graph-scope error) and converges."""
    rng = np.random.default_rng(4)
    probabilities = np.array([0.1, 0.5, 0.8, 0.95], np.float32)
    x = (rng.uniform(size=(2048, 4)) < probabilities).astype(np.float32)
    reference = IndependentBernoulli(event_shape=(4,))
    reference.fit_closed_form(x)
    best_nll = -float(tf.reduce_mean(reference.log_prob(x)))

    model = IndependentBernoulli(event_shape=(4,))
    model.compile(optimizer=tf.keras.optimizers.Adam(0.05))
    history = model.fit(x, batch_size=256, epochs=30, verbose=0)
    assert history.history["nll"][-1] < history.history["nll"][0]
    trained_nll = -float(tf.reduce_mean(model.log_prob(x)))
    assert trained_nll - best_nll < 0.01
    # Binary data, identity transform: bits/dim = nats / (D ln 2).
    np.testing.assert_allclose(
        history.history["bits_per_dim"][-1], history.history["nll"][-1] / (4 * math.log(2)), rtol=1e-5
    )


def test_logistic_trains_towards_data_location():
    rng = np.random.default_rng(5)
    x = rng.logistic([2.0, -1.0], [0.5, 1.5], size=(4096, 2)).astype(np.float32)
    model = IndependentLogistic(event_shape=(2,))
    model.compile(optimizer=tf.keras.optimizers.Adam(0.05))
    model.fit(x, batch_size=512, epochs=40, verbose=0)
    np.testing.assert_allclose(model.loc.numpy(), [2.0, -1.0], atol=0.15)
    np.testing.assert_allclose(np.exp(model.log_scale.numpy()), [0.5, 1.5], rtol=0.15)
