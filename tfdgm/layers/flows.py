"""Conditional normalizing-flow heads: p(y | x) as a flow whose base and
conditioners depend on the features x (MAF and RealNVP couplings).

Design: the flow's conditioners need the features inside `log_prob(y)` (the
shift and log-scale of each layer are functions of y *and* x), and a Keras 3
model's output must be one tensor. So the head's output is
`[base loc (D), base raw scale (D), features (F)]`: the parameters of a
diagonal Normal base N(mu(x), sigma(x)^2) followed by the features
themselves, which `distribution(outputs)` hands to the conditioners as their
context. The conditioners' weights belong to the head (so to the user's model),
and the loss reaches them through `head.distribution`.

Every flow layer starts at the identity (zero-initialized last layer of each
conditioner, as Glow does) and its log-scale is soft-bounded,
s = b tanh(a / b), so an untrained head is exactly an `IndependentNormal` head
and no layer can blow up the density at initialization.
"""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfdgm.bijectors.autoregressive import MaskedAutoregressiveFlow
from tfdgm.bijectors.coupling import AffineCoupling, vector_mask
from tfdgm.layers.base import SOFTPLUS_ONE, DistributionHead
from tfdgm.nn.context import ContextCouplingNet
from tfdgm.nn.coupling_nets import MLPCouplingNet
from tfdgm.nn.made import MADENetwork

tfd = tfp.distributions
tfb = tfp.bijectors

__all__ = ["ConditionalMAF", "ConditionalRealNVP"]


class _ConditionalFlowHead(DistributionHead):
    """Shared body: the Normal base from the projection, the features passed
    through as context, `num_layers` conditioned bijectors from `build`."""

    def __init__(self, event_shape, num_layers, hidden_units=(64, 64), activation="relu",
                 log_scale_bound=3.0, min_scale=1e-3, **kwargs):
        name = type(self).__name__
        if isinstance(num_layers, bool) or int(num_layers) != num_layers or num_layers < 1:
            raise ValueError(f"{name}: expected num_layers a positive int, got {num_layers!r}")
        hidden_units = [hidden_units] if isinstance(hidden_units, int) else list(hidden_units)
        if not hidden_units or not all(int(u) == u and u > 0 for u in hidden_units):
            raise ValueError(f"{name}: expected hidden_units a non-empty list of positive ints, got {hidden_units!r}")
        if log_scale_bound is not None and not log_scale_bound > 0:
            raise ValueError(f"{name}: expected log_scale_bound > 0 or None, got {log_scale_bound!r}")
        if not min_scale >= 0:
            raise ValueError(f"{name}: expected min_scale >= 0, got {min_scale!r}")
        self.num_layers = int(num_layers)
        self.hidden_units = [int(u) for u in hidden_units]
        self.activation = activation
        self.log_scale_bound = None if log_scale_bound is None else float(log_scale_bound)
        self.min_scale = float(min_scale)
        super().__init__(event_shape, **kwargs)

    def params_size(self):
        return 2 * self.event_size

    def output_size(self, features_size):
        return None if features_size is None else 2 * self.event_size + int(features_size)

    def build(self, features_shape):
        super().build(features_shape)
        self.conditioners = self._make_conditioners(self.features_size)
        for conditioner in self.conditioners:
            conditioner.build((None, self.event_size))
        self.built = True

    def call(self, features):
        return tf.concat([self.projection(features), tf.cast(features, self.compute_dtype)], axis=-1)

    def _make_conditioners(self, context_size):
        raise NotImplementedError

    def _layer_bijector(self, k, context):
        raise NotImplementedError

    def bijector(self, context):
        """Base -> target `tfb.Chain` for features `context` [..., F]: layer 1
        first, then a reshape to `event_shape`."""
        layers = [self._layer_bijector(k, context) for k in range(self.num_layers)]
        reshape = tfb.Reshape(event_shape_out=self.event_shape, event_shape_in=[self.event_size])
        return tfb.Chain([reshape, *reversed(layers)])

    def _make_distribution(self, outputs):
        if not self.built:
            raise ValueError(f"{type(self).__name__}: expected a built head (call it on features first), "
                             "got an unbuilt one")
        d = self.event_size
        loc, raw_scale, context = tf.split(outputs, [d, d, self.features_size], axis=-1)
        scale = tf.nn.softplus(raw_scale + SOFTPLUS_ONE) + self.min_scale
        base = tfd.Independent(tfd.Normal(loc, scale), reinterpreted_batch_ndims=1)
        return tfd.TransformedDistribution(base, self.bijector(context))

    def get_config(self):
        return {**super().get_config(), "num_layers": self.num_layers, "hidden_units": self.hidden_units,
                "activation": self.activation, "log_scale_bound": self.log_scale_bound,
                "min_scale": self.min_scale}


@keras.saving.register_keras_serializable(package="tfdgm")
class ConditionalMAF(_ConditionalFlowHead):
    """Masked autoregressive flow conditioned on the features:
    y = f_K o ... o f_1(u), u ~ N(mu(x), sigma(x)^2), each layer
    y_d = u_d exp(alpha_d(u_<d, x)) + m_d(u_<d, x) (Papamakarios et al.
    2017, eq. 4 with the conditional MADE of Sec. 3.4; TFP's
    `tfb.MaskedAutoregressiveFlow`). Layers alternate natural and reversed
    orders. `log_prob` is one MADE pass per layer; `sample` D passes.

    The head's output is `[mu (D), raw sigma (D), features (F)]`: the features
    travel with the parameters because the conditioners need them (module
    docstring). Each layer starts at the identity and its log-scale is
    bounded, alpha = b tanh(a / b), so an untrained head equals
    `IndependentNormal`. `mean` / `stddev` are not defined (TFP raises).

    References:
      Papamakarios, Pavlakou & Murray, "Masked Autoregressive Flow for
      Density Estimation", NeurIPS 2017, https://arxiv.org/abs/1705.07057
      Germain et al., "MADE", ICML 2015, https://arxiv.org/abs/1502.03509

    Arguments:
      event_shape: shape of one target.
      num_layers: K, the number of autoregressive layers.
      hidden_units: widths of each MADE's hidden layers.
      activation: hidden activation.
      log_scale_bound: b of the soft bound on alpha (None: unbounded).
      min_scale: floor of the base sigma.

    Shapes: features [batch, F] -> outputs [batch, 2 prod(event_shape) + F].

    Example:
      >>> head = ConditionalMAF(event_shape=(2,), num_layers=2)
      >>> outputs = head(np.zeros([4, 3], np.float32))          # [4, 2 + 2 + 3]
      >>> head.distribution(outputs).log_prob(np.zeros([4, 2])).shape
      TensorShape([4])
    """

    def __init__(self, event_shape, num_layers=3, **kwargs):
        super().__init__(event_shape, num_layers, **kwargs)

    def _make_conditioners(self, context_size):
        return [MADENetwork(num_params=2, hidden_units=self.hidden_units,
                            order="natural" if k % 2 == 0 else "reversed", context_dim=context_size,
                            activation=self.activation, log_scale_bound=self.log_scale_bound,
                            name=f"made_{k}", dtype=self.dtype_policy)
                for k in range(self.num_layers)]

    def _layer_bijector(self, k, context):
        conditioner = self.conditioners[k]
        return MaskedAutoregressiveFlow(lambda y: conditioner.shift_and_log_scale(y, context), name=f"maf_{k}")


@keras.saving.register_keras_serializable(package="tfdgm")
class ConditionalRealNVP(_ConditionalFlowHead):
    """RealNVP's affine couplings conditioned on the features:
    y = b*u + (1-b) * (u exp(s(b*u, x)) + t(b*u, x)) per layer (Dinh et al.
    2016, eq. 9 with the context as an extra network input), masks
    alternating halves, over a Normal base N(mu(x), sigma(x)^2). Both
    `log_prob` and `sample` take one network pass per layer.

    The head's output is `[mu (D), raw sigma (D), features (F)]` (see
    `ConditionalMAF`). Each coupling starts at the identity and
    s = b tanh(a / b) is bounded. Needs a target of at least 2 dimensions.

    References:
      Dinh, Sohl-Dickstein & Bengio, "Density estimation using Real NVP",
      ICLR 2017, https://arxiv.org/abs/1605.08803
      Winkler et al., "Learning Likelihoods with Conditional Normalizing
      Flows", 2019, https://arxiv.org/abs/1912.00042 (conditional couplings).

    Arguments:
      event_shape: shape of one target (at least 2 values).
      num_layers: number of couplings.
      hidden_units: widths of each coupling network.
      activation: hidden activation.
      log_scale_bound: b of the soft bound on s (None: unbounded).
      min_scale: floor of the base sigma.

    Shapes: features [batch, F] -> outputs [batch, 2 prod(event_shape) + F].

    Example:
      >>> head = ConditionalRealNVP(event_shape=(2,))
      >>> outputs = head(np.zeros([4, 3], np.float32))
      >>> head.distribution(outputs).sample(seed=[0, 0]).shape
      TensorShape([4, 2])
    """

    def __init__(self, event_shape, num_layers=4, **kwargs):
        super().__init__(event_shape, num_layers, **kwargs)
        if self.event_size < 2:
            raise ValueError(f"ConditionalRealNVP: expected an event of at least 2 values (a coupling splits "
                             f"it), got event_shape={self.event_shape}; use ConditionalMAF for one")

    def _make_conditioners(self, context_size):
        return [ContextCouplingNet(MLPCouplingNet(2 * self.event_size, self.hidden_units, self.activation,
                                                  name="network", dtype=self.dtype_policy),
                                   context_size, name=f"coupling_{k}", dtype=self.dtype_policy)
                for k in range(self.num_layers)]

    def _layer_bijector(self, k, context):
        conditioner = self.conditioners[k]
        mask = vector_mask(self.event_size, parity=k % 2)
        return AffineCoupling(mask, lambda masked: conditioner.shift_and_log_scale(masked, context),
                              log_scale_bound=self.log_scale_bound, name=f"coupling_{k}")
