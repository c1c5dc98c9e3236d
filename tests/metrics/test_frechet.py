"""Fréchet distance: the closed form, and its sample estimate on Gaussian data."""

import numpy as np
import pytest

from tfdgm.metrics.frechet import frechet_distance, gaussian_frechet_distance


def _random_covariance(rng, dim):
    a = rng.normal(size=(dim, dim))
    return a @ a.T / dim + 0.1 * np.eye(dim)


def test_one_dimension_is_mean_gap_plus_std_gap_squared():
    assert gaussian_frechet_distance([1.0], [[4.0]], [-2.0], [[9.0]]) == pytest.approx(9.0 + (2.0 - 3.0) ** 2)


def test_closed_form_against_an_explicit_matrix_square_root():
    rng = np.random.default_rng(0)
    s1, s2 = _random_covariance(rng, 4), _random_covariance(rng, 4)
    m1, m2 = rng.normal(size=4), rng.normal(size=4)
    # Tr (S1 S2)^(1/2) = sum of square roots of the (real, positive) eigenvalues of S1 S2.
    trace_root = np.sum(np.sqrt(np.linalg.eigvals(s1 @ s2).real))
    expected = np.sum((m1 - m2) ** 2) + np.trace(s1 + s2) - 2 * trace_root
    assert gaussian_frechet_distance(m1, s1, m2, s2) == pytest.approx(expected, rel=1e-9)
    assert gaussian_frechet_distance(m1, s1, m1, s1) == pytest.approx(0.0, abs=1e-9)


def test_sample_estimate_converges_to_the_closed_form():
    rng = np.random.default_rng(1)
    s1, s2 = _random_covariance(rng, 3), _random_covariance(rng, 3)
    m1, m2 = np.array([0.0, 1.0, -1.0]), np.array([0.5, 0.0, 0.0])
    x = rng.multivariate_normal(m1, s1, size=200_000)
    y = rng.multivariate_normal(m2, s2, size=200_000)
    exact = gaussian_frechet_distance(m1, s1, m2, s2)
    assert frechet_distance(x, y) == pytest.approx(exact, rel=0.02)


def test_rejects_mismatched_features():
    with pytest.raises(ValueError, match="one F"):
        frechet_distance(np.zeros((5, 2)), np.zeros((5, 3)))
