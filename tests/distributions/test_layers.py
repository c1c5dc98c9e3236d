"""Distribution layers: every log_prob normalizes on a small support; the
discretized logistic mixture keeps all its mass on the 256 bins; samples from
noise are reparameterized (their moments match the distribution)."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import binary_states, grid_2d
from tfdgm.distributions.discretized_logistic import DiscretizedLogisticMixture
from tfdgm.distributions.layers import (
    BernoulliLayer,
    CategoricalLayer,
    DiscretizedLogisticMixtureLayer,
    MultivariateNormalTriLLayer,
    NormalLayer,
    make_likelihood_layer,
)


def _params(layer, batch=3, num_features=4, seed=0, bias_scale=0.5):
    """Parameters from random features through a randomly initialized layer."""
    rng = np.random.default_rng(seed)
    layer.build((None, num_features))
    layer.projection.bias.assign(rng.normal(0.0, bias_scale, layer.projection.bias.shape).astype(np.float32))
    return layer(rng.normal(size=(batch, num_features)).astype(np.float32))


def test_bernoulli_sums_to_one_over_all_binary_vectors():
    layer = BernoulliLayer((3,))
    distribution = layer.make_distribution(_params(layer))  # batch 3
    states = binary_states(3)[:, None, :]  # [8, 1, 3] broadcast against batch 3
    totals = tf.reduce_sum(tf.exp(distribution.log_prob(states)), axis=0)
    np.testing.assert_allclose(totals, np.ones(3), atol=1e-5)


@pytest.mark.parametrize(
    "layer",
    [NormalLayer((2,)), NormalLayer((2,), scale="shared"), NormalLayer((2,), scale=0.7), MultivariateNormalTriLLayer((2,))],
    ids=["normal_amortized", "normal_shared", "normal_fixed", "mvn_tril"],
)
def test_continuous_layers_integrate_to_one(layer):
    distribution = layer.make_distribution(_params(layer, bias_scale=0.3))
    points, area = grid_2d(-9.0, 9.0, 601)
    totals = tf.reduce_sum(tf.exp(distribution.log_prob(points[:, None, :])), axis=0) * area
    np.testing.assert_allclose(totals, np.ones(3), atol=2e-3)


def test_categorical_sums_to_one_over_the_levels():
    layer = CategoricalLayer((2,), num_levels=5)
    params = _params(layer)
    distribution = layer.make_distribution(params)
    states = np.array(list(itertools.product(range(5), repeat=2)), np.float32)[:, None, :]
    totals = tf.reduce_sum(tf.exp(distribution.log_prob(states)), axis=0)
    np.testing.assert_allclose(totals, np.ones(3), atol=1e-5)
    # The mean is sum_k k P(k).
    probabilities = tf.nn.softmax(params, axis=-1).numpy()
    np.testing.assert_allclose(layer.mean(params), (probabilities * np.arange(5)).sum(-1), rtol=1e-5)


def test_categorical256_layer_sums_to_one():
    layer = make_likelihood_layer("categorical256", (1,))
    distribution = layer.make_distribution(_params(layer))
    levels = np.arange(256, dtype=np.float32).reshape(256, 1, 1)
    np.testing.assert_allclose(tf.reduce_sum(tf.exp(distribution.log_prob(levels)), 0), np.ones(3), atol=1e-5)


def test_discretized_logistic_mixture_puts_all_mass_on_the_256_bins():
    rng = np.random.default_rng(1)
    # Components inside, at the edges of and far outside [0, 255], wide and narrow.
    loc = rng.uniform(-60.0, 320.0, size=(6, 4)).astype(np.float32)
    scale = np.exp(rng.uniform(-3.0, 4.5, size=(6, 4))).astype(np.float32)
    logits = rng.normal(size=(6, 4)).astype(np.float32)
    distribution = DiscretizedLogisticMixture(logits, loc, scale, num_levels=256)
    log_probs = distribution.log_prob(np.arange(256, dtype=np.float32)[:, None])
    assert np.all(np.isfinite(log_probs))
    np.testing.assert_allclose(tf.reduce_sum(tf.exp(log_probs), 0), np.ones(6), atol=1e-5)
    samples = distribution.sample(2000, seed=[3, 4]).numpy()
    assert samples.min() >= 0 and samples.max() <= 255
    np.testing.assert_array_equal(samples, np.round(samples))
    # Sampled bin frequencies follow the probabilities (first mixture, 5 binomial SE).
    counts = np.bincount(samples[:, 0].astype(np.int64), minlength=256) / 2000.0
    expected = np.exp(log_probs[:, 0].numpy())
    assert np.all(np.abs(counts - expected) <= 5 * np.sqrt(expected * (1 - expected) / 2000) + 1e-3)


def test_discretized_logistic_layer_normalizes_on_a_two_pixel_image():
    layer = DiscretizedLogisticMixtureLayer((2,), num_components=3)
    distribution = layer.make_distribution(_params(layer, batch=2))
    grid = np.stack(np.meshgrid(np.arange(256), np.arange(256)), -1).reshape(-1, 1, 2).astype(np.float32)
    total = tf.reduce_sum(tf.exp(distribution.log_prob(grid)), 0)
    np.testing.assert_allclose(total, np.ones(2), atol=1e-4)


def test_discretized_logistic_is_accurate_in_the_far_tail():
    """log P stays finite and matches float64 where the naive CDF difference underflows."""
    loc, scale = np.float32(200.0), np.float32(2.0)
    distribution = DiscretizedLogisticMixture([[0.0]], [[loc]], [[scale]])
    x = 20.0
    sigmoid = lambda t: 1.0 / (1.0 + np.exp(-t))  # noqa: E731 (float64: ~1e-40 is representable)
    exact = np.log(sigmoid((x + 0.5 - 200.0) / 2.0) - sigmoid((x - 0.5 - 200.0) / 2.0))
    assert exact < -90  # below float32's smallest normal: a naive float32 difference underflows
    np.testing.assert_allclose(distribution.log_prob([[x]]).numpy().ravel(), [exact], rtol=1e-5)


@pytest.mark.parametrize("layer", [NormalLayer((3,)), MultivariateNormalTriLLayer((3,))], ids=["diag", "tril"])
def test_samples_from_noise_have_the_distribution_moments(layer):
    params = _params(layer, batch=1)
    distribution = layer.make_distribution(params)
    noise = tf.random.stateless_normal([40000, 1, 3], seed=[5, 6])
    samples = layer.sample_from_noise(params, noise).numpy()[:, 0]
    if isinstance(layer, NormalLayer):
        covariance = np.diag(distribution.stddev().numpy()[0] ** 2)
    else:
        covariance = distribution.covariance().numpy()[0]
    np.testing.assert_allclose(samples.mean(0), distribution.mean().numpy()[0], atol=5 * np.sqrt(covariance.diagonal().max() / 40000))
    np.testing.assert_allclose(np.cov(samples.T), covariance, atol=0.05 * np.abs(covariance).max())


def test_bad_features_and_names_raise_value_errors():
    with pytest.raises(ValueError, match=r"expected features of shape \[batch, F\]"):
        BernoulliLayer((4, 4, 1)).build((None, 3, 3, 8))
    with pytest.raises(ValueError, match="unknown likelihood 'poisson'; expected one of: bernoulli"):
        make_likelihood_layer("poisson", (2,))
    with pytest.raises(ValueError, match=r"expected a flat event_shape \(D,\)"):
        MultivariateNormalTriLLayer((2, 2))


def test_planar_flow_posterior_normalizes_and_its_sample_density_matches_log_prob():
    from tfdgm.distributions.flow_posterior import PlanarFlowPosteriorLayer

    layer = PlanarFlowPosteriorLayer((2,), num_flows=3)
    params = _params(layer, batch=2, bias_scale=0.8)
    distribution = layer.make_distribution(params)
    points, area = grid_2d(-9.0, 9.0, 401)
    totals = tf.reduce_sum(tf.exp(distribution.log_prob(points[:, None, :])), axis=0) * area
    np.testing.assert_allclose(totals, np.ones(2), atol=3e-3)
    # log q_K along the sample (eq. 13) equals the density at that point by inversion.
    z, log_q = layer.sample_and_log_prob(params, tf.random.stateless_normal([5, 2, 2], seed=[1, 1]))
    np.testing.assert_allclose(log_q, distribution.log_prob(tf.identity(z)), rtol=1e-4, atol=1e-4)
