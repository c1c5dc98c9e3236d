"""Chamfer distance and MMD against hand computations."""

import numpy as np
import pytest

from tfdgm.metrics.pointcloud import chamfer_distance, minimum_matching_distance, mmd


def _hand_chamfer(x, y):
    d = lambda a, b: sum((ai - bi) ** 2 for ai, bi in zip(a, b))  # noqa: E731
    return np.mean([min(d(a, b) for b in y) for a in x]) + np.mean([min(d(a, b) for a in x) for b in y])


def test_chamfer_on_a_tiny_example():
    x = np.array([[0.0, 0.0], [1.0, 0.0]], np.float32)
    y = np.array([[0.0, 1.0], [1.0, 0.0], [3.0, 0.0]], np.float32)
    # x->y: min(1, 1)=1 for (0,0); 0 for (1,0); y->x: 1, 0, 4. CD = 0.5 + 5/3.
    assert float(chamfer_distance(x, y)) == pytest.approx(0.5 + 5.0 / 3.0, rel=1e-6)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(7, 3)), rng.normal(size=(5, 3))
    assert float(chamfer_distance(a, b)) == pytest.approx(_hand_chamfer(a, b), rel=1e-5)
    assert float(chamfer_distance(a, a[rng.permutation(7)])) == 0.0
    batch = chamfer_distance(np.stack([a[:5], b]), b[None])
    assert batch.shape == (2,) and float(batch[1]) == 0.0


def test_mmd_matches_the_unbiased_estimator_by_hand():
    rng = np.random.default_rng(1)
    x, y, h = rng.normal(size=(6, 2)), rng.normal(1.0, 1.0, size=(4, 2)), 0.7
    k = lambda a, b: np.exp(-np.sum((a - b) ** 2) / (2 * h * h))  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(6) for j in range(6) if i != j) / (6 * 5)
    yy = sum(k(y[i], y[j]) for i in range(4) for j in range(4) if i != j) / (4 * 3)
    xy = sum(k(a, b) for a in x for b in y) / (6 * 4)
    assert float(mmd(x, y, bandwidth=h)) == pytest.approx(xx + yy - 2 * xy, rel=1e-5)


def test_minimum_matching_distance_picks_the_closest_cloud():
    rng = np.random.default_rng(2)
    reference = rng.normal(size=(3, 10, 2))
    generated = np.concatenate([reference[:2], rng.normal(5.0, 1.0, size=(2, 10, 2))])
    expected = np.mean([0.0, 0.0, min(_hand_chamfer(reference[2], g) for g in generated)])
    assert float(minimum_matching_distance(reference, generated)) == pytest.approx(expected, rel=1e-5)
