"""Point clouds made from images: 2-D points drawn with probability
proportional to pixel intensity, as point-set papers do with MNIST.

Each point picks a pixel with probability intensity / total intensity, then a
uniform position inside that pixel; coordinates are scaled to [-1, 1] with y
pointing up. The draw is fixed per (dataset, split): numpy's `default_rng`
seeded by (crc32(name), split index), so every machine sees the same clouds.

References:
  Zaheer et al., "Deep Sets", NeurIPS 2017, Sec. 4.1.2 (MNIST digits as point sets).
  Li et al., "Point Cloud GAN", 2018 (2-D point clouds from MNIST).
"""

import functools
import zlib

import numpy as np

from tfdgm.data import sources

__all__ = ["images_to_point_clouds", "DATASETS"]

_SPLIT_INDEX = {"train": 0, "validation": 1, "test": 2}


def images_to_point_clouds(images, num_points, rng):
    """[n, H, W(, 1)] non-negative intensities -> [n, num_points, 2] float32 in [-1, 1].

    Arguments:
      images: intensities (any scale); every image needs a positive total.
      num_points: points per cloud.
      rng: a `numpy.random.Generator`.
    """
    images = np.asarray(images, np.float64)
    images = images.reshape(images.shape[0], images.shape[1], images.shape[2])
    n, height, width = images.shape
    weights = images.reshape(n, -1)
    totals = weights.sum(1, keepdims=True)
    if np.any(totals <= 0):
        raise ValueError("images_to_point_clouds: expected every image to have a positive total intensity")
    cdf = np.cumsum(weights / totals, axis=1)
    cdf[:, -1] = 1.0
    # One searchsorted over all images: row r's CDF lives in [r, r + 1].
    offsets = np.arange(n)[:, None]
    u = rng.uniform(size=(n, num_points))
    flat = np.searchsorted((cdf + offsets).ravel(), (u + offsets).ravel(), side="right")
    pixel = np.minimum(flat.reshape(n, num_points) - offsets * height * width, height * width - 1)
    row, column = np.divmod(pixel, width)
    jitter = rng.uniform(size=(n, num_points, 2))
    x = (column + jitter[..., 0]) / width * 2.0 - 1.0
    y = 1.0 - (row + jitter[..., 1]) / height * 2.0
    return np.stack([x, y], -1).astype(np.float32)


@functools.lru_cache(maxsize=8)
def _clouds(name, split, data_dir):
    source, num_points = _SOURCES[name]
    images, labels = source(split, data_dir)
    rng = np.random.default_rng([zlib.crc32(name.encode()), _SPLIT_INDEX[split]])
    clouds = images_to_point_clouds(images, num_points, rng)
    clouds.setflags(write=False)
    return clouds, labels


def _split(name, split, data_dir=None):
    return _clouds(name, split, data_dir)


_SOURCES = {
    "pointcloud_digits": (sources.digits_split, 64),
    "pointcloud_fashion_mnist": (sources.fashion_mnist_split, 128),
}

# name -> (DatasetInfo fields after the name, loader(split, data_dir) -> (x, y))
DATASETS = {
    "pointcloud_digits": (
        dict(event_shape=(64, 2), kind="pointcloud", num_classes=10, num_levels=None,
             description="64 2-D points per scikit-learn digit, drawn by pixel intensity, in [-1, 1]^2"),
        functools.partial(_split, "pointcloud_digits")),
    "pointcloud_fashion_mnist": (
        dict(event_shape=(128, 2), kind="pointcloud", num_classes=10, num_levels=None,
             description="128 2-D points per Fashion-MNIST image, drawn by pixel intensity, in [-1, 1]^2"),
        functools.partial(_split, "pointcloud_fashion_mnist")),
}
