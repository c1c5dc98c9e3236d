"""The convolutional RBM with probabilistic max-pooling (Lee et al. 2009), trained by CD-k."""

import keras
import numpy as np
import tensorflow as tf

from tfdgm.distributions.conv_rbm import MAX_ENUMERATED_STATES, ConvRBMDistribution, hidden_shape
from tfdgm.models.energy.base import EnergyModel

__all__ = ["ConvRBM", "contrastive_gradients", "sparsity_gradient", "default_learning_rate"]

# Gaussian visibles have unit variance (Lee et al. 2009, eq. 2), which fits
# standardized data: "scale:-0.8:2" maps [0, 1] pixels to about (x - 0.29) / 0.35,
# the pixel mean and standard deviation of Fashion-MNIST (digits: 0.30, 0.38).
GAUSSIAN_PREPROCESS = "dequantize,scale:-0.8:2"


def sparsity_gradient(hidden_probs, target, cost, activity=None):
    """The sparsity regularizer's step on the hidden group biases (Lee et al. 2009, Sec. 3.5).

    The regularizer is cost/2 sum_k (q_k - p)^2, q_k the mean of
    P(h^k_ij = 1 | v) over the batch and every position of group k. As in the
    paper (and Lee, Ekanadham & Ng 2008, Sec. 3.1) it moves the hidden
    biases only, along cost (q_k - p): its gradient in b_k divided by
    dq_k/db_k > 0 (q_k depends on b_k alone among the biases), so that each
    step moves the group's mean activation towards p at a rate that does not
    vanish when the units are nearly always off.

    Arguments:
      hidden_probs: [n, H', W', K] max-pooling posteriors (or None with
        `activity`); target: p; cost: lambda.
      activity: q [K] when already computed (`ContrastiveStatistics.hidden_activity`).
    Returns:
      (the gradient for b [K], q [K]).
    """
    q = tf.reduce_mean(hidden_probs, [0, 1, 2]) if activity is None else activity
    return cost * (q - target), q


def contrastive_gradients(distribution, v, seed, cd_steps, weight_decay, sparsity_target, sparsity_cost):
    """Loss gradients (descent directions) of one ConvRBM layer for a CD-k step.

    Minus the CD statistics (`ConvRBMDistribution.contrastive_divergence`)
    divided by the batch size and by the H' x W' positions that share each
    filter, plus `weight_decay` W on the filters and, with a `sparsity_target`,
    `sparsity_gradient` on the hidden biases.

    Returns:
      ([filters, hidden_bias, visible_bias] gradients, q [K] or None, the statistics).
    """
    stats = distribution.contrastive_divergence(v, seed, cd_steps)
    height, width = distribution.hidden_shape[:2]
    scale = 1.0 / (float(height * width) * tf.cast(tf.shape(stats.negative)[0], tf.float32))
    filters = -scale * stats.filters
    if weight_decay:
        filters += weight_decay * distribution.filters
    hidden, q = -scale * stats.hidden_bias, None
    if sparsity_target is not None:
        step, q = sparsity_gradient(None, sparsity_target, sparsity_cost, activity=stats.hidden_activity)
        hidden += step
    return [filters, hidden, -scale * stats.visible_bias], q, stats


def default_learning_rate(visible):
    """The CD step when none is given: 1.0 for binary visibles, 0.1 for
    Gaussian ones (whose inputs are unbounded). Measured on standardized
    Fashion-MNIST (24 filters of 9x9, 2 epochs of 10,000 images): at 0.01 the
    filters stay as random as they start; 0.3 drives them toward copies of one
    blob (mean |cosine| 0.53 against 0.22 at 0.1), though on ZCA-whitened
    images (`tfdgm.data.ZCAWhitening`) 0.3 learns the best strokes
    (benchmarks/README.md, Convolutional DBN)."""
    return 1.0 if visible == "binary" else 0.1


def initial_hidden_bias(sparsity_target, pool_size):
    """The hidden bias b at which each detection unit is on with probability p
    when W = 0: exp(b) / (1 + C^2 exp(b)) = p, b = log(p / (1 - C^2 p)); 0 without
    a target (or a target the pooling constraint cannot reach)."""
    if sparsity_target is None or sparsity_target * pool_size**2 >= 1.0:
        return 0.0
    return float(np.log(sparsity_target / (1.0 - pool_size**2 * sparsity_target)))


def _as_size(value, what):
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value), int(value))
    try:
        value = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"expected {what} as a positive int or (height, width), got {value!r}") from None
    if len(value) != 2 or min(value) < 1:
        raise ValueError(f"expected {what} as a positive int or (height, width), got {value!r}")
    return value


class ConvRBM(EnergyModel):
    """Convolutional RBM: K filter groups with probabilistic max-pooling.

    `distribution()` is a `ConvRBMDistribution` built from the weights:
    filters W [filter_h, filter_w, C, K] (Normal(0, `initial_filter_scale`^2)
    at start), one bias per hidden group (at start, the value that puts each
    group's mean activation at `sparsity_target` when W = 0) and one per
    visible channel. Binary visibles, or Gaussian visibles of unit variance
    (eq. 2 of the paper, whose natural images are whitened: use standardized
    data; the CLI's default for `visible="gaussian"` scales pixels to about
    zero mean, unit variance).

    Training is CD-k with the gradient in closed form
    (`ConvRBMDistribution.contrastive_divergence`), divided by the H' x W'
    hidden positions that share each filter, so that `learning_rate` is a
    per-position step as for a dense RBM; the sparsity regularizer (Sec. 3.5)
    moves each group's bias by `sparsity_cost` (q_k - p) towards the target
    mean activation p (`sparsity_gradient`); weight decay acts on the filters.
    The filters must start large enough for their differences to grow faster
    than the component they all share (the mean data patch): at scale 0.01
    every filter converges to that one blob.

    References:
      Lee, Grosse, Ranganath & Ng, "Convolutional deep belief networks for
      scalable unsupervised learning of hierarchical representations", ICML
      2009 (eqs. 1-7; 24 bases of 10 x 10 with pooling 2 in the first layer
      for natural images).
      Hinton, "Training products of experts by minimizing contrastive
      divergence", Neural Computation 2002.

    Arguments:
      image_shape: (H, W, C) (alias `event_shape`). H - filter_h + 1 and
        W - filter_w + 1 must be multiples of `pool_size`.
      num_filters: K, the number of filter groups (bases).
      filter_size: int or (filter_h, filter_w). The paper's 10 x 10 does not
        divide 28 x 28 images into 2 x 2 pooling blocks; 9 x 9 does (20 x 20
        hidden maps, 10 x 10 pooling maps).
      pool_size: C of the C x C probabilistic max-pooling blocks.
      visible: "binary" or "gaussian".
      initial_filter_scale: standard deviation of the filters at start.
      cd_steps, sparsity_target, sparsity_cost, learning_rate, momentum,
      weight_decay, sampling_steps: see `EnergyModel` (PCD is supported too).

    Example:
      >>> crbm = ConvRBM(image_shape=(28, 28, 1), num_filters=24, filter_size=9)
      >>> crbm.compile(); crbm.fit(x, epochs=5, batch_size=64)
      >>> crbm.features(x)  # [n, 10, 10, 24] pooling-unit posteriors
    """

    data_kind = "binary"

    #: `compile()` leaves XLA off: the step compiles (`jit_compile=True`), but
    #: XLA's CPU convolutions run it many times slower than TensorFlow's own.
    supports_xla = False

    def __init__(self, image_shape=None, num_filters=24, filter_size=9, pool_size=2, visible="binary",
                 cd_steps=1, sparsity_target=0.02, sparsity_cost=1.0, learning_rate=None, momentum=0.5,
                 weight_decay=1e-3, initial_filter_scale=0.1, event_shape=None, **kwargs):
        shape = image_shape if image_shape is not None else event_shape
        shape = (28, 28, 1) if shape is None else tuple(shape)
        if len(shape) != 3:
            raise ValueError(f"expected image_shape (height, width, channels), got {shape!r}")
        if visible not in ("binary", "gaussian"):
            raise ValueError(f"expected visible 'binary' or 'gaussian', got {visible!r}")
        if isinstance(num_filters, bool) or not isinstance(num_filters, (int, np.integer)) or num_filters < 1:
            raise ValueError(f"expected num_filters as a positive int, got {num_filters!r}")
        if learning_rate is None:
            learning_rate = default_learning_rate(visible)
        super().__init__(event_shape=shape, num_hidden=int(num_filters), cd_steps=cd_steps,
                         sparsity_target=sparsity_target, sparsity_cost=sparsity_cost,
                         learning_rate=learning_rate, momentum=momentum, weight_decay=weight_decay, **kwargs)
        self.num_filters = int(num_filters)
        self.filter_size = _as_size(filter_size, "filter_size")
        self.pool_size = int(_as_size(pool_size, "pool_size")[0])
        self.visible = visible
        self.initial_filter_scale = float(initial_filter_scale)
        self.hidden_shape = hidden_shape(shape, self.filter_size, self.pool_size, self.num_filters)
        self.data_kind = "binary" if visible == "binary" else "continuous"

    @classmethod
    def data_kind_for(cls, params=None):
        """Binary data for binary visibles, real values for Gaussian ones."""
        return "continuous" if (params or {}).get("visible", "binary") == "gaussian" else "binary"

    def hyperparameters(self):
        config = super().hyperparameters()
        del config["num_hidden"]
        return {**config, "num_filters": self.num_filters, "filter_size": list(self.filter_size),
                "pool_size": self.pool_size, "visible": self.visible,
                "initial_filter_scale": self.initial_filter_scale}

    @classmethod
    def default_hyperparameters(cls, info):
        """28 x 28 images: the paper's 24 bases at 9 x 9 (so that pooling 2
        divides); small images (digits 8 x 8): 16 bases of 3 x 3."""
        height = int(info.event_shape[0])
        if height >= 20:
            return {"num_filters": 24, "filter_size": 9 if height % 2 == 0 else 10, "pool_size": 2}
        return {"num_filters": 16, "filter_size": 3 if height % 2 == 0 else 2, "pool_size": 2}

    @classmethod
    def default_preprocess(cls, info, params=None):
        """Binarized data for binary visibles, roughly standardized pixels for Gaussian ones."""
        if (params or {}).get("visible", "binary") == "gaussian":
            return GAUSSIAN_PREPROCESS if info.num_levels is not None else None
        return cls.preprocess_for_kind("binary", info)

    # ---------------------------------------------------------------- weights
    def build(self, input_shape=None):
        filter_h, filter_w = self.filter_size
        self.conv_filters = self.add_weight(
            name="filters", shape=(filter_h, filter_w, self.event_shape[2], self.num_filters),
            initializer=keras.initializers.RandomNormal(stddev=self.initial_filter_scale),
        )
        self.hidden_bias = self.add_weight(
            name="hidden_bias", shape=(self.num_filters,),
            initializer=keras.initializers.Constant(initial_hidden_bias(self.sparsity_target, self.pool_size)))
        self.visible_bias = self.add_weight(name="visible_bias", shape=(self.event_shape[2],), initializer="zeros")
        self._build_energy_state(
            num_hidden_for_sparsity=self.num_filters,
            chain_initializer="random_normal" if self.visible == "gaussian" else None,
        )
        self.built = True

    def distribution(self, log_normalizer=None, num_steps=None):
        return ConvRBMDistribution(
            self.conv_filters, self.hidden_bias, self.visible_bias, self.event_shape, pool_size=self.pool_size,
            visible=self.visible, log_normalizer=log_normalizer,
            num_steps=self.sampling_steps if num_steps is None else num_steps,
            initial_logits=self.base_logits() if self.visible == "binary" else None,
        )

    # -------------------------------------------------------------- features
    def features(self, v):
        """Pooling-unit posteriors P(p^k_alpha = 1 | v). v: [n, H, W, C] -> [n, H'/C, W'/C, K]."""
        self._ensure_built()
        return self.distribution().pooling_probs(self.validate_input(v, "v"))

    def hidden_probs(self, v):
        """Detection-unit posteriors P(h^k_ij = 1 | v). v: [n, H, W, C] -> [n, H', W', K]."""
        self._ensure_built()
        return self.distribution().hidden_probs(self.validate_input(v, "v"))

    def filters(self):
        """The learned filters W: [filter_h, filter_w, C, K]."""
        self._ensure_built()
        return tf.convert_to_tensor(self.conv_filters)

    def pictures(self):
        """`{"filters_layer1": uint8 grid}` for the run directory."""
        from tfdgm.visualize import conv_filter_grid

        if self.event_shape[2] not in (1, 3):
            return {}
        return {"filters_layer1": conv_filter_grid(self.filters().numpy())}

    @property
    def enumerable(self):
        blocks = int(np.prod(self.hidden_shape)) // self.pool_size**2
        hidden_states = (self.pool_size**2 + 1) ** blocks if blocks < 64 else float("inf")
        visible_states = 2**self.num_dims if self.visible == "binary" and self.num_dims < 64 else float("inf")
        return min(hidden_states, visible_states) <= MAX_ENUMERATED_STATES

    # -------------------------------------------------------------- training
    @property
    def cd_loss_scale(self):
        return 1.0 / float(self.hidden_shape[0] * self.hidden_shape[1])

    def reconstruction(self, flat):
        distribution = self.distribution()
        return tf.reshape(distribution.visible_mean(distribution.hidden_probs(flat)), [-1, self.num_dims])

    def _coupling_weights(self):
        return [self.conv_filters]

    def penalties(self, flat):
        """Weight decay on the filters and the sparsity term on the group biases
        (as a surrogate loss whose gradient is `sparsity_gradient`; PCD path)."""
        total = 0.5 * self.weight_decay * tf.reduce_sum(tf.square(self.conv_filters)) if self.weight_decay else 0.0
        if self.hidden_activity is not None:
            step, q = sparsity_gradient(self.distribution().hidden_probs(flat), self.sparsity_target,
                                        self.sparsity_cost)
            self.hidden_activity.assign(q)
            total += tf.reduce_sum(tf.stop_gradient(step) * self.hidden_bias)
        return total

    def contrastive_gradients(self, flat, seed):
        """The CD-k gradient in closed form (`ConvRBMDistribution.contrastive_divergence`).

        Per variable as the module's `contrastive_gradients` states them; PCD
        uses the autodiff path of `EnergyModel`. -> (gradients aligned with `trainable_variables`, F of the
        data [n], the one-step reconstruction [n, V]).
        """
        if self.persistent:
            return super().contrastive_gradients(flat, seed)
        distribution = self.distribution()
        target = self.sparsity_target if self.hidden_activity is not None else None
        layer, q, stats = contrastive_gradients(distribution, flat, seed, self.cd_steps, self.weight_decay, target,
                                                self.sparsity_cost)
        if q is not None:
            self.hidden_activity.assign(q)
        gradients = dict(zip([id(self.conv_filters), id(self.hidden_bias), id(self.visible_bias)], layer))
        reconstruction = tf.reshape(stats.negative_mean, [-1, self.num_dims])
        return [gradients[id(v)] for v in self.trainable_variables], stats.free_energy, reconstruction
