"""2-D toy densities: determinism, split sizes, and the geometry each set is meant to have."""

import numpy as np
import pytest

from tfdgm.data import dataset_info, load_arrays
from tfdgm.data import toy2d

TOY = sorted(toy2d.TOY_DATASETS)


@pytest.mark.parametrize("name", TOY)
def test_toy_sets_are_deterministic_and_splits_differ(name):
    generate = toy2d._generate.__wrapped__  # bypass the in-process cache: a fresh draw
    for split, size in (("train", 20_000), ("validation", 5_000), ("test", 5_000)):
        x, y = generate(name, split)
        again, labels_again = generate(name, split)
        assert x.shape == (size, 2) and x.dtype == np.float32
        np.testing.assert_array_equal(x, again)
        if y is not None:
            np.testing.assert_array_equal(y, labels_again)
    validation, test = load_arrays(name, "validation")[0], load_arrays(name, "test")[0]
    assert not np.any(np.all(validation == test, axis=1))  # independent draws share no point


@pytest.mark.parametrize("name", TOY)
def test_toy_sets_are_on_a_standardized_scale_with_balanced_labels(name):
    x, y = load_arrays(name)
    assert np.all(np.abs(x) < 6.0) and 0.5 < x.std() < 3.0
    info = dataset_info(name)
    if info.num_classes is not None:
        counts = np.bincount(y, minlength=info.num_classes)
        assert len(counts) == info.num_classes and counts.max() - counts.min() <= 1


def test_8gaussians_cluster_at_8_modes_on_the_circle():
    x, y = load_arrays("8gaussians")
    angle = np.arange(8) * np.pi / 4
    centers = 2 * np.sqrt(2) * np.stack([np.cos(angle), np.sin(angle)], -1)
    nearest = np.argmin(((x[:, None, :] - centers[None]) ** 2).sum(-1), axis=1)
    # Neighbouring modes are 2.16 apart, 3.06 standard deviations from the midpoint: < 0.3% misassigned.
    assert np.mean(nearest == y) > 0.995
    for k in range(8):
        mode = x[y == k]
        # 2,500 points per mode: the mean has standard error 0.354 / 50 = 0.007.
        np.testing.assert_allclose(mode.mean(0), centers[k], atol=0.03)
        np.testing.assert_allclose(mode.std(0), [0.5 / np.sqrt(2)] * 2, rtol=0.05)


def test_rings_are_concentric_circles_labelled_from_the_inside():
    x, y = load_arrays("rings")
    radius = np.linalg.norm(x, axis=1)
    for k in range(4):
        np.testing.assert_allclose(np.median(radius[y == k]), 0.75 * (k + 1), atol=0.02)
        assert np.abs(radius[y == k] - 0.75 * (k + 1)).max() < 0.5  # noise std 0.08: >6 sigma never reached


def test_checkerboard_fills_only_the_dark_cells_uniformly():
    x, _ = load_arrays("checkerboard")
    column, row = np.floor(x[:, 0] / 2).astype(int), np.floor(x[:, 1] / 2).astype(int)
    assert np.all((column + row) % 2 == 0)
    counts = np.unique(np.stack([column, row], 1), axis=0, return_counts=True)[1]
    # 8 cells of probability 1/8 each: standard deviation sqrt(20000 * 1/8 * 7/8) = 47 points; allow 5 sigma.
    assert len(counts) == 8 and np.all(np.abs(counts - 2500) < 5 * 47)


def test_moons_lie_on_two_half_circles():
    x, y = load_arrays("moons")
    # Undo the centring and scaling: moon 0 is the upper unit half circle around (0, 0), moon 1 the lower one
    # around (1, 0.5).
    points = x / 2.0 + np.array([0.5, 0.25])
    distance = np.where(y == 0, np.linalg.norm(points, axis=1), np.linalg.norm(points - [1.0, 0.5], axis=1))
    np.testing.assert_allclose(np.median(distance), 1.0, atol=0.02)
    assert np.mean(points[y == 0, 1]) > np.mean(points[y == 1, 1])


def test_spirals_are_point_reflections_of_each_other():
    x, y = load_arrays("spirals")
    first, second = x[y == 0], x[y == 1]
    # The second spiral is the first rotated by pi: same radius distribution, opposite mean.
    np.testing.assert_allclose(np.quantile(np.linalg.norm(first, axis=1), [0.1, 0.5, 0.9]),
                               np.quantile(np.linalg.norm(second, axis=1), [0.1, 0.5, 0.9]), atol=0.05)
    np.testing.assert_allclose(first.mean(0), -second.mean(0), atol=0.05)


def test_pinwheel_arms_are_rotations_by_a_fifth_of_a_turn():
    x, y = load_arrays("pinwheel")
    direction = np.angle(np.array([np.exp(1j * np.arctan2(*x[y == k][:, ::-1].T)).mean() for k in range(5)]))
    step = np.angle(np.exp(1j * (np.diff(np.append(direction, direction[0] + 2 * np.pi)))))
    np.testing.assert_allclose(step, [2 * np.pi / 5] * 5, atol=0.05)
