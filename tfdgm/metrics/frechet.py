"""Fréchet distance between Gaussians fitted to two feature sets.

tfdgm computes it in the features of a small classifier that tfdgm itself
trains with a fixed seed and architecture (`tfdgm.metrics.classifier`). It is
NOT the Inception FID of Heusel et al.: the numbers compare across tfdgm runs,
not with FIDs published for Inception-v3 features.

References:
  Dowson & Landau, "The Fréchet distance between multivariate normal
  distributions", J. Multivariate Analysis 1982 (the closed form).
  Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a
  Local Nash Equilibrium", NeurIPS 2017, eq. 6 (its use for generative models).
"""

import numpy as np

__all__ = ["frechet_distance", "gaussian_frechet_distance"]


def _sqrtm_psd(matrix):
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def gaussian_frechet_distance(mean_1, covariance_1, mean_2, covariance_2):
    """d^2 = ||μ1 - μ2||^2 + Tr(Σ1 + Σ2 - 2 (Σ1 Σ2)^(1/2)).

    Tr (Σ1 Σ2)^(1/2) is computed as Tr (Σ1^(1/2) Σ2 Σ1^(1/2))^(1/2) (the same
    eigenvalues, but a symmetric PSD matrix), in float64.

    Arguments:
      mean_1, mean_2: [F]; covariance_1, covariance_2: [F, F].
    Returns:
      float, the squared Fréchet (2-Wasserstein) distance.
    """
    mean_1, mean_2 = np.asarray(mean_1, np.float64), np.asarray(mean_2, np.float64)
    covariance_1 = np.atleast_2d(np.asarray(covariance_1, np.float64))
    covariance_2 = np.atleast_2d(np.asarray(covariance_2, np.float64))
    if mean_1.shape != mean_2.shape or covariance_1.shape != covariance_2.shape:
        raise ValueError(f"expected Gaussians of one dimension, got means {mean_1.shape}, {mean_2.shape} "
                         f"and covariances {covariance_1.shape}, {covariance_2.shape}")
    root_1 = _sqrtm_psd(covariance_1)
    cross = _sqrtm_psd(root_1 @ covariance_2 @ root_1)
    distance = np.sum((mean_1 - mean_2) ** 2) + np.trace(covariance_1) + np.trace(covariance_2) - 2.0 * np.trace(cross)
    return float(max(distance, 0.0))


def frechet_distance(features_1, features_2):
    """Fréchet distance between Gaussians fitted (mean, unbiased covariance) to two sets.

    Arguments:
      features_1: [n1, F]; features_2: [n2, F] (n1, n2 >= 2).
    Returns:
      float (squared distance, as FID reports it).
    """
    features_1 = np.asarray(features_1, np.float64)
    features_2 = np.asarray(features_2, np.float64)
    if features_1.ndim != 2 or features_2.ndim != 2 or features_1.shape[1] != features_2.shape[1]:
        raise ValueError(f"expected feature arrays [n, F] with one F, got {features_1.shape} and {features_2.shape}")
    if len(features_1) < 2 or len(features_2) < 2:
        raise ValueError("expected at least 2 examples per set to estimate a covariance")
    return gaussian_frechet_distance(
        features_1.mean(0), np.cov(features_1, rowvar=False), features_2.mean(0), np.cov(features_2, rowvar=False)
    )
