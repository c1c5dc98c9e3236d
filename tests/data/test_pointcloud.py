"""Point clouds from images: points land on bright pixels, in proportion to intensity."""

import numpy as np

from tfdgm.data import dataset_info, load_arrays
from tfdgm.data.pointcloud import images_to_point_clouds


def test_points_follow_pixel_intensities():
    image = np.zeros((1, 4, 4))
    image[0, 0, 0], image[0, 3, 2] = 1.0, 3.0  # top-left pixel weight 1, (row 3, col 2) weight 3
    points = images_to_point_clouds(image, 40_000, np.random.default_rng(0))[0]
    in_top_left = (points[:, 0] < -0.5) & (points[:, 1] > 0.5)
    in_other = (points[:, 0] > 0.0) & (points[:, 0] < 0.5) & (points[:, 1] < -0.5)
    assert np.all(in_top_left | in_other)
    # Binomial(40000, 1/4): 5 standard errors.
    assert abs(in_top_left.mean() - 0.25) < 5 * np.sqrt(0.25 * 0.75 / 40_000)


def test_registered_digit_clouds_are_fixed_and_in_range():
    info = dataset_info("pointcloud_digits")
    x, y = load_arrays("pointcloud_digits", "test")
    assert x.shape == (270, *info.event_shape) and y.shape == (270,)
    assert x.min() >= -1.0 and x.max() <= 1.0
    np.testing.assert_array_equal(x, load_arrays("pointcloud_digits", "test")[0])
    images, _ = load_arrays("digits", "test")
    # Every point lies on a pixel with positive intensity of its own image.
    column = np.clip(((x[..., 0] + 1) / 2 * 8).astype(int), 0, 7)
    row = np.clip(((1 - x[..., 1]) / 2 * 8).astype(int), 0, 7)
    assert np.all(images[np.arange(270)[:, None], row, column, 0] > 0)
