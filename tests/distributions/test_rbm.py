"""Energy-based distributions: free energies, normalization, block Gibbs against the exact law."""

import math

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import gammaln

from tests.helpers import binary_states
from tfdgm.distributions.dbm import DBMDistribution
from tfdgm.distributions.rbm import BernoulliRBMDistribution
from tfdgm.distributions.rbm_gaussian import GaussianBernoulliRBMDistribution
from tfdgm.distributions.replicated_softmax import ReplicatedSoftmaxDistribution


def _rbm(num_visible=5, num_hidden=4, scale=1.0, seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    return BernoulliRBMDistribution(
        rng.normal(0, scale, (num_visible, num_hidden)).astype(np.float32),
        rng.normal(0, 0.5, num_visible).astype(np.float32),
        rng.normal(0, 0.5, num_hidden).astype(np.float32),
        **kwargs,
    )


def _log_sum_exp(x, axis):
    x = np.asarray(x, np.float64)
    top = x.max(axis=axis, keepdims=True)
    return np.squeeze(top, axis) + np.log(np.exp(x - top).sum(axis=axis))


def test_free_energy_equals_brute_force_log_sum_over_hidden_states():
    rbm = _rbm(5, 4)
    v, h = binary_states(5), binary_states(4)
    # -E(v, h) for every pair, then log-sum over h by brute force.
    pairs_v = np.repeat(v, len(h), 0)
    pairs_h = np.tile(h, (len(v), 1))
    minus_energy = -rbm.energy(pairs_v, pairs_h).numpy().reshape(len(v), len(h))
    np.testing.assert_allclose(-rbm.free_energy(v).numpy(), _log_sum_exp(minus_energy, 1), rtol=1e-5, atol=1e-5)


def test_gaussian_free_energy_equals_log_sum_over_hidden_states():
    rng = np.random.default_rng(1)
    w, b = rng.normal(0, 0.5, (3, 4)).astype(np.float32), rng.normal(size=3).astype(np.float32)
    c, s = rng.normal(size=4).astype(np.float32), np.exp(rng.normal(0, 0.3, 3)).astype(np.float32)
    grbm = GaussianBernoulliRBMDistribution(w, b, c, s)
    v = rng.normal(size=(6, 3)).astype(np.float32)
    h = binary_states(4)
    minus_energy = (
        -0.5 * (((v - b) / s) ** 2).sum(1)[:, None] + (h @ c)[None, :] + ((v / s) @ w) @ h.T
    )
    np.testing.assert_allclose(-grbm.free_energy(v).numpy(), _log_sum_exp(minus_energy, 1), rtol=1e-5, atol=1e-4)


def test_exact_enumerated_distribution_sums_to_one():
    for rbm in (_rbm(5, 7, seed=2), _rbm(9, 3, seed=3)):  # enumerates v, then h
        log_z = rbm.exact_log_normalizer()
        total = np.exp(rbm.unnormalized_log_prob(binary_states(rbm.weights.shape[0])).numpy() - log_z.numpy()).sum()
        assert abs(total - 1.0) < 1e-5


def test_gaussian_density_integrates_to_one():
    rng = np.random.default_rng(4)
    grbm = GaussianBernoulliRBMDistribution(
        rng.normal(0, 0.7, (2, 3)).astype(np.float32), np.array([0.5, -0.3], np.float32),
        rng.normal(size=3).astype(np.float32), np.array([0.8, 1.3], np.float32),
    )
    axis = np.linspace(-12, 12, 801, dtype=np.float32)
    grid = np.stack(np.meshgrid(axis, axis), -1).reshape(-1, 2)
    density = np.exp(grbm.unnormalized_log_prob(grid).numpy() - grbm.exact_log_normalizer().numpy())
    assert abs(density.sum() * (axis[1] - axis[0]) ** 2 - 1.0) < 2e-3


def test_replicated_softmax_sums_to_one_over_documents_of_each_length():
    """sum over count vectors n with |n| = D of multinomial(D; n) p(V) = 1."""
    rng = np.random.default_rng(5)
    k = 4
    rsm = ReplicatedSoftmaxDistribution(rng.normal(0, 0.5, (k, 3)).astype(np.float32),
                                        rng.normal(size=k).astype(np.float32),
                                        rng.normal(0, 0.3, 3).astype(np.float32), max_length=4)
    table = np.full(5, np.nan, np.float32)
    table[1:] = rsm.exact_log_normalizer([1, 2, 3, 4]).numpy()
    normalized = ReplicatedSoftmaxDistribution(rsm.weights, rsm.visible_bias, rsm.hidden_bias, log_normalizer=table,
                                               max_length=4)
    for length in range(1, 5):
        counts = np.array([n for n in np.ndindex(*(length + 1,) * k) if sum(n) == length], np.float32)
        log_coefficient = gammaln(length + 1) - gammaln(counts + 1).sum(1)
        total = np.exp(normalized.log_prob(counts).numpy() + log_coefficient).sum()
        assert abs(total - 1.0) < 1e-4, (length, total)


def test_dbm_free_energy_and_normalization_by_brute_force():
    rng = np.random.default_rng(6)
    sizes = [4, 3, 3]
    weights = [rng.normal(0, 0.8, (a, b)).astype(np.float32) for a, b in zip(sizes[:-1], sizes[1:])]
    biases = [rng.normal(0, 0.5, s).astype(np.float32) for s in sizes]
    dbm = DBMDistribution(weights, biases)
    joint = binary_states(sum(sizes))
    states = np.split(joint, np.cumsum(sizes)[:-1], axis=1)
    minus_energy = -dbm.energy([tf.constant(s) for s in states]).numpy().reshape(2**4, 2**6)
    np.testing.assert_allclose(-dbm.free_energy(binary_states(4)).numpy(), _log_sum_exp(minus_energy, 1),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(float(dbm.exact_log_normalizer()), _log_sum_exp(minus_energy.ravel(), 0), rtol=1e-6)


def _gibbs_transition_matrix(rbm):
    """T[v, v'] = sum_h p(h|v) p(v'|h), exactly, over all binary states."""
    v, h = binary_states(rbm.weights.shape[0]), binary_states(rbm.num_hidden)

    def table(probs, states):  # P(states | each row's probs) -> [rows, 2**n]
        probs = np.asarray(probs, np.float64)
        return np.prod(np.where(states[None, :, :] > 0, probs[:, None, :], 1 - probs[:, None, :]), -1)

    return table(rbm.hidden_probs(v), h) @ table(rbm.visible_probs(h), v)


def test_block_gibbs_matches_the_exact_distribution():
    num_chains, num_steps = 20000, 30
    rbm = _rbm(6, 4, scale=1.0, seed=7, num_steps=num_steps)
    v = binary_states(6)
    exact = np.exp(rbm.unnormalized_log_prob(v).numpy() - rbm.exact_log_normalizer().numpy()).astype(np.float64)
    # The chains start uniform; after K sweeps their law is pi_0 T^K exactly.
    law = np.full(64, 1 / 64) @ np.linalg.matrix_power(_gibbs_transition_matrix(rbm), num_steps)
    mixing_error = 0.5 * np.abs(law - exact).sum()
    assert mixing_error < 1e-3
    samples = rbm.sample(num_chains, seed=[3, 4]).numpy()
    codes = samples @ (2 ** np.arange(5, -1, -1))
    empirical = np.bincount(codes.astype(int), minlength=64) / num_chains
    tv = 0.5 * np.abs(empirical - exact).sum()
    # E TV(empirical, law) <= 1/2 sum_x sqrt(law_x / N); TV moves by at most 1/N per
    # sample, so (McDiarmid) it exceeds its mean by sqrt(log(1/delta) / (2N)) with
    # probability <= delta = 1e-6. Add the exact mixing error.
    bound = 0.5 * np.sqrt(law / num_chains).sum() + math.sqrt(math.log(1e6) / (2 * num_chains)) + mixing_error
    assert tv < bound, (tv, bound)


def test_sampling_is_seeded():
    rbm = _rbm(5, 3, num_steps=10)
    first = rbm.sample(50, seed=[1, 2]).numpy()
    np.testing.assert_array_equal(first, rbm.sample(50, seed=[1, 2]).numpy())
    assert not np.array_equal(first, rbm.sample(50, seed=[1, 3]).numpy())
    np.testing.assert_array_equal(rbm.sample(7, seed=5).numpy(), rbm.sample(7, seed=5).numpy())


def test_log_prob_without_log_z_raises():
    with pytest.raises(ValueError, match="needs log Z"):
        _rbm().log_prob(np.zeros([1, 5], np.float32))
