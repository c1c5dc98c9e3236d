"""Two-dimensional toy densities of the normalizing-flow literature, generated deterministically."""

import functools
import zlib

import numpy as np

__all__ = ["TOY_DATASETS", "TOY_SPLIT_SIZES", "toy_split"]

# Examples per split; each (name, split) has its own fixed random stream.
TOY_SPLIT_SIZES = {"train": 20_000, "validation": 5_000, "test": 5_000}
_SPLIT_INDEX = {"train": 0, "validation": 1, "test": 2}


def _balanced_labels(rng, n, k):
    """`n` labels in 0..k-1 with counts differing by at most one, in random order."""
    return rng.permutation(np.arange(n) % k)


def _rotate(radial, tangential, angle):
    """Point with coordinates (radial, tangential) in a frame rotated by `angle`."""
    cos, sin = np.cos(angle), np.sin(angle)
    return np.stack([radial * cos - tangential * sin, radial * sin + tangential * cos], -1)


def _eight_gaussians(rng, n):
    """Mode k (the label) is N(c_k, 0.354^2 I), c_k at angle k*pi/4 on the circle of radius 2*sqrt(2)."""
    labels = _balanced_labels(rng, n, 8)
    angle = labels * (np.pi / 4)
    centers = 2 * np.sqrt(2) * np.stack([np.cos(angle), np.sin(angle)], -1)
    return centers + rng.normal(scale=0.5 / np.sqrt(2), size=(n, 2)), labels


def _checkerboard(rng, n):
    """Uniform on the 8 cells of a 4x4 board of 2x2 cells over [-4, 4)^2 whose (col + row) is even."""
    x1 = rng.uniform(-2.0, 2.0, n)
    column = np.floor(x1)
    row = 2.0 * rng.integers(0, 2, n) - 2.0 + np.mod(column, 2)
    x2 = row + rng.uniform(0.0, 1.0, n)
    return 2.0 * np.stack([x1, x2], -1), None


def _pinwheel(rng, n, num_arms=5, radial_std=0.3, tangential_std=0.1, rate=0.25):
    """Five arms: a Gaussian around (1, 0) rotated by arm*2pi/5 + rate*exp(radius), scaled by 2."""
    labels = _balanced_labels(rng, n, num_arms)
    radial = 1.0 + radial_std * rng.normal(size=n)
    tangential = tangential_std * rng.normal(size=n)
    angle = labels * (2 * np.pi / num_arms) + rate * np.exp(radial)
    return 2.0 * _rotate(radial, tangential, angle), labels


def _spirals(rng, n):
    """Two interleaved Archimedean spirals of 1.5 turns (label = spiral), jittered, scaled by 1/3."""
    labels = _balanced_labels(rng, n, 2)
    turn = np.sqrt(rng.uniform(size=n)) * 3 * np.pi
    points = np.stack([-np.cos(turn) * turn, np.sin(turn) * turn], -1)
    points += rng.uniform(0.0, 0.5, size=(n, 2))
    sign = np.where(labels == 0, 1.0, -1.0)[:, None]
    return sign * points / 3.0 + rng.normal(scale=0.1, size=(n, 2)), labels


def _rings(rng, n):
    """Four concentric circles of radii 0.75, 1.5, 2.25, 3 (label 0 = innermost), noise std 0.08."""
    labels = _balanced_labels(rng, n, 4)
    radius = 0.75 * (labels + 1)
    angle = rng.uniform(0.0, 2 * np.pi, n)
    circle = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], -1)
    return circle + rng.normal(scale=0.08, size=(n, 2)), labels


def _moons(rng, n):
    """Two interleaving half circles (label = moon), noise std 0.1, centred and scaled by 2."""
    labels = _balanced_labels(rng, n, 2)
    t = rng.uniform(0.0, np.pi, n)
    upper = np.stack([np.cos(t), np.sin(t)], -1)
    lower = np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], -1)
    points = np.where(labels[:, None] == 0, upper, lower) + rng.normal(scale=0.1, size=(n, 2))
    return 2.0 * (points - np.array([0.5, 0.25])), labels


# name -> (generator(rng, n) -> (x [n, 2], labels [n] or None), num_classes, description)
TOY_DATASETS = {
    "8gaussians": (_eight_gaussians, 8, "8 Gaussians (std 0.35) on a circle of radius 2 sqrt(2); label = mode"),
    "checkerboard": (_checkerboard, None, "uniform on the 8 dark cells of a 4x4 checkerboard over [-4, 4)^2"),
    "pinwheel": (_pinwheel, 5, "5-armed pinwheel of curved Gaussian arms; label = arm"),
    "spirals": (_spirals, 2, "two interleaved spirals of 1.5 turns; label = spiral"),
    "rings": (_rings, 4, "4 concentric noisy circles of radii 0.75..3; label = ring (0 innermost)"),
    "moons": (_moons, 2, "two interleaving noisy half circles; label = moon"),
}


@functools.lru_cache(maxsize=None)
def _generate(name, split):
    generator = TOY_DATASETS[name][0]
    rng = np.random.default_rng([zlib.crc32(name.encode()), _SPLIT_INDEX[split]])
    x, labels = generator(rng, TOY_SPLIT_SIZES[split])
    x = x.astype(np.float32)
    x.setflags(write=False)
    if labels is not None:
        labels = labels.astype(np.int64)
        labels.setflags(write=False)
    return x, labels


def toy_split(name, split, data_dir=None):
    """Arrays of one split of a toy set, the same on every call and every machine.

    The random stream is numpy's `default_rng` seeded by (crc32(name), split index),
    so the train, validation and test splits are independent draws.

    Arguments:
      name: a key of `TOY_DATASETS`.
      split: "train" (20,000 points), "validation" or "test" (5,000 each).
      data_dir: ignored (the data are generated).

    Returns:
      x: [n, 2] float32 (read-only), labels: [n] int64 (read-only) or None.
    """
    del data_dir
    return _generate(name, split)
