"""Masks of PixelCNN's convolutions: raster order, channel groups, types A/B,
the vertical stack, and the shift that keeps it causal."""

import numpy as np
import tensorflow as tf

from tfdgm.nn.masked_conv import MaskedConv2D, channel_groups, conv_mask, shift_down


def test_channel_groups_split_maps_evenly_and_repeat_for_gate_halves():
    np.testing.assert_array_equal(channel_groups(6, 3), [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(channel_groups(12, 3, num_splits=2), [0, 0, 1, 1, 2, 2] * 2)
    np.testing.assert_array_equal(channel_groups(3 * 4, 3), np.repeat([0, 1, 2], 4))  # outputs [.., C, P]


def test_raster_masks_open_the_past_and_the_centre_by_channel_group():
    rgb = [0, 1, 2]
    a = conv_mask((3, 3), rgb, rgb, "A")
    b = conv_mask((3, 3), rgb, rgb, "B")
    for mask in (a, b):
        assert np.all(mask[0] == 1) and np.all(mask[1, 0] == 1)  # row above, pixel to the left
        assert np.all(mask[1, 2] == 0) and np.all(mask[2] == 0)  # right of and below the centre
    np.testing.assert_array_equal(a[1, 1], np.triu(np.ones([3, 3]), 1))  # out group > in group
    np.testing.assert_array_equal(b[1, 1], np.triu(np.ones([3, 3]), 0))  # out group >= in group
    vertical = conv_mask((3, 3), [0], [0], kind="vertical")
    np.testing.assert_array_equal(vertical[..., 0, 0], [[1, 1, 1], [1, 1, 1], [0, 0, 0]])


def test_masked_convolution_ignores_the_future():
    conv = MaskedConv2D(4, 5, mask_type="A")
    x = np.random.default_rng(0).normal(size=(1, 6, 6, 1)).astype(np.float32)
    future = x.copy()
    future[0, 3, 3:] += 10.0  # the current pixel (3, 3) and after it
    future[0, 4:] += 10.0
    np.testing.assert_allclose(conv(x)[0, 3, 3], conv(future)[0, 3, 3], rtol=1e-6)
    assert not np.allclose(conv(x)[0, 3, 4], conv(future)[0, 3, 4])


def test_shift_down_moves_rows():
    x = tf.reshape(tf.range(6.0), [1, 3, 2, 1])
    np.testing.assert_array_equal(shift_down(x)[0, :, :, 0], [[0, 0], [0, 1], [2, 3]])
