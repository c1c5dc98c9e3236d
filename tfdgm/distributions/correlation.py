"""The convolutions of a convolutional RBM's energy (Lee et al. 2009, eq. 1):
the valid correlation of images with filters (bottom-up), its adjoint in the
hidden maps (the full convolution, top-down) and in the filters (the filter
statistic), and `BlockedCorrelation`, which writes all three as one dense
matrix product over blocks of hidden units, the form a CPU's GEMM runs
fastest (benchmarks/README.md, convolutional DBN).

References:
  Lee, Grosse, Ranganath & Ng, "Convolutional deep belief networks for
  scalable unsupervised learning of hierarchical representations", ICML 2009.
"""

import functools

import numpy as np
import tensorflow as tf

from tfdgm.distributions.max_pooling import _depth_to_space, _space_to_depth

__all__ = ["BlockedCorrelation", "default_block_size", "filter_correlation", "full_convolution"]


def filter_correlation(images, hidden, filter_shape):
    """sum_n sum_ij hidden[n, i, j, k] images[n, i:i+fh, j:j+fw, c] -> [fh, fw, C, K]:
    -dE/dW of eq. 1 at (v, h), the adjoint of `tf.nn.conv2d(v, W)` in W."""
    filter_h, filter_w = int(filter_shape[0]), int(filter_shape[1])
    sizes = tf.constant([filter_h, filter_w, images.shape[-1], hidden.shape[-1]], tf.int32)
    return tf.raw_ops.Conv2DBackpropFilter(input=images, filter_sizes=sizes, out_backprop=hidden,
                                           strides=[1, 1, 1, 1], padding="VALID")


def full_convolution(h, filters, image_shape):
    """sum_k W^k * h^k: the full convolution of each group's map with its filter,
    summed over groups (the adjoint of the valid correlation `tf.nn.conv2d`).

    Single-channel images use a depthwise convolution of the zero-padded maps
    with the flipped filters and a sum over groups, which the CPU runs several
    times faster than `conv2d_transpose` with one output channel; images with
    more channels use `conv2d_transpose`.

    Arguments:
      h: [n, H', W', K]; filters: [fh, fw, C, K]; image_shape: (H, W, C).
    Returns:
      [n, H, W, C].
    """
    h = tf.convert_to_tensor(h, tf.float32)
    filter_h, filter_w, channels, groups = filters.shape
    if channels == 1:
        padded = tf.pad(h, [[0, 0], [filter_h - 1, filter_h - 1], [filter_w - 1, filter_w - 1], [0, 0]])
        flipped = tf.reverse(filters, [0, 1])[:, :, 0, :, None]  # [fh, fw, K, 1]
        return tf.reduce_sum(tf.nn.depthwise_conv2d(padded, flipped, [1, 1, 1, 1], "VALID"), -1, keepdims=True)
    output_shape = tf.stack([tf.shape(h)[0], *image_shape])
    return tf.nn.conv2d_transpose(h, filters, output_shape, 1, "VALID")


def default_block_size(hidden_height, hidden_width, pool_size):
    """The block side for `BlockedCorrelation`: the largest multiple of
    `pool_size` up to 4 that divides both hidden sides (else `pool_size`).
    Blocks of 4 x 4 give a 28 x 28 image with 9 x 9 filters products of
    [25 n, 144] @ [144, 16 K], which the CPU's GEMM runs faster than the
    1.23x fewer multiply-adds of 2 x 2 blocks ([100 n, 100] @ [100, 4 K])."""
    sizes = [s for s in range(pool_size, max(pool_size, 4) + 1, pool_size)
             if hidden_height % s == 0 and hidden_width % s == 0]
    return max(sizes) if sizes else pool_size


@functools.lru_cache(maxsize=None)
def _block_taps(filter_h, filter_w, block, pool_size):
    """Which filter tap links patch pixel (i, j, r, c) to hidden unit
    (u_r, u_c, q_r, q_c) of a block (`BlockedCorrelation`): [P, O] indices into
    the flattened filter, filter_h * filter_w where they are not linked."""
    cells_h, cells_w = -(-(block + filter_h - 1) // block), -(-(block + filter_w - 1) // block)
    blocks_per_side = block // pool_size
    pixel_rows = (np.arange(cells_h)[:, None] * block + np.arange(block)).reshape(-1)  # (i, r) -> i*s + r
    pixel_cols = (np.arange(cells_w)[:, None] * block + np.arange(block)).reshape(-1)
    unit = np.arange(pool_size)
    hidden = (np.arange(blocks_per_side)[None, :] * pool_size + unit[:, None])  # [u, q] -> q*C + u
    # offsets [i, r, j, c] x [u_r, u_c, q_r, q_c]
    rows = pixel_rows.reshape(cells_h, 1, block, 1, 1, 1, 1, 1) - hidden.reshape(1, 1, 1, 1, pool_size, 1,
                                                                                    blocks_per_side, 1)
    cols = pixel_cols.reshape(1, cells_w, 1, block, 1, 1, 1, 1) - hidden.reshape(1, 1, 1, 1, 1, pool_size, 1,
                                                                                    blocks_per_side)
    rows, cols = np.broadcast_arrays(rows, cols)
    inside = (rows >= 0) & (rows < filter_h) & (cols >= 0) & (cols < filter_w)
    taps = np.where(inside, rows * filter_w + cols, filter_h * filter_w)
    return taps.reshape(cells_h * cells_w * block * block, pool_size**2 * blocks_per_side**2).astype(np.int32)


class BlockedCorrelation:
    """The valid correlation W~ * v of a CRBM as one matrix product per block of hidden units.

    The hidden maps [n, H', W', K] are cut into s x s blocks (s = `block_size`,
    a multiple of the pooling size C). Every hidden unit of a block sees a
    pixel window inside the same (c_h s) x (c_w s) patch, c = ceil((s + f - 1)
    / s) cells of s x s pixels; so the inputs of all s^2 K units of a block are
    patch @ M, with M [P C, s^2 K] holding each filter at each of the s^2
    offsets (zero elsewhere). The patches are built from `space_to_depth`
    cells and c_h c_w slices (no per-pixel im2col), the top-down pass is the
    adjoint (h @ M^T added back onto the overlapping patches), and the filter
    statistic is patches^T @ h gathered from M's entries onto the filter taps
    (the adjoint of building M). Columns are unit-major: unit u = (u_r, u_c) of
    a pooling block first, then the (s / C)^2 pooling blocks of the s x s
    block and the K groups, so each pooling block's C^2 units are the rows of
    one column of `max_pooling.unit_major_posterior`.

    For 28 x 28 images, 9 x 9 filters and s = 4 the product does 144 / 81 =
    1.78x the multiply-adds of the convolution, in a [25 n, 144] @ [144, 16 K]
    shape that the CPU's GEMM runs near its peak.

    Arguments:
      image_shape: (H, W, C); filter_shape: (f_h, f_w); pool_size: C;
      block_size: s (None: `default_block_size`).
    """

    def __init__(self, image_shape, filter_shape, pool_size, block_size=None):
        self.image_shape = tuple(int(d) for d in image_shape)
        self.filter_shape = (int(filter_shape[0]), int(filter_shape[1]))
        height, width, self.channels = self.image_shape
        hidden_h, hidden_w = height - self.filter_shape[0] + 1, width - self.filter_shape[1] + 1
        block = default_block_size(hidden_h, hidden_w, pool_size) if block_size is None else int(block_size)
        if block % pool_size or hidden_h % block or hidden_w % block:
            raise ValueError(f"expected block_size a multiple of pool_size {pool_size} dividing the hidden maps "
                             f"{hidden_h}x{hidden_w}, got {block_size!r}")
        self.block, self.pool_size = block, pool_size
        #: hidden maps of 1 x 1 (filters as large as the image): every product is a plain
        #: matmul with the flattened images and filters, with no patches or taps
        self.dense = hidden_h == 1 and hidden_w == 1
        self.blocks = (hidden_h // block, hidden_w // block)
        self.cells = tuple(-(-(block + f - 1) // block) for f in self.filter_shape)
        self.taps = _block_taps(*self.filter_shape, block, pool_size)
        self.units = pool_size**2
        self.blocks_per_row = (block // pool_size) ** 2  # pooling blocks per s x s block

    def matrix(self, filters):
        """M [P C, C^2 (s/C)^2 K] from the filters [f_h, f_w, C, K]."""
        filter_h, filter_w, channels, groups = filters.shape
        if self.dense:
            return tf.reshape(filters, [filter_h * filter_w * channels, groups])
        flat = tf.concat([tf.reshape(filters, [filter_h * filter_w, channels * groups]),
                          tf.zeros([1, channels * groups], filters.dtype)], 0)
        patch, outputs = self.taps.shape
        matrix = tf.reshape(tf.gather(flat, self.taps), [patch, outputs, channels, groups])
        return tf.reshape(tf.transpose(matrix, [0, 2, 1, 3]), [patch * channels, outputs * groups])

    def filters_from_matrix(self, matrix):
        """The adjoint of `matrix`: each filter tap's sum over M's entries that
        hold it. [P C, O K] -> [f_h, f_w, C, K]."""
        if self.dense:
            return tf.reshape(matrix, [*self.filter_shape, self.channels, -1])
        patch, outputs = self.taps.shape
        groups = matrix.shape[-1] // outputs
        entries = tf.transpose(tf.reshape(matrix, [patch, self.channels, outputs, groups]), [0, 2, 1, 3])
        taps = self.filter_shape[0] * self.filter_shape[1]
        summed = tf.math.unsorted_segment_sum(tf.reshape(entries, [patch * outputs, self.channels * groups]),
                                              self.taps.reshape(-1), taps + 1)
        return tf.reshape(summed[:taps], [*self.filter_shape, self.channels, groups])

    def patches(self, images):
        """[n, H, W, C] -> [n * blocks, P C]: the pixels under every s x s block of hidden units."""
        height, width, channels = self.image_shape
        if self.dense:
            return tf.reshape(images, [-1, height * width * channels])
        (blocks_h, blocks_w), (cells_h, cells_w), s = self.blocks, self.cells, self.block
        need_h, need_w = (blocks_h + cells_h - 1) * s, (blocks_w + cells_w - 1) * s
        if need_h > height or need_w > width:
            images = tf.pad(images, [[0, 0], [0, need_h - height], [0, need_w - width], [0, 0]])
        cells = _space_to_depth(images, s)
        patches = tf.concat([cells[:, i:i + blocks_h, j:j + blocks_w, :]
                             for i in range(cells_h) for j in range(cells_w)], -1)
        return tf.reshape(patches, [-1, cells_h * cells_w * s * s * channels])

    def patches_adjoint(self, columns, n):
        """The adjoint of `patches`: each row's values added back onto its
        pixels. [n * blocks, P C] -> [n, H, W, C]."""
        height, width, channels = self.image_shape
        if self.dense:
            return tf.reshape(columns, [n, height, width, channels])
        (blocks_h, blocks_w), (cells_h, cells_w), s = self.blocks, self.cells, self.block
        size = s * s * channels
        columns = tf.reshape(columns, [n, blocks_h, blocks_w, cells_h * cells_w * size])
        total = None
        for i in range(cells_h):
            for j in range(cells_w):
                start = (i * cells_w + j) * size
                part = tf.pad(columns[..., start:start + size],
                              [[0, 0], [i, cells_h - 1 - i], [j, cells_w - 1 - j], [0, 0]])
                total = part if total is None else total + part
        return _depth_to_space(total, s)[:, :height, :width, :]

    def group_sums(self, per_column):
        """[(s/C)^2 K] sums over one unit's columns -> [K] per group."""
        return tf.reduce_sum(tf.reshape(per_column, [self.blocks_per_row, -1]), 0)

    def hidden_maps(self, unit_major, n):
        """Unit-major hidden values [n * blocks, C^2, (s/C)^2 K] -> maps [n, H', W', K]."""
        (blocks_h, blocks_w), c, q = self.blocks, self.pool_size, self.block // self.pool_size
        x = tf.reshape(unit_major, [n, blocks_h, blocks_w, c, c, q, q, -1])
        x = tf.transpose(x, [0, 1, 5, 3, 2, 6, 4, 7])  # n, block row, q_r, u_r, block col, q_c, u_c, K
        return tf.reshape(x, [n, blocks_h * self.block, blocks_w * self.block, x.shape[-1]])
