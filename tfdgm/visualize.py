"""PNG pictures of samples: image grids and 2-D scatter densities.

Written with NumPy and `tf.io.encode_png` so that the library needs no
plotting package.
"""

import math
import os

import numpy as np
import tensorflow as tf

__all__ = ["image_grid", "scatter_image", "write_png", "samples_picture", "conv_filter_grid",
           "second_layer_receptive_fields"]


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


def samples_picture(samples, num_levels=None, num_columns=None):
    """The right picture for a batch of data-space samples.

    Images [n, H, W, C] are shown in [0, 1] (divided by `num_levels - 1` when
    the data has discrete levels); vectors [n, 2] as a scatter density;
    point clouds [n, points, 2] as a grid of scatter densities. Returns None for data with no natural picture.
    `num_columns` sets the tiles per row of a grid (default: about square).
    """
    samples = np.asarray(samples, np.float32)
    if samples.ndim == 4:
        if num_levels:
            samples = samples / float(num_levels - 1)
        return image_grid(samples, num_columns)
    if samples.ndim == 2 and samples.shape[1] == 2:
        return scatter_image(samples)
    if samples.ndim == 3 and samples.shape[2] == 2:  # point clouds [n, points, 2]
        tiles = [scatter_image(cloud, 64, [(-1.0, 1.0), (-1.0, 1.0)]) / 255.0 for cloud in samples]
        return image_grid(np.stack(tiles), num_columns)
    return None  # no picture for other data (word counts, audio)


def conv_filter_grid(filters, padding=1):
    """A grid picture of convolutional filters, one tile per output channel.

    Each filter is scaled by its own largest absolute value (grey = 0).
    Arguments:
      filters: [filter_h, filter_w, C, K] with C = 1 or 3 (pixel channels).
    Returns:
      uint8 picture [rows, cols, C]; write it with `write_png`.
    """
    filters = np.asarray(filters, np.float32)
    if filters.ndim != 4 or filters.shape[2] not in (1, 3):
        raise ValueError(f"expected filters of shape [filter_h, filter_w, 1 or 3, K], got {list(filters.shape)}")
    tiles = np.transpose(filters, (3, 0, 1, 2))
    scale = np.maximum(np.abs(tiles).reshape(len(tiles), -1).max(1), 1e-12)[:, None, None, None]
    return image_grid(0.5 + 0.5 * tiles / scale, padding=padding)


def second_layer_receptive_fields(filters1, filters2, pool_size):
    """Pixel-space pictures of second-layer filters as weighted combinations of
    first-layer filters (Lee et al. 2009, Fig. 2/3).

    A layer-2 filter W2[:, :, :, k] weighs the layer-1 pooling units; each
    pooling unit stands for its C x C block of detection units (spread evenly
    over the block), and each detection unit for its layer-1 filter, so the
    receptive field is conv2d_transpose(upsample_C(W2[..., k]) / C^2, W1).

    Arguments:
      filters1: [f1_h, f1_w, C_in, K1]; filters2: [f2_h, f2_w, K1, K2];
      pool_size: C of layer 1.
    Returns:
      float32 [f2_h C + f1_h - 1, f2_w C + f1_w - 1, C_in, K2] (the layout of
      a filter bank, ready for `conv_filter_grid`).
    """
    filters1 = np.asarray(filters1, np.float32)
    filters2 = np.asarray(filters2, np.float32)
    if filters1.ndim != 4 or filters2.ndim != 4 or filters2.shape[2] != filters1.shape[3]:
        raise ValueError(
            "expected filters1 [f1_h, f1_w, C_in, K1] and filters2 [f2_h, f2_w, K1, K2] with the same K1, "
            f"got {list(filters1.shape)} and {list(filters2.shape)}"
        )
    weights = np.transpose(filters2, (3, 0, 1, 2))  # [K2, f2_h, f2_w, K1]: one pooled "map" per filter
    spread = np.repeat(np.repeat(weights, pool_size, 1), pool_size, 2) / float(pool_size**2)
    height = spread.shape[1] + filters1.shape[0] - 1
    width = spread.shape[2] + filters1.shape[1] - 1
    fields = tf.nn.conv2d_transpose(
        spread, filters1, [len(spread), height, width, filters1.shape[2]], 1, "VALID"
    ).numpy()
    return np.transpose(fields, (1, 2, 3, 0))
