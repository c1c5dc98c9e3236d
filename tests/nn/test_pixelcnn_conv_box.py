"""PixelCNN's masked convolutions run on the box of open taps only: the result
must equal the 'same'-padded convolution with the full masked kernel."""

import numpy as np
import pytest
import tensorflow as tf

from tfdgm.nn.masked_conv import MaskedConv2D


@pytest.mark.parametrize("kernel_size, mask_type, kind, num_groups, in_channels, padding", [
    ((3, 3), "B", "vertical", 1, 4, [[0, 0], [1, 0], [1, 1], [0, 0]]),  # rows below the centre closed
    ((7, 7), "A", "raster", 3, 3, [[0, 0], [3, 0], [3, 3], [0, 0]]),
    ((1, 3), "A", "raster", 1, 4, [[0, 0], [0, 0], [1, 0], [0, 0]]),  # taps right of the centre closed
    ((1, 5), "B", "raster", 3, 6, [[0, 0], [0, 0], [2, 0], [0, 0]]),
    ((1, 1), "B", "raster", 3, 6, [[0, 0], [0, 0], [0, 0], [0, 0]]),  # a matrix product
])
def test_box_convolution_equals_full_masked_same_convolution(kernel_size, mask_type, kind, num_groups,
                                                             in_channels, padding):
    conv = MaskedConv2D(6, kernel_size, mask_type=mask_type, kind=kind, num_groups=num_groups)
    x = np.random.default_rng(0).normal(size=(2, 6, 7, in_channels)).astype(np.float32)
    y = conv(x)
    conv.bias.assign(np.random.default_rng(1).normal(size=6).astype(np.float32))
    full = tf.nn.conv2d(x, conv.kernel * conv.mask, strides=1, padding="SAME") + conv.bias
    np.testing.assert_allclose(conv(x).numpy(), full.numpy(), rtol=1e-5, atol=1e-5)
    assert conv._padding == padding
    assert y.shape == (2, 6, 7, 6)
