"""Convolutional RBM with probabilistic max-pooling: free energy and log Z by
brute-force enumeration, the block sampler against its softmax, Gibbs and AIS
against the exact distribution, translation equivariance."""

import itertools

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from tests.helpers import binary_states
from tfdgm.distributions.conv_rbm import (
    ConvRBMDistribution,
    prob_max_pool_probs,
    sample_prob_max_pool,
    sample_hidden_given_pooling,
)
from tfdgm.distributions.correlation import BlockedCorrelation
from tfdgm.distributions.rbm import BernoulliRBMDistribution
from tfdgm.inference.ais import ais_log_partition


def _random_model(image_shape, filter_size, groups, visible="binary", scale=1.0, seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    filters = scale * rng.normal(size=(filter_size, filter_size, image_shape[2], groups)).astype(np.float32)
    hidden_bias = rng.normal(size=groups).astype(np.float32) - 1.0
    visible_bias = 0.5 * rng.normal(size=image_shape[2]).astype(np.float32)
    return ConvRBMDistribution(filters, hidden_bias, visible_bias, image_shape, pool_size=2, visible=visible,
                               **kwargs)


def _correlate_valid(image, filters):
    """Reference W~ * v with explicit loops (independent of tf.nn.conv2d). [H, W, C] -> [H', W', K]."""
    fh, fw, _, groups = filters.shape
    out = np.zeros((image.shape[0] - fh + 1, image.shape[1] - fw + 1, groups))
    for i, j, k in itertools.product(range(out.shape[0]), range(out.shape[1]), range(groups)):
        out[i, j, k] = np.sum(image[i:i + fh, j:j + fw, :] * filters[:, :, :, k])
    return out


def _allowed_hidden_states(hidden_shape, pool=2):
    """All binary hidden maps with at most one unit on per pool x pool block of each group,
    found by filtering the 2^n binary states (not by construction)."""
    states = binary_states(int(np.prod(hidden_shape))).reshape(-1, *hidden_shape)
    height, width, groups = hidden_shape
    per_block = states.reshape(-1, height // pool, pool, width // pool, pool, groups).sum((2, 4))
    return states[np.all(per_block <= 1, axis=(1, 2, 3))]


def _brute_force_log_unnormalized(model, images):
    """log sum_h exp(-E(v, h)) over the allowed h, E written out from the paper's eq. 1. -> [n]."""
    filters, b, a = model.filters.numpy(), model.hidden_bias.numpy(), model.visible_bias.numpy()
    hidden = _allowed_hidden_states(model.hidden_shape).reshape(-1, int(np.prod(model.hidden_shape)))
    inputs = np.stack([_correlate_valid(v, filters) + b for v in images]).reshape(len(images), -1)
    visible_term = (images * a).sum((1, 2, 3))  # minus the visibles' energy (binary)
    log_terms = visible_term[:, None] + inputs.astype(np.float64) @ hidden.T.astype(np.float64)  # [n, S]
    top = log_terms.max(1, keepdims=True)
    return (top + np.log(np.exp(log_terms - top).sum(1, keepdims=True)))[:, 0]


@pytest.mark.parametrize("image_shape, filter_size", [((4, 4, 1), 3), ((3, 5, 1), 2)], ids=["1block", "2blocks"])
def test_free_energy_and_log_z_equal_brute_force_sums_over_constrained_states(image_shape, filter_size):
    model = _random_model(image_shape, filter_size, groups=2)
    num_blocks = int(np.prod(model.pooled_shape))
    # the constraint leaves exactly (C^2 + 1)^blocks hidden states
    assert len(_allowed_hidden_states(model.hidden_shape)) == 5**num_blocks
    images = binary_states(int(np.prod(image_shape))).reshape(-1, *image_shape)
    brute = _brute_force_log_unnormalized(model, images)
    np.testing.assert_allclose(-model.free_energy(images).numpy(), brute, rtol=1e-5, atol=1e-4)
    # exact log Z: logsumexp over every (v, h) of the brute-force joint
    brute_log_z = np.logaddexp.reduce(brute)
    log_z = float(model.exact_log_normalizer())
    assert abs(log_z - brute_log_z) < 1e-4 * max(1.0, abs(brute_log_z))
    # the other enumeration (hidden states, visibles summed out) agrees
    assert abs(float(model.log_sum_over_hidden(model._hidden_log_weight)) - brute_log_z) < 1e-3
    normalized = ConvRBMDistribution(model.filters, model.hidden_bias, model.visible_bias, image_shape,
                                     log_normalizer=log_z)
    assert abs(float(tf.reduce_sum(tf.exp(normalized.log_prob(images)))) - 1.0) < 1e-4


def test_gaussian_log_z_matches_numerical_integration():
    # 2x2 image, 1x1 filters: 4 visibles integrated on a grid (step 0.25 over +-6.5 sd of a
    # smooth, Gaussian-tailed integrand: the Riemann sum is exact to ~1e-10 relative).
    model = _random_model((2, 2, 1), 1, groups=2, visible="gaussian", scale=0.7)
    axis = np.arange(-6.5, 6.5 + 1e-9, 0.25, dtype=np.float32) + float(model.visible_bias[0])
    grid = np.stack(np.meshgrid(axis, axis, axis, axis, indexing="ij"), -1).reshape(-1, 2, 2, 1)
    log_integrand = -model.free_energy(grid).numpy().astype(np.float64)
    top = log_integrand.max()
    numeric = top + np.log(np.exp(log_integrand - top).sum() * 0.25**4)
    assert abs(float(model.exact_log_normalizer()) - numeric) < 1e-3, (float(model.exact_log_normalizer()), numeric)


def test_block_sampler_frequencies_match_the_softmax_and_never_two_units_on():
    rng = np.random.default_rng(1)
    inputs = tf.constant(rng.normal(size=(1, 2, 4, 2)) * 1.5, tf.float32)  # 2 blocks x 2 groups
    num = 20000
    hidden, pooling = sample_prob_max_pool(tf.repeat(inputs, num, 0), 2, seed=[3, 4])
    hidden, pooling = hidden.numpy(), pooling.numpy()
    blocks = hidden.reshape(num, 1, 2, 2, 2, 2).transpose(0, 1, 3, 5, 2, 4).reshape(num, 1, 2, 2, 4)
    on = blocks.sum(-1)
    assert on.max() <= 1.0  # at most one unit per block
    np.testing.assert_array_equal(on, pooling)  # pooling unit on iff one of its units is
    states = np.where(on > 0, blocks.argmax(-1), 4)  # 0..3: which unit; 4: all off
    probs_h, probs_p = prob_max_pool_probs(inputs, 2)
    block_probs = probs_h.numpy().reshape(1, 1, 2, 2, 2, 2).transpose(0, 1, 3, 5, 2, 4).reshape(1, 1, 2, 2, 4)[0, 0]
    expected = np.concatenate([block_probs, 1.0 - probs_p.numpy()[0, 0, ..., None]], -1)  # [2 blocks, 2 groups, 5]
    np.testing.assert_allclose(expected.sum(-1), 1.0, atol=1e-6)
    for (column, group), _ in np.ndenumerate(expected[..., 0]):
        counts = np.bincount(states[:, 0, column, group], minlength=5)
        chi2 = np.sum((counts - num * expected[column, group]) ** 2 / (num * expected[column, group]))
        # chi-square with 4 degrees of freedom; a correct sampler exceeds the 1e-4 quantile
        # (23.5) in 1 of 10,000 blocks, a wrong probability of 0.02 gives ~100.
        assert chi2 < stats.chi2.ppf(1 - 1e-4, 4), (column, group, counts, expected[column, group])


def test_pooling_probabilities_are_stable_for_large_inputs():
    inputs = tf.constant([[[[500.0], [-500.0]], [[499.0], [0.0]]]])  # [1, 2, 2, 1]: one block
    hidden, pooling = prob_max_pool_probs(inputs, 2)
    assert np.all(np.isfinite(hidden.numpy())) and abs(float(pooling[0, 0, 0, 0]) - 1.0) < 1e-6
    np.testing.assert_allclose(hidden.numpy().ravel(), [1 / (1 + np.exp(-1)), 0, np.exp(-1) / (1 + np.exp(-1)), 0],
                               rtol=1e-5, atol=1e-6)


def test_hidden_given_pooling_respects_the_pooling_units():
    pooling = tf.constant([[[[1.0, 0.0], [0.0, 1.0]]]])  # [1, 1, 2, 2]
    hidden = sample_hidden_given_pooling(tf.zeros([500, 2, 4, 2]), tf.repeat(pooling, 500, 0), 2, seed=[0, 1])
    sums = tf.nn.space_to_depth(hidden, 2).numpy().reshape(500, 1, 2, 4, 2).sum(3)
    np.testing.assert_array_equal(sums, np.broadcast_to(pooling.numpy(), sums.shape))
    # uniform over the 4 units of an on-block: each near 1/4 (sd 0.019 for 500 draws)
    np.testing.assert_allclose(hidden.numpy()[:, :2, :2, 0].reshape(500, 4).mean(0), 0.25, atol=0.08)


def test_block_gibbs_matches_the_exact_distribution_over_visibles():
    model = _random_model((3, 3, 1), 2, groups=2, scale=0.8, seed=2, num_steps=30)
    images = binary_states(9).reshape(-1, 3, 3, 1)
    log_z = model.exact_log_normalizer()
    exact_probs = np.exp((-model.free_energy(images) - log_z).numpy())
    num = 20000
    samples = model.sample(num, seed=[5, 6]).numpy().reshape(num, 9)
    codes = (samples @ (2 ** np.arange(8, -1, -1))).astype(int)  # binary_states order: MSB first
    counts = np.bincount(codes, minlength=512)
    expected = num * exact_probs
    big = expected >= 5  # pool the rare states into one cell (chi-square validity)
    observed = np.append(counts[big], counts[~big].sum())
    expected = np.append(expected[big], expected[~big].sum())
    chi2 = np.sum((observed - expected) ** 2 / expected)
    # independent chains, one sample each; 30 sweeps of a weakly coupled 9-pixel model leave
    # no detectable bias. Reject at the 1e-4 quantile.
    assert chi2 < stats.chi2.ppf(1 - 1e-4, len(observed) - 1), chi2
    assert 0.5 * np.abs(counts / num - exact_probs).sum() < 0.08


def test_gaussian_gibbs_mean_matches_the_exact_mean():
    model = _random_model((2, 2, 1), 1, groups=2, visible="gaussian", scale=0.7, num_steps=30)
    configurations = model._hidden_configurations()
    weights = tf.nn.softmax(model._hidden_log_weight(configurations)).numpy()
    exact_mean = np.einsum("s,shwc->hwc", weights, model.visible_mean(configurations).numpy())
    samples = model.sample(8000, seed=[1, 1]).numpy()
    stderr = samples.std(0) / np.sqrt(len(samples))
    assert np.all(np.abs(samples.mean(0) - exact_mean) < 4.5 * stderr + 1e-3), (samples.mean(0), exact_mean)


@pytest.mark.parametrize("visible", ["binary", "gaussian"])
def test_ais_log_z_is_close_to_exact(visible):
    shape, size = ((4, 4, 1), 3) if visible == "binary" else ((2, 2, 1), 1)
    model = _random_model(shape, size, groups=2, visible=visible, scale=0.8)
    exact_log_z = float(model.exact_log_normalizer())
    result = ais_log_partition(model.annealing_path(), num_runs=64, betas=500, seed=0)
    # 64 runs x 500 temperatures on a model with 8 hidden units: the estimator's own standard
    # error is ~0.01 nats; allow 4 standard errors plus 0.02 nats of annealing bias.
    assert abs(float(result.log_z) - exact_log_z) < 4 * float(result.stderr) + 0.02, (
        float(result.log_z), float(result.stderr), exact_log_z)


def test_hidden_activations_are_translation_equivariant_away_from_borders():
    model = _random_model((12, 12, 1), 3, groups=3, seed=4)
    rng = np.random.default_rng(0)
    image = np.zeros((1, 12, 12, 1), np.float32)
    image[0, 2:8, 2:8, 0] = rng.uniform(size=(6, 6)) < 0.5
    shifted = np.roll(image, (2, 2), axis=(1, 2))  # the content stays inside the image
    inputs, inputs_shifted = model.hidden_input(image).numpy(), model.hidden_input(shifted).numpy()
    np.testing.assert_allclose(inputs_shifted[0, 2:, 2:], inputs[0, :-2, :-2], rtol=1e-5, atol=1e-5)
    pooled, pooled_shifted = model.pooling_probs(image).numpy(), model.pooling_probs(shifted).numpy()
    # a shift by one pooling block (2 pixels) moves the pooling map by one unit
    np.testing.assert_allclose(pooled_shifted[0, 1:, 1:], pooled[0, :-1, :-1], rtol=1e-5, atol=1e-6)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="multiples of pool_size"):
        _random_model((4, 4, 1), 2, groups=1)  # 3x3 hidden maps, pool 2
    with pytest.raises(ValueError, match="multiple of pool_size"):
        prob_max_pool_probs(tf.zeros([1, 3, 4, 1]), 2)
    with pytest.raises(ValueError, match="visible 'binary' or 'gaussian'"):
        _random_model((4, 4, 1), 3, groups=1, visible="poisson")


def test_filters_as_large_as_the_image_are_a_bernoulli_rbm():
    """1 x 1 hidden maps without pooling and one visible bias per unit: the same free
    energy, conditionals, log Z and CD statistics as a BernoulliRBM with the flattened
    filters as its weights, through the dense matmul path."""
    rng = np.random.default_rng(3)
    shape, groups = (3, 2, 4), 5
    filters = rng.normal(size=(*shape, groups)).astype(np.float32)
    hidden_bias = rng.normal(size=groups).astype(np.float32)
    visible_bias = rng.normal(size=shape).astype(np.float32)
    dense = ConvRBMDistribution(filters, hidden_bias, visible_bias, shape, pool_size=1)
    rbm = BernoulliRBMDistribution(filters.reshape(-1, groups), visible_bias.reshape(-1), hidden_bias)
    assert dense.blocked.dense and dense.hidden_shape == (1, 1, groups)
    v = (rng.uniform(size=(64, *shape)) < 0.4).astype(np.float32)
    flat = v.reshape(64, -1)
    np.testing.assert_allclose(dense.free_energy(v).numpy(), rbm.free_energy(flat).numpy(), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(dense.hidden_probs(v).numpy().reshape(64, groups), rbm.hidden_probs(flat).numpy(),
                               rtol=1e-5, atol=1e-6)
    h = (rng.uniform(size=(64, groups)) < 0.5).astype(np.float32)
    np.testing.assert_allclose(dense.visible_mean(h.reshape(64, 1, 1, groups)).numpy().reshape(64, -1),
                               rbm.visible_probs(h).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(float(dense.exact_log_normalizer()), float(rbm.exact_log_normalizer()), rtol=1e-5)
    stats = dense.contrastive_divergence(v, seed=[5, 6])
    negative = stats.negative.numpy().reshape(64, -1)
    positive_h, negative_h = rbm.hidden_probs(flat).numpy(), rbm.hidden_probs(negative).numpy()
    np.testing.assert_allclose(stats.filters.numpy().reshape(-1, groups),
                               flat.T @ positive_h - negative.T @ negative_h, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(stats.hidden_bias.numpy(), (positive_h - negative_h).sum(0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(stats.visible_bias.numpy(), (v - stats.negative.numpy()).sum(0), atol=1e-5)
    with pytest.raises(ValueError, match="visible_bias"):
        ConvRBMDistribution(filters, hidden_bias, visible_bias[0], shape, pool_size=1)


def test_dense_products_equal_the_block_products():
    """The matmul shortcut for 1 x 1 hidden maps gives the same block matrix, patches,
    adjoint and filter gather as the general `BlockedCorrelation` construction."""
    rng = np.random.default_rng(4)
    shape, groups = (3, 3, 2), 4
    fast = BlockedCorrelation(shape, shape[:2], 1)
    general = BlockedCorrelation(shape, shape[:2], 1)
    general.dense = False
    assert fast.dense
    filters = tf.constant(rng.normal(size=(*shape, groups)), tf.float32)
    images = tf.constant(rng.normal(size=(5, *shape)), tf.float32)
    columns = tf.constant(rng.normal(size=(5, int(np.prod(shape)))), tf.float32)
    matrix = tf.constant(rng.normal(size=(int(np.prod(shape)), groups)), tf.float32)
    np.testing.assert_allclose(fast.matrix(filters).numpy(), general.matrix(filters).numpy())
    np.testing.assert_allclose(fast.patches(images).numpy(), general.patches(images).numpy())
    np.testing.assert_allclose(fast.patches_adjoint(columns, 5).numpy(), general.patches_adjoint(columns, 5).numpy(),
                               atol=1e-6)
    np.testing.assert_allclose(fast.filters_from_matrix(matrix).numpy(), general.filters_from_matrix(matrix).numpy(),
                               atol=1e-6)
