"""RealNVP (Dinh et al. 2016): affine coupling flows for vectors and images,
with checkerboard / channel masks, squeeze and a multi-scale architecture."""

import tensorflow_probability as tfp

from tfdgm.bijectors.coupling import (CouplingLayer, channel_mask, checkerboard_mask,
                                      vector_mask)
from tfdgm.bijectors.split import FactorOut
from tfdgm.bijectors.squeeze import Squeeze
from tfdgm.models.flows.base import FlowModel
from tfdgm.models.flows.context import ContextConditional
from tfdgm.nn.context import ContextCouplingNet
from tfdgm.nn.coupling_nets import MLPCouplingNet, ResNetCouplingNet

tfb = tfp.bijectors

__all__ = ["RealNVP", "max_squeezes", "check_image_levels"]


def max_squeezes(event_shape, limit=8):
    """How many times a 2x2 squeeze divides H and W of [H, W, C]."""
    h, w = int(event_shape[0]), int(event_shape[1])
    count = 0
    while count < limit and h % 2 == 0 and w % 2 == 0:
        h, w, count = h // 2, w // 2, count + 1
    return count


def check_image_levels(model_name, event_shape, num_levels, squeezes_per_level_offset):
    """Validates num_levels against the squeezes the image admits.

    A model with L levels squeezes L + offset times (RealNVP: L - 1, Glow: L).
    Raises ValueError naming the largest valid num_levels.
    """
    if len(event_shape) != 3:
        raise ValueError(f"{model_name}: expected an image event shape [H, W, C] or a vector "
                         f"shape [D], got {list(event_shape)}")
    if int(num_levels) < 1:
        raise ValueError(f"{model_name}: expected num_levels >= 1, got {num_levels}")
    needed = int(num_levels) + squeezes_per_level_offset
    available = max_squeezes(event_shape)
    if needed > available:
        h, w = event_shape[:2]
        raise ValueError(
            f"{model_name}: num_levels={num_levels} squeezes {needed} time(s), which needs H and W "
            f"divisible by {2 ** needed}; got {h}x{w}, which allows num_levels <= "
            f"{available - squeezes_per_level_offset}")


class RealNVP(ContextConditional, FlowModel):
    """Real-valued non-volume preserving flow.

    Every layer is the affine coupling y = b x + (1-b)(x exp(s(bx)) + t(bx))
    (eq. 9), log|det| = sum (1-b) s (eq. 6), with s soft-clamped to
    (-log_scale_bound, log_scale_bound) and each coupling network's last layer
    zero-initialized, so the flow starts at the identity (DESIGN "known
    pitfalls").

    * Vectors (`event_shape=(D,)`): `num_layers` couplings with MLP networks
      (`hidden_units`), masks alternating between the two halves.
    * Images (`[H, W, C]`): `num_levels` scales (Sec. 4.1). Each scale but the
      last: 3 checkerboard couplings, squeeze, 3 channel-wise couplings, then
      half of the channels is factored out (N(0, I) prior) and the rest goes
      to the next scale; the last scale: 4 checkerboard couplings. Coupling
      networks are residual conv nets (`num_blocks`, `hidden_channels`). The
      factored-out latents stay in z, which has the shape of x (see
      `tfdgm.bijectors.split`). num_levels - 1 squeezes must divide H and W
      (28x28 allows num_levels <= 3).

    * Context (`context_shape=(F,)`): p(x | c) for a real vector c [F] per
      example. Every coupling network also takes c (concatenated to a
      vector input; for images a learned projection of c to
      `context_channels` channels broadcast over the pixels, as Glow
      conditions its couplings); the base stays N(0, I) (Winkler et al.
      2019). `log_prob(x, context)`, `sample(n, context=...)`,
      `fit((x, context))`.

    References:
      Dinh, Sohl-Dickstein & Bengio, "Density estimation using Real NVP",
      ICLR 2017, https://arxiv.org/abs/1605.08803.
      Winkler et al., "Learning Likelihoods with Conditional Normalizing
      Flows", 2019, https://arxiv.org/abs/1912.00042 (conditional couplings).

    Arguments:
      event_shape: `(D,)` or `(H, W, C)`.
      num_layers: couplings for vectors.
      hidden_units: MLP widths for vectors.
      num_levels: scales for images (default: as many as divide, at most 3).
      hidden_channels, num_blocks: residual network width and depth (images).
      log_scale_bound: clamp of the log-scales.
      context_shape: (F,) for a flow conditioned on context vectors (None: off).
      context_channels: channels of the context projection (images).
      data_transform: preprocessing spec (see `GenerativeModel`).

    Example:
      >>> model = RealNVP(event_shape=(2,))
      >>> model.compile(); model.fit(x, epochs=10)
      >>> RealNVP(event_shape=(8, 8, 1), num_levels=2).sample(4, temperature=0.7)
    """

    def __init__(self, event_shape=(2,), num_layers=8, hidden_units=(128, 128), num_levels=None,
                 hidden_channels=64, num_blocks=2, log_scale_bound=3.0, context_shape=None, context_channels=8,
                 data_transform=None, name=None, **kwargs):
        super().__init__(event_shape=event_shape, data_transform=data_transform, name=name, **kwargs)
        self._init_context(context_shape)
        self.context_channels = int(context_channels)
        self.num_layers = int(num_layers)
        self.hidden_units = [int(u) for u in hidden_units]
        self.hidden_channels = int(hidden_channels)
        self.num_blocks = int(num_blocks)
        self.log_scale_bound = float(log_scale_bound)
        self.is_image = len(self.event_shape) == 3
        if self.is_image:
            if num_levels is None:
                num_levels = min(3, max_squeezes(self.event_shape) + 1)
            check_image_levels("RealNVP", self.event_shape, num_levels, -1)
            self.num_levels = int(num_levels)
            self._build_image_layers()
        else:
            if self.event_ndims != 1:
                raise ValueError(f"RealNVP: expected event_shape (D,) or (H, W, C), got {self.event_shape}")
            if self.num_layers < 1:
                raise ValueError(f"RealNVP: expected num_layers >= 1, got {num_layers}")
            self.num_levels = None
            d = self.num_dims
            self.couplings = [
                CouplingLayer(vector_mask(d, k, "half"), self._with_context(MLPCouplingNet(2 * d, self.hidden_units)),
                              log_scale_bound=self.log_scale_bound, name=f"coupling_{k}")
                for k in range(self.num_layers)
            ]

    # --------------------------------------------------------------- layers
    def _with_context(self, network):
        if self.context_shape is None:
            return network
        return ContextCouplingNet(network, self.context_size, self.context_channels)

    def _coupling(self, mask, name):
        net = self._with_context(ResNetCouplingNet(2 * mask.shape[-1], self.hidden_channels, self.num_blocks))
        return CouplingLayer(mask, net, log_scale_bound=self.log_scale_bound, name=name)

    def _build_image_layers(self):
        self.couplings = []
        # Per level: (shape at the level's input, checkerboard layers, squeezed shape, channel layers).
        self._plan = []
        h, w, c = self.event_shape
        for level in range(self.num_levels):
            last = level == self.num_levels - 1
            checker = [self._coupling(checkerboard_mask(h, w, c, k), f"level{level}_checker{k}")
                       for k in range(4 if last else 3)]
            channel = []
            if not last:
                sh, sw, sc = h // 2, w // 2, 4 * c
                channel = [self._coupling(channel_mask(sh, sw, sc, k), f"level{level}_channel{k}")
                           for k in range(3)]
            self.couplings += checker + channel
            self._plan.append(((h, w, c), checker, channel))
            if not last:
                h, w, c = h // 2, w // 2, 2 * c

    @classmethod
    def default_hyperparameters(cls, info):
        if info.kind == "vector" or len(info.event_shape) != 3:
            return {"num_layers": 8, "hidden_units": [128, 128]}
        levels = min(3, max_squeezes(info.event_shape) + 1)
        big = info.event_shape[0] >= 16
        return {"num_levels": levels, "hidden_channels": 64 if big else 32, "num_blocks": 4 if big else 2}

    def hyperparameters(self):
        return {"num_layers": self.num_layers, "hidden_units": list(self.hidden_units),
                "num_levels": self.num_levels, "hidden_channels": self.hidden_channels,
                "num_blocks": self.num_blocks, "log_scale_bound": self.log_scale_bound,
                "context_shape": None if self.context_shape is None else list(self.context_shape),
                "context_channels": self.context_channels}

    def build(self, input_shape=None):
        for layer in self.couplings:
            layer.build((None, *layer.mask.shape))
        self.built = True

    # ------------------------------------------------------------- bijector
    def _level_bijector(self, level, context=None):
        """Shape-preserving latent -> data bijector of `level` and all after it."""
        (h, w, c), checker, channel = self._plan[level]
        # Listed in the data -> latent order of the paper; the Chain's inverse
        # applies them front to back.
        parts = [layer.bijector(context) for layer in checker]
        if channel:
            parts.append(tfb.Invert(Squeeze()))
            parts += [layer.bijector(context) for layer in channel]
            parts.append(FactorOut(self._level_bijector(level + 1, context), 2 * c))
            parts.append(Squeeze())
        return tfb.Chain(parts)

    def bijector(self, context=None):
        """Latent -> data chain; with `context_shape`, for a context [N, F] (or [F])."""
        context = self.prepare_context(context) if self.context_shape is not None else None
        if self.is_image:
            return self._level_bijector(0, context)
        # Data side first; the Chain applies the last element first.
        return tfb.Chain([layer.bijector(context) for layer in self.couplings])
