"""Distances between point clouds: Chamfer distance, kernel MMD between two
point sets, and the minimum-matching distance between two sets of clouds.

References:
  Fan, Su & Guibas, "A Point Set Generation Network for 3D Object
  Reconstruction from a Single Image", CVPR 2017, eq. 1 (Chamfer distance).
  Gretton et al., "A Kernel Two-Sample Test", JMLR 2012, Lemma 6 (unbiased MMD^2).
  Achlioptas et al., "Learning Representations and Generative Models for 3D
  Point Clouds", ICML 2018, Sec. 4 (MMD-CD: minimum matching distance).
"""

import tensorflow as tf

__all__ = ["pairwise_squared_distances", "chamfer_distance", "mmd", "minimum_matching_distance"]


def pairwise_squared_distances(x, y):
    """||x_i - y_j||^2. x: [..., n, d], y: [..., m, d] -> [..., n, m]."""
    x = tf.convert_to_tensor(x, tf.float32)
    y = tf.convert_to_tensor(y, tf.float32)
    difference = x[..., :, None, :] - y[..., None, :, :]
    return tf.reduce_sum(tf.square(difference), axis=-1)


def chamfer_distance(x, y):
    """CD(X, Y) = 1/|X| sum_x min_y ||x - y||^2 + 1/|Y| sum_y min_x ||x - y||^2.

    Arguments:
      x: [..., n, d], y: [..., m, d] (batches of clouds broadcast).
    Returns:
      [...] float32.
    """
    distances = pairwise_squared_distances(x, y)
    return tf.reduce_mean(tf.reduce_min(distances, -1), -1) + tf.reduce_mean(tf.reduce_min(distances, -2), -1)


def mmd(x, y, bandwidth=0.1):
    """Unbiased MMD^2 between the point sets x and y with the Gaussian kernel
    k(a, b) = exp(-||a - b||^2 / (2 h^2)) (Gretton et al. 2012, Lemma 6).

    Arguments:
      x: [..., n, d], y: [..., m, d] (n, m >= 2); bandwidth: h.
    Returns:
      [...] float32 (can be slightly negative: the estimate is unbiased).
    """
    x = tf.convert_to_tensor(x, tf.float32)
    y = tf.convert_to_tensor(y, tf.float32)
    n = tf.cast(tf.shape(x)[-2], tf.float32)
    m = tf.cast(tf.shape(y)[-2], tf.float32)
    scale = -1.0 / (2.0 * bandwidth**2)
    k_xx = tf.exp(scale * pairwise_squared_distances(x, x))
    k_yy = tf.exp(scale * pairwise_squared_distances(y, y))
    k_xy = tf.exp(scale * pairwise_squared_distances(x, y))
    # Off-diagonal sums: the diagonal of k_xx and k_yy is exp(0) = 1.
    term_xx = (tf.reduce_sum(k_xx, [-2, -1]) - n) / (n * (n - 1.0))
    term_yy = (tf.reduce_sum(k_yy, [-2, -1]) - m) / (m * (m - 1.0))
    return term_xx + term_yy - 2.0 * tf.reduce_mean(k_xy, [-2, -1])


def minimum_matching_distance(reference, generated, chunk=64):
    """MMD-CD: mean over reference clouds of the Chamfer distance to the
    closest generated cloud (Achlioptas et al. 2018, Sec. 4).

    Arguments:
      reference: [r, n, d] clouds; generated: [g, m, d] clouds.
    Returns:
      scalar float32.
    """
    reference = tf.convert_to_tensor(reference, tf.float32)
    generated = tf.convert_to_tensor(generated, tf.float32)
    best = []
    for start in range(0, int(reference.shape[0]), chunk):
        block = reference[start:start + chunk]
        distances = chamfer_distance(block[:, None], generated[None, :])  # [chunk, g]
        best.append(tf.reduce_min(distances, axis=1))
    return tf.reduce_mean(tf.concat(best, 0))
