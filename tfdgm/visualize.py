"""PNG pictures of samples: image grids and 2-D scatter densities.

Written with NumPy and `tf.io.encode_png` so that the library needs no
plotting package.
"""

import math
import os

import numpy as np
import tensorflow as tf

__all__ = ["image_grid", "scatter_image", "write_png", "samples_picture"]


def image_grid(images, num_columns=None, padding=1):
    """Tiles images into one picture.

    Arguments:
      images: [n, H, W, C] with values in [0, 1] (C = 1 or 3).
      num_columns: columns of the grid (default: ceil(sqrt(n))).
      padding: pixels of white between tiles.
    Returns:
      uint8 array [rows*(H+p)+p, cols*(W+p)+p, C].
    """
    images = np.asarray(images, np.float32)
    if images.ndim != 4:
        raise ValueError(f"expected images of shape [n, H, W, C], got {list(images.shape)}")
    n, height, width, channels = images.shape
    num_columns = num_columns or int(math.ceil(math.sqrt(n)))
    num_rows = int(math.ceil(n / num_columns))
    grid = np.ones(
        (num_rows * (height + padding) + padding, num_columns * (width + padding) + padding, channels),
        np.float32,
    )
    for index, image in enumerate(np.clip(images, 0.0, 1.0)):
        row, column = divmod(index, num_columns)
        top, left = padding + row * (height + padding), padding + column * (width + padding)
        grid[top : top + height, left : left + width] = image
    return (grid * 255.0 + 0.5).astype(np.uint8)


def scatter_image(points, size=256, extent=None):
    """A 2-D histogram of points as a dark-on-white picture.

    Arguments:
      points: [n, 2].
      size: picture width and height in pixels.
      extent: ((xmin, xmax), (ymin, ymax)); default: the 1st-99th percentile
        range widened by 20%.
    Returns:
      uint8 array [size, size, 1].
    """
    points = np.asarray(points, np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"expected points of shape [n, 2], got {list(points.shape)}")
    points = points[np.all(np.isfinite(points), axis=1)]
    if extent is None:
        low, high = np.percentile(points, 1, axis=0), np.percentile(points, 99, axis=0)
        margin = 0.2 * (high - low) + 1e-6
        extent = list(zip(low - margin, high + margin))
    counts, _, _ = np.histogram2d(points[:, 1], points[:, 0], bins=size, range=[extent[1], extent[0]])
    counts = counts[::-1]  # y grows upwards
    shade = np.log1p(counts) / max(np.log1p(counts).max(), 1e-12)
    return ((1.0 - shade)[..., None] * 255.0 + 0.5).astype(np.uint8)


def write_png(path, picture):
    """Writes a uint8 [H, W, C] array as PNG (directories are created)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tf.io.write_file(path, tf.io.encode_png(np.asarray(picture, np.uint8)))
    return path


def samples_picture(samples, num_levels=None):
    """The right picture for a batch of data-space samples.

    Images [n, H, W, C] are shown in [0, 1] (divided by `num_levels - 1` when
    the data has discrete levels); vectors [n, 2] as a scatter density;
    point clouds [n, points, 2] as a grid of scatter densities. Returns None for data with no natural picture.
    """
    samples = np.asarray(samples, np.float32)
    if samples.ndim == 4:
        if num_levels:
            samples = samples / float(num_levels - 1)
        return image_grid(samples)
    if samples.ndim == 2 and samples.shape[1] == 2:
        return scatter_image(samples)
    if samples.ndim == 3 and samples.shape[2] == 2:  # point clouds [n, points, 2]
        tiles = [scatter_image(cloud, 64, [(-1.0, 1.0), (-1.0, 1.0)]) / 255.0 for cloud in samples]
        return image_grid(np.stack(tiles))
    return None  # no picture for other data (word counts, audio)
