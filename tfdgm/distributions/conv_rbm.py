"""The convolutional RBM with probabilistic max-pooling as a TFP distribution over images.

K groups of hidden feature maps share one filter each (valid correlation up,
full convolution down) and one bias each; within every C x C block of a group
at most one hidden unit is on (probabilistic max-pooling,
`tfdgm.distributions.max_pooling`). `contrastive_divergence` gives the CD-k
gradient in closed form, with every convolution of the step written as one
matrix product over blocks of the hidden maps
(`tfdgm.distributions.correlation.BlockedCorrelation`).

References:
  Lee, Grosse, Ranganath & Ng, "Convolutional deep belief networks for
  scalable unsupervised learning of hierarchical representations", ICML 2009
  (Sec. 3.2: the CRBM energy, eqs. 1-4; Sec. 3.3: probabilistic max-pooling,
  eqs. 5-7; Sec. 3.5: the sparsity regularization).
  Salakhutdinov & Murray, "On the quantitative analysis of deep belief
  networks", ICML 2008 (Sec. 4.1: the AIS path from a base-rate model).
"""

import collections
import math

import numpy as np
import tensorflow as tf

from tfdgm import rng
from tfdgm.distributions.rbm import EnergyDistribution
from tfdgm.distributions.annealing import AnnealingPath
from tfdgm.distributions.correlation import BlockedCorrelation, full_convolution
from tfdgm.distributions.enumeration import log_sum_over_states
from tfdgm.distributions.gibbs import bernoulli, run_chain, split_seed
from tfdgm.distributions.max_pooling import (  # noqa: F401 (re-exported)
    MAX_ENUMERATED_STATES,
    _depth_to_space,
    _space_to_depth,
    from_blocks,
    pooling_configurations,
    prob_max_pool_log_partition,
    prob_max_pool_probs,
    sample_hidden_given_pooling,
    sample_prob_max_pool,
    sample_prob_max_pool_with_probs,
    sample_unit_major,
    unit_major_posterior,
)

__all__ = ["ConvRBMDistribution", "ContrastiveStatistics", "hidden_shape"]


# ------------------------------------------------------------ distribution
class ConvRBMDistribution(EnergyDistribution):
    """p(v) = sum_h exp(-E(v, h)) / Z of a convolutional RBM with probabilistic max-pooling.

    Binary visibles (Lee et al. 2009, eq. 1, with a bias per visible channel):
      E(v, h) = -sum_k sum_ij h^k_ij (W~^k * v)_ij - sum_k b_k sum_ij h^k_ij - sum_c a_c sum_ij v_ijc,
    Gaussian visibles of unit variance (eq. 2, up to a constant in Z):
      E(v, h) = 1/2 sum (v - a)^2 - sum_k sum_ij h^k_ij (W~^k * v)_ij - sum_k b_k sum_ij h^k_ij,
    over hidden states with at most one unit on in each C x C block of each
    group (eq. 5). `W~^k * v` is the valid correlation `tf.nn.conv2d(v, W)`;
    its adjoint, the full convolution `conv2d_transpose(h, W)`, is the top-down
    input: p(v=1|h) = sigmoid(a + sum_k W^k * h^k) (eq. 3) or
    p(v|h) = Normal(a + sum_k W^k * h^k, 1) (eq. 4). Summing the hiddens out
    block by block gives the free energy
      F(v) = -a.v [or 1/2 |v - a|^2] - sum_{k, alpha} log(1 + sum_{i in B_alpha} exp(I^k_i)),
    I^k = b_k + W~^k * v.

    Arguments:
      filters: W, [filter_h, filter_w, C, K]; hidden_bias: b [K];
      visible_bias: a [C] (one per channel) or [H, W, C] (one per visible
        unit, as a dense RBM has: filters as large as the image).
      image_shape: (H, W, C) of v; (H - filter_h + 1) and (W - filter_w + 1)
        must be multiples of `pool_size`.
      pool_size: C of the C x C pooling blocks.
      visible: "binary" or "gaussian".
      log_normalizer, num_steps: as in `EnergyDistribution`.
      initial_logits: [H*W*C] logits of the binary chains' starting
        distribution (default 0); Gaussian chains start at Normal(a, 1).
      block_size: side of the square blocks of hidden units that
        `BlockedCorrelation` computes per matrix row (a multiple of
        `pool_size` dividing the hidden maps; default
        `tfdgm.distributions.correlation.default_block_size`).

    Example:
      >>> crbm = ConvRBMDistribution(w, b, a, image_shape=(4, 4, 1), pool_size=2)
      >>> crbm.free_energy(v), crbm.exact_log_normalizer(), crbm.sample(10, seed=[1, 2])
    """

    def __init__(self, filters, hidden_bias, visible_bias, image_shape, pool_size=2, visible="binary",
                 log_normalizer=None, num_steps=1000, initial_logits=None, block_size=None, validate_args=False,
                 allow_nan_stats=True, name="ConvRBM"):
        parameters = dict(locals())
        self.filters = tf.convert_to_tensor(filters, tf.float32)
        self.hidden_bias = tf.convert_to_tensor(hidden_bias, tf.float32)
        self.visible_bias = tf.convert_to_tensor(visible_bias, tf.float32)
        if visible not in ("binary", "gaussian"):
            raise ValueError(f"expected visible 'binary' or 'gaussian', got {visible!r}")
        self.visible = visible
        self.image_shape = tuple(int(d) for d in image_shape)
        if len(self.image_shape) != 3:
            raise ValueError(f"expected image_shape (height, width, channels), got {image_shape!r}")
        if self.filters.shape.rank != 4 or self.filters.shape[2] != self.image_shape[2]:
            raise ValueError(
                f"expected filters of shape [filter_h, filter_w, {self.image_shape[2]}, K], "
                f"got {list(self.filters.shape)}"
            )
        self.pool_size = int(pool_size)
        self.hidden_shape = hidden_shape(self.image_shape, self.filters.shape[:2], self.pool_size,
                                         int(self.filters.shape[-1]))
        self.blocked = BlockedCorrelation(self.image_shape, self.filters.shape[:2], self.pool_size, block_size)
        if self.visible_bias.shape not in ((self.image_shape[2],), self.image_shape):
            raise ValueError(f"expected visible_bias of shape [{self.image_shape[2]}] or {list(self.image_shape)}, "
                             f"got {list(self.visible_bias.shape)}")
        num_visible = int(np.prod(self.image_shape))
        self.initial_logits = (
            tf.zeros([num_visible]) if initial_logits is None else tf.convert_to_tensor(initial_logits, tf.float32)
        )
        super().__init__(self.image_shape, log_normalizer, num_steps, validate_args, allow_nan_stats, name,
                         parameters)

    # ------------------------------------------------------------ shapes
    @property
    def num_groups(self):
        return int(self.filters.shape[-1])

    @property
    def pooled_shape(self):
        """(H'/C, W'/C, K): the shape of the pooling layer."""
        height, width, groups = self.hidden_shape
        return (height // self.pool_size, width // self.pool_size, groups)

    def _images(self, v):
        return tf.reshape(tf.convert_to_tensor(v, tf.float32), [-1, *self.image_shape])

    # ------------------------------------------------------------ conditionals
    def hidden_input(self, v):
        """I = b + W~ * v (valid correlation). v: [n, H, W, C] (or flat) -> [n, H', W', K].
        Filters as large as the image (1 x 1 hidden maps) are one matmul: a dense RBM layer."""
        if self.blocked.dense:
            flat = tf.reshape(tf.convert_to_tensor(v, tf.float32), [-1, self._num_visible])
            return tf.reshape(self.hidden_bias + flat @ self.blocked.matrix(self.filters), [-1, 1, 1, self.num_groups])
        return self.hidden_bias + tf.nn.conv2d(self._images(v), self.filters, 1, "VALID")

    def top_down(self, h):
        """sum_k W^k * h^k (full convolution, `full_convolution`; a matmul for 1 x 1 hidden maps).
        h: [n, H', W', K] -> [n, H, W, C]."""
        if self.blocked.dense:
            flat = tf.reshape(tf.convert_to_tensor(h, tf.float32), [-1, self.num_groups])
            columns = tf.matmul(flat, self.blocked.matrix(self.filters), transpose_b=True)
            return tf.reshape(columns, [-1, *self.image_shape])
        return full_convolution(h, self.filters, self.image_shape)

    def hidden_probs(self, v):
        """P(h^k_ij = 1 | v) under the pooling constraint (eq. 6). -> [n, H', W', K]."""
        return prob_max_pool_probs(self.hidden_input(v), self.pool_size)[0]

    def pooling_probs(self, v):
        """P(p^k_alpha = 1 | v) = 1 - P(p = 0 | v) (eq. 7). -> [n, H'/C, W'/C, K]."""
        return prob_max_pool_probs(self.hidden_input(v), self.pool_size)[1]

    def visible_mean(self, h):
        """E[v | h]: sigmoid(a + sum_k W^k * h^k) (binary) or a + sum_k W^k * h^k (Gaussian).
        -> [n, H, W, C]."""
        activation = self.visible_bias + self.top_down(h)
        return tf.sigmoid(activation) if self.visible == "binary" else activation

    def sample_visible(self, h, seed):
        """v ~ p(v | h) (eq. 3 or 4). -> [n, H, W, C]."""
        return self._draw_visible(self.visible_mean(h), seed)

    def _draw_visible(self, mean, seed):
        if self.visible == "binary":
            return bernoulli(mean, seed)
        return mean + rng.normal(tf.shape(mean), seed)

    # ------------------------------------------------------------ energies
    def _visible_term(self, images):
        """The visibles' own energy: -a.v (binary) or 1/2 |v - a|^2 (Gaussian). -> [n]."""
        if self.visible == "binary":
            return -tf.reduce_sum(images * self.visible_bias, [1, 2, 3])
        return 0.5 * tf.reduce_sum(tf.square(images - self.visible_bias), [1, 2, 3])

    def _free_energy(self, flat_v):
        images = self._images(flat_v)
        blocks = prob_max_pool_log_partition(self.hidden_input(images), self.pool_size)
        return self._visible_term(images) - tf.reduce_sum(blocks, [1, 2, 3])

    def energy(self, v, h):
        """E(v, h) for hidden states h [n, H', W', K] (not checked against the constraint). -> [n]."""
        images = self._images(v)
        return self._visible_term(images) - tf.reduce_sum(h * self.hidden_input(images), [1, 2, 3])

    # ------------------------------------------------------------ sampling
    def gibbs_step(self, flat_v, seed):
        """v -> (h, p) ~ p(h, p | v) blockwise -> v' ~ p(v | h). On flat [n, H*W*C] states."""
        hidden_seed, visible_seed = tf.unstack(split_seed(seed, 2))
        images = self._images(flat_v)
        matrix, bias = self.blocked.matrix(self.filters), self._blocked_bias()
        h = sample_unit_major(unit_major_posterior(self._blocked_input(images, matrix, bias)[1])[0], hidden_seed)
        mean = self._blocked_visible_mean(h, matrix, tf.shape(images)[0])
        return tf.reshape(self._draw_visible(mean, visible_seed), [-1, self._num_visible])

    # ------------------------------------------------------------ blocked form
    @property
    def _blocked_columns(self):
        """G = (s/C)^2 K: the columns of one pooling unit in `BlockedCorrelation`'s layout."""
        return self.blocked.blocks_per_row * self.num_groups

    def _blocked_bias(self):
        """b tiled to the columns of one unit of `BlockedCorrelation` ((block, group) order). -> [G]."""
        return tf.tile(self.hidden_bias, [self.blocked.blocks_per_row])

    def _blocked_input(self, images, matrix, bias):
        """-> (patches [N, P*C], I = b + W~ * v unit-major [N, C^2, G])."""
        patches = self.blocked.patches(images)
        inputs = tf.reshape(tf.matmul(patches, matrix), [-1, self.blocked.units, self._blocked_columns]) + bias
        return patches, inputs

    def _blocked_visible_mean(self, h, matrix, n):
        """E[v | h] from unit-major hidden states [N, C^2, G]. -> [n, H, W, C]."""
        columns = tf.matmul(tf.reshape(h, [-1, self.blocked.units * self._blocked_columns]), matrix,
                            transpose_b=True)
        activation = self.visible_bias + self.blocked.patches_adjoint(columns, n)
        return tf.sigmoid(activation) if self.visible == "binary" else activation

    def initial_state(self, n, seed):
        if self.visible == "binary":
            return bernoulli(tf.sigmoid(tf.broadcast_to(self.initial_logits, [n, self._num_visible])), seed)
        mean = tf.reshape(tf.broadcast_to(self.visible_bias, [1, *self.image_shape]), [1, -1])
        return mean + rng.normal([n, self._num_visible], seed)

    # ------------------------------------------------------------ learning
    def contrastive_divergence(self, v, seed, cd_steps=1):
        """CD-k statistics in closed form (Lee et al. 2009, Sec. 3.2; Hinton 2002, eq. 5).

        The gradient of log p(v) is <-dE/dtheta>_{h|v} - <-dE/dtheta>_{v,h}; CD-k
        replaces the model average by the chain v -> h -> v~ (k block Gibbs
        sweeps from the data) and its hidden posterior. With -dE/dW^k =
        sum_ij h^k_ij v_(patch ij), -dE/db_k = sum_ij h^k_ij and -dE/da_c =
        sum_ij v_ijc (binary) or sum_ij (v_ijc - a_c) (Gaussian), summed over the
        batch:
          positive = (corr(v, P(h|v)), sum P(h|v), sum v),
          negative = the same at v~.
        The data's posterior and the first hidden draw share one softmax. Every
        convolution is a product with `BlockedCorrelation`'s block matrix: the
        bottom-up inputs patches @ M, the top-down input the adjoint of the
        patches of (h @ M^T), and the filter statistics patches^T @ P(h|v)
        gathered onto the filter taps.

        Arguments:
          v: [n, H, W, C] (or flat); seed: stateless `[2]`; cd_steps: k >= 1.
        Returns:
          `ContrastiveStatistics` (sums over the batch, not means).
        """
        images = self._images(v)
        n = tf.shape(images)[0]
        first_seed, chain_seed, last_seed = tf.unstack(split_seed(seed, 3))
        blocked = self.blocked
        matrix, bias = blocked.matrix(self.filters), self._blocked_bias()
        patches, inputs = self._blocked_input(images, matrix, bias)
        probs, log_partition = unit_major_posterior(inputs)
        h = sample_unit_major(probs, first_seed)
        free_energy = self._visible_term(images) - tf.reduce_sum(tf.reshape(log_partition, [n, -1]), 1)

        def sweep(h, step_seed):
            visible_seed, hidden_seed = tf.unstack(split_seed(step_seed, 2))
            negative = self._draw_visible(self._blocked_visible_mean(h, matrix, n), visible_seed)
            return sample_unit_major(unit_major_posterior(self._blocked_input(negative, matrix, bias)[1])[0],
                                     hidden_seed)

        h = run_chain(sweep, h, cd_steps - 1, chain_seed)
        negative_mean = self._blocked_visible_mean(h, matrix, n)
        negative = self._draw_visible(negative_mean, last_seed)
        negative_patches, negative_inputs = self._blocked_input(negative, matrix, bias)
        negative_probs = unit_major_posterior(negative_inputs)[0]
        units = blocked.units * self._blocked_columns
        # patches^T @ posteriors is -dE/d(block matrix); its adjoint gathers it onto the filter taps
        correlation = (tf.matmul(patches, tf.reshape(probs, [-1, units]), transpose_a=True)
                       - tf.matmul(negative_patches, tf.reshape(negative_probs, [-1, units]), transpose_a=True))
        filters = blocked.filters_from_matrix(correlation)
        positive_sum = blocked.group_sums(tf.reduce_sum(probs, [0, 1]))
        hidden = positive_sum - blocked.group_sums(tf.reduce_sum(negative_probs, [0, 1]))
        visible = tf.reduce_sum(images - negative, [0, 1, 2] if self.visible_bias.shape.rank == 1 else 0)
        height, width = self.hidden_shape[:2]
        activity = positive_sum / (tf.cast(n, tf.float32) * float(height * width))
        return ContrastiveStatistics(filters, hidden, visible, activity, negative, negative_mean, free_energy)

    # ------------------------------------------------------------ log Z
    def _num_blocks(self):
        height, width, groups = self.pooled_shape
        return height * width * groups

    def exact_log_normalizer(self):
        """log Z by enumeration (tiny models).

        Binary visibles: the smaller of the 2^(HWC) visible states (each
        summed over the hiddens analytically through F) and the
        (C^2 + 1)^(blocks) constrained hidden configurations (each summed over
        the visibles: prod_i (1 + exp(a + sum_k W^k * h^k)_i)). Gaussian
        visibles: the hidden configurations, v integrated in closed form:
        Z = (2 pi)^(HWC/2) sum_h exp(b.h + a.m(h) + |m(h)|^2 / 2), m(h) = sum_k W^k * h^k.
        """
        num_visible_states = 2**self._num_visible if self._num_visible < 63 else math.inf
        num_hidden_states = (self.pool_size**2 + 1) ** self._num_blocks()
        if self.visible == "binary" and num_visible_states <= num_hidden_states:
            if num_visible_states > MAX_ENUMERATED_STATES:
                raise ValueError(
                    f"exact log Z enumerates 2**{self._num_visible} visible states; expected at most "
                    f"{MAX_ENUMERATED_STATES} (use AIS: method='ais')"
                )
            return log_sum_over_states(lambda v: -self.flat_free_energy(v), self._num_visible)
        return self.log_sum_over_hidden(self._hidden_log_weight)

    def _hidden_configurations(self):
        """All constrained hidden states as maps [S, H', W', K] (tiny models)."""
        height, width, groups = self.pooled_shape
        blocks = pooling_configurations(self._num_blocks(), self.pool_size)  # [S, blocks, C*C]
        blocks = tf.reshape(tf.constant(blocks), [-1, height, width, groups, self.pool_size**2])
        return from_blocks(blocks, self.pool_size)

    def log_sum_over_hidden(self, log_fn):
        """log sum over all constrained hidden configurations h of exp(log_fn(h))."""
        return tf.cast(tf.reduce_logsumexp(tf.cast(log_fn(self._hidden_configurations()), tf.float64)), tf.float32)

    def _hidden_log_weight(self, h):
        """log sum_v exp(-E(v, h)) for each hidden configuration h. -> [S]."""
        linear = tf.reduce_sum(h * self.hidden_bias, [1, 2, 3])
        activation = self.top_down(h)
        if self.visible == "binary":
            return linear + tf.reduce_sum(tf.math.softplus(self.visible_bias + activation), [1, 2, 3])
        return (
            linear
            + tf.reduce_sum(activation * self.visible_bias + 0.5 * tf.square(activation), [1, 2, 3])
            + 0.5 * self._num_visible * math.log(2 * math.pi)
        )

    def annealing_path(self, base_logits=None):
        """AIS path scaling the hidden inputs by beta (S&M 2008, Sec. 4.1, with pooling blocks).

        log p*_beta(v) = [binary] (1 - beta) v.a^A + beta v.a or [Gaussian] -1/2 |v - a|^2,
          + sum_{k, alpha} log(1 + sum_{i in B_alpha} exp(beta I^k_i)),
        so at beta = 0 the visibles are independent (base rates a^A =
        `base_logits`, or Normal(a, 1)) and each block has C^2 + 1 equally
        likely states: log Z_0 = sum softplus(a^A) [or HWC/2 log 2 pi]
        + (#blocks) log(C^2 + 1). The kernel draws (h, p) from the max-pooling
        softmax of beta I, then v from sigmoid((1 - beta) a^A + beta (a + W * h))
        [or Normal(a + beta W * h, 1)].
        """
        base = self.initial_logits if base_logits is None else tf.convert_to_tensor(base_logits, tf.float32)
        pool_size, binary = self.pool_size, self.visible == "binary"
        visible_bias = tf.reshape(tf.broadcast_to(self.visible_bias, [1, *self.image_shape]), [-1])

        def log_unnormalized(v, beta):
            blocks = prob_max_pool_log_partition(beta * self.hidden_input(v), pool_size)
            if binary:
                own = tf.linalg.matvec(v, (1.0 - beta) * base + beta * visible_bias)
            else:
                own = -0.5 * tf.reduce_sum(tf.square(v - visible_bias), -1)
            return own + tf.reduce_sum(blocks, [1, 2, 3])

        def transition(v, beta, seed):
            hidden_seed, visible_seed = tf.unstack(split_seed(seed, 2))
            h, _ = sample_prob_max_pool(beta * self.hidden_input(v), pool_size, hidden_seed)
            top_down = tf.reshape(self.top_down(h), [-1, self._num_visible])
            if binary:
                return bernoulli(tf.sigmoid((1.0 - beta) * base + beta * (visible_bias + top_down)), visible_seed)
            return visible_bias + beta * top_down + rng.normal(tf.shape(v), visible_seed)

        if binary:
            log_z_visible = tf.reduce_sum(tf.math.softplus(base))

            def sample_base(n, seed):
                return bernoulli(tf.sigmoid(tf.broadcast_to(base, [n, self._num_visible])), seed)
        else:
            log_z_visible = tf.constant(0.5 * self._num_visible * math.log(2 * math.pi))
            sample_base = self.initial_state
        log_z_base = log_z_visible + self._num_blocks() * math.log(pool_size**2 + 1)
        return AnnealingPath(log_z_base, sample_base, log_unnormalized, transition)


def hidden_shape(image_shape, filter_shape, pool_size, num_groups=None):
    """(H', W', K) of the hidden maps: H' = H - filter_h + 1, W' = W - filter_w + 1.

    Raises:
      ValueError: a filter larger than the image, or hidden maps that are not
        multiples of `pool_size`.
    """
    height, width = image_shape[0], image_shape[1]
    filter_h, filter_w = int(filter_shape[0]), int(filter_shape[1])
    if filter_h > height or filter_w > width:
        raise ValueError(f"expected filters no larger than the image {tuple(image_shape)}, "
                         f"got {filter_h}x{filter_w}")
    out_h, out_w = height - filter_h + 1, width - filter_w + 1
    if out_h % pool_size or out_w % pool_size:
        raise ValueError(
            f"expected hidden maps (image - filter + 1 = {out_h}x{out_w}) to be multiples of "
            f"pool_size {pool_size}; choose filter_size so that it divides (e.g. image 28, filter 9, pool 2)"
        )
    return (out_h, out_w, num_groups)


class ContrastiveStatistics(collections.namedtuple(
        "ContrastiveStatistics",
        ["filters", "hidden_bias", "visible_bias", "hidden_activity", "negative", "negative_mean", "free_energy"])):
    """`filters`, `hidden_bias`, `visible_bias`: positive minus negative
    statistics summed over the batch, the CD-k estimate of the gradient of
    sum_n log p(v_n); `hidden_activity`: the mean of P(h^k_ij = 1 | v) of the
    data over the batch and the positions of each group [K];
    `negative`: the chain's visibles v~ [n, H, W, C]; `negative_mean`:
    E[v | h] at the chain's last hidden draw [n, H, W, C]
    (for CD-1, the data's one-step reconstruction); `free_energy`: F(v) of
    the data [n], from the same bottom-up inputs."""
