"""Sample-set coverage metrics: k-NN precision / recall / coverage in a
feature space, and mode coverage on the 2-D toy sets `8gaussians` and `rings`.

References:
  Kynkäänniemi et al., "Improved Precision and Recall Metric for Assessing
  Generative Models", NeurIPS 2019, eq. 1-3 (k-NN manifolds).
  Naeem et al., "Reliable Fidelity and Diversity Metrics for Generative
  Models", ICML 2020, eq. 4 (coverage).
  Metz et al., "Unrolled GANs", ICLR 2017, Sec. 3.1 (modes covered and
  high-quality samples on a ring of 8 Gaussians; 3 standard deviations).
"""

import numpy as np

__all__ = ["precision_recall_coverage", "toy_modes", "mode_coverage"]


def _squared_distances(x, y, chunk=2048):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    y_norms = np.sum(y**2, 1)
    rows = []
    for start in range(0, len(x), chunk):
        block = x[start:start + chunk]
        rows.append(np.maximum(np.sum(block**2, 1)[:, None] + y_norms[None, :] - 2.0 * block @ y.T, 0.0))
    return np.concatenate(rows)


def precision_recall_coverage(real, fake, k=5):
    """k-NN precision, recall and coverage of `fake` against `real` features.

    Each set's manifold is the union of balls around its points with radius
    the distance to the k-th nearest neighbour in the same set.
      precision: fraction of fake points inside the real manifold;
      recall:    fraction of real points inside the fake manifold;
      coverage:  fraction of real points whose own ball holds a fake point.

    Arguments:
      real: [n, F]; fake: [m, F]; k: neighbourhood size (default 5).
    Returns:
      dict of floats in [0, 1].
    """
    real = np.asarray(real, np.float64).reshape(len(real), -1)
    fake = np.asarray(fake, np.float64).reshape(len(fake), -1)
    if len(real) <= k or len(fake) <= k:
        raise ValueError(f"expected more than k={k} real and fake examples, got {len(real)} and {len(fake)}")
    real_radii = np.sort(_squared_distances(real, real), 1)[:, k]  # column 0 is the point itself
    fake_radii = np.sort(_squared_distances(fake, fake), 1)[:, k]
    real_to_fake = _squared_distances(real, fake)  # [n, m]
    inside_real = real_to_fake <= real_radii[:, None]
    return {
        "precision": float(np.mean(np.any(inside_real, axis=0))),
        "recall": float(np.mean(np.any(real_to_fake <= fake_radii[None, :], axis=1))),
        "coverage": float(np.mean(np.any(inside_real, axis=1))),
    }


def toy_modes(name):
    """The modes of a toy set (see `tfdgm.data.toy2d`):
    "8gaussians": (centres [8, 2], std 0.5/sqrt(2)); "rings": (radii [4], std 0.08)."""
    if name == "8gaussians":
        angle = np.arange(8) * np.pi / 4
        return 2 * np.sqrt(2) * np.stack([np.cos(angle), np.sin(angle)], -1), 0.5 / np.sqrt(2)
    if name == "rings":
        return 0.75 * np.arange(1, 5), 0.08
    raise ValueError(f"expected toy set '8gaussians' or 'rings', got {name!r}")


def mode_coverage(samples, name="8gaussians", num_std=3.0, min_fraction=0.01):
    """Which modes of a toy set the samples cover.

    A sample is high quality when it is within `num_std` standard deviations
    of its nearest mode (distance to the centre for 8gaussians, to the circle
    for rings). A mode is covered when at least `min_fraction` of all
    samples are high-quality samples of it.

    Arguments:
      samples: [n, 2] data-space points.
      name: "8gaussians" or "rings".
    Returns:
      dict: modes_covered (int), num_modes, high_quality_fraction, per-mode
      fractions `mode_fractions` (list), and `kl_to_uniform` of the
      high-quality samples' mode histogram (nats; 0 = perfectly balanced).
    """
    samples = np.asarray(samples, np.float64)
    if samples.ndim != 2 or samples.shape[1] != 2:
        raise ValueError(f"expected samples [n, 2], got {list(samples.shape)}")
    modes, std = toy_modes(name)
    if name == "8gaussians":
        distances = np.sqrt(_squared_distances(samples, modes))
    else:
        distances = np.abs(np.linalg.norm(samples, axis=1)[:, None] - modes[None, :])
    nearest = np.argmin(distances, 1)
    good = distances[np.arange(len(samples)), nearest] <= num_std * std
    counts = np.bincount(nearest[good], minlength=len(modes))
    fractions = counts / max(len(samples), 1)
    histogram = counts / max(counts.sum(), 1)
    kl = float(np.sum(np.where(histogram > 0, histogram * np.log(np.maximum(histogram, 1e-300) * len(modes)), 0.0)))
    return {
        "modes_covered": int(np.sum(fractions >= min_fraction)),
        "num_modes": int(len(modes)),
        "high_quality_fraction": float(np.mean(good)),
        "mode_fractions": fractions.tolist(),
        "kl_to_uniform": kl,
    }
