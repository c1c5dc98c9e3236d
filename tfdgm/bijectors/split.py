"""Multi-scale factor-out (Dinh et al. 2016, Sec. 3.6; Kingma & Dhariwal 2018,
Sec. 3 "split"), with the factored-out latents kept inside one tensor.

How factored-out latents live in the chain: a level's bijector is shape-
preserving on its input [h, w, c]. In the data -> latent direction it
squeezes, runs its steps, then (not at the last level)

  1. `SplitPriorLayer` (Glow only): the factored-out half z2 is mapped to
     eps2 = (z2 - mu(z1)) / sigma(z1), the learned conditional prior
     p(z2 | z1) = N(mu(z1), sigma(z1)) written as an affine coupling, so the
     base distribution stays N(0, I) over eps (and temperature T scales it,
     giving z2 ~ N(mu, (T sigma)^2) as in Glow). RealNVP's fixed N(0, I)
     prior on z2 needs no bijector.
  2. `FactorOut(next_level)`: only the kept half z1 goes through the next
     level; z2 passes unchanged;
  3. unsqueezes back to [h, w, c].

So z has the same shape as x, and every factored-out latent is a fixed set
of entries of z.
"""

import keras
import numpy as np
import tensorflow as tf

from tfdgm.bijectors.base import Bijector
from tfdgm.bijectors.coupling import CouplingLayer, channel_mask

__all__ = ["FactorOut", "SplitPriorLayer"]


class FactorOut(Bijector):
    """Applies a shape-preserving `bijector` to the first `num_kept` channels only:

        forward([z1, z2]) = [bijector.forward(z1), z2],
        log|det| = bijector.forward_log_det_jacobian(z1).

    References:
      Dinh, Sohl-Dickstein & Bengio, "Density estimation using Real NVP",
      ICLR 2017, https://arxiv.org/abs/1605.08803, Sec. 3.6 (eq. 13-14).

    Arguments:
      bijector: acts on `[..., *event_shape[:-1], num_kept]`, same shape out.
      num_kept: channels (last axis) that go through `bijector`.
      event_ndims: rank of the event (3 for images, 1 for vectors).
    """

    def __init__(self, bijector, num_kept, event_ndims=3, validate_args=False, name="factor_out"):
        parameters = dict(locals())
        self._inner = bijector
        self._num_kept = int(num_kept)
        self._event_ndims = int(event_ndims)
        super().__init__(forward_min_event_ndims=self._event_ndims, validate_args=validate_args,
                         parameters=parameters, name=name)

    @property
    def bijector(self):
        return self._inner

    def _split(self, x):
        return x[..., : self._num_kept], x[..., self._num_kept:]

    # One slice for the map and its log-det, so the inner bijector's cache
    # sees the same tensor twice and runs its networks once.
    def forward_and_log_det(self, x):
        kept, passed = self._split(x)
        y = self._inner.forward(kept)
        log_det = self._inner.forward_log_det_jacobian(kept, event_ndims=self._event_ndims)
        return tf.concat([y, passed], axis=-1), log_det

    def inverse_and_log_det(self, y):
        kept, passed = self._split(y)
        x = self._inner.inverse(kept)
        log_det = self._inner.inverse_log_det_jacobian(kept, event_ndims=self._event_ndims)
        return tf.concat([x, passed], axis=-1), log_det


class _ZeroConv(keras.layers.Layer):
    """Zero-initialized conv3x3 on the kept half only (Glow's split prior net)."""

    def __init__(self, num_kept, output_channels, **kwargs):
        super().__init__(**kwargs)
        self.num_kept = int(num_kept)
        self.conv = keras.layers.Conv2D(output_channels, 3, padding="same",
                                        kernel_initializer="zeros", bias_initializer="zeros")

    def build(self, input_shape):
        self.conv.build((*input_shape[:-1], self.num_kept))
        self.built = True

    def call(self, x):
        return self.conv(x[..., : self.num_kept])


class SplitPriorLayer(CouplingLayer):
    """Glow's learned prior of the factored-out half, as an affine coupling.

    For x = [z1, z2] on [h, w, c] (z1: the first c/2 channels, kept),
    mu, log sigma = ZeroConv3x3(z1) and

        forward(eps) = [z1, mu(z1) + sigma(z1) * eps2],
        log|det| = sum log sigma(z1),

    i.e. log p(z2 | z1) = log N(eps2; 0, I) - sum log sigma. log sigma is
    soft-clamped like every coupling log-scale; zero-initialized, it starts
    as the N(0, I) prior.

    References:
      Kingma & Dhariwal, "Glow", NeurIPS 2018, https://arxiv.org/abs/1807.03039,
      Sec. 3 and the authors' "split2d" prior.

    Arguments:
      event_shape: [h, w, c] at the split (c even).
      log_scale_bound: clamp of log sigma.
    """

    def __init__(self, event_shape, log_scale_bound=3.0, **kwargs):
        h, w, c = (int(d) for d in event_shape)
        mask = channel_mask(h, w, c, parity=0)
        super().__init__(mask, _ZeroConv(int(np.sum(mask[0, 0])), 2 * c), additive=False,
                         log_scale_bound=log_scale_bound, **kwargs)
