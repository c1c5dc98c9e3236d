"""Flow posterior layers: an amortized diagonal Normal pushed through planar
flows whose parameters the encoder outputs (normalizing-flow VAE), or through
inverse autoregressive flow steps conditioned on a context the encoder outputs.

References:
  Rezende & Mohamed, "Variational Inference with Normalizing Flows", ICML 2015
  (https://arxiv.org/abs/1505.05770), eq. 13 (log q_K) and Sec. 4.1 (planar).
  Kingma, Salimans, Jozefowicz, Chen, Sutskever & Welling, "Improved
  Variational Inference with Inverse Autoregressive Flow", NeurIPS 2016
  (https://arxiv.org/abs/1606.04934), Sec. 4, eqs. 10-14 and Algorithm 1.
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfdgm.bijectors.base import Bijector
from tfdgm.distributions.layers import _SOFTPLUS_ONE, FlatParamsLayer
from tfdgm.nn.masked import MaskedDense, hidden_degrees, input_degrees, input_order, made_masks

tfd = tfp.distributions
tfb = tfp.bijectors

__all__ = ["PlanarFlowPosteriorLayer", "IAFGate", "IAFConditioner", "IAFPosteriorLayer"]


class PlanarFlowPosteriorLayer(FlatParamsLayer):
    """q(z | x): z_0 ~ N(mu(x), diag sigma(x)^2), z_K = f_K o ... o f_1(z_0) with
    planar maps f_k(z) = z + u_k tanh(w_k^T z + b_k) (u, w, b from x), so

        log q_K(z_K) = log q_0(z_0) - sum_k log|1 + h'(w_k^T z_{k-1} + b_k) w_k^T u^_k|   (eq. 13)

    computed along the sample (no inverse needed for the ELBO / L_k). The
    distribution it returns (`make_distribution`) evaluates any z through the
    bijector's bisection inverse (`tfdgm.bijectors.planar.Planar`).
    Reparameterized: z_K is a differentiable function of eps ~ N(0, I).

    Arguments:
      event_shape: (latent_dim,).
      num_flows: K, the number of planar maps.
      min_scale: floor of sigma.
    """

    noise_kind = "normal"

    def __init__(self, event_shape, num_flows=4, min_scale=1e-3, **kwargs):
        super().__init__(event_shape, **kwargs)
        if self.event_ndims != 1:
            raise ValueError(f"PlanarFlowPosteriorLayer: expected event_shape (D,), got {self.event_shape}")
        self.num_flows = int(num_flows)
        self.min_scale = float(min_scale)
        dim = self.event_shape[0]
        self.num_params = 2 * dim + self.num_flows * (2 * dim + 1)

    def _parts(self, params):
        from tfdgm.bijectors.planar import Planar  # the flows package's bijector

        dim = self.event_shape[0]
        loc = params[..., :dim]
        scale = tf.nn.softplus(params[..., dim : 2 * dim] + _SOFTPLUS_ONE) + self.min_scale
        flows, offset = [], 2 * dim
        for _ in range(self.num_flows):
            u = params[..., offset : offset + dim]
            w = params[..., offset + dim : offset + 2 * dim]
            b = params[..., offset + 2 * dim]
            flows.append(Planar(u, w, b, event_ndims=1))
            offset += 2 * dim + 1
        return loc, scale, flows

    def make_distribution(self, params):
        loc, scale, flows = self._parts(params)
        base = tfd.Independent(tfd.Normal(loc, scale), reinterpreted_batch_ndims=1)
        return tfd.TransformedDistribution(base, tfb.Chain(flows[::-1]))

    def sample_and_log_prob(self, params, noise):
        loc, scale, flows = self._parts(params)
        z = loc + scale * noise
        log_q = tfd.Independent(tfd.Normal(loc, scale), reinterpreted_batch_ndims=1).log_prob(z)
        for flow in flows:
            z, log_det = flow.forward_and_log_det(z)
            log_q = log_q - log_det
        return z, log_q

    def sample_from_noise(self, params, noise):
        return self.sample_and_log_prob(params, noise)[0]

    def mean(self, params):
        """Not the mean (no closed form): the flows applied to mu, the image of q_0's mode."""
        loc, _, flows = self._parts(params)
        for flow in flows:
            loc = flow.forward(loc)
        return loc

    def get_config(self):
        return {**super().get_config(), "num_flows": self.num_flows, "min_scale": self.min_scale}


class IAFGate(Bijector):
    """One IAF step in the numerically stable, LSTM-like form (Kingma et al.
    2016, eqs. 13-14 and Algorithm 1):

        [m, s] = AutoregressiveNN(z, h),   sigma = sigmoid(s),
        z' = sigma * z + (1 - sigma) * m,

    i.e. eq. 10 (z' = mu + sigma * z) with mu = (1 - sigma) m. Since m_d and
    s_d depend on z_<d only (in the conditioner's ordering), the Jacobian is
    triangular with diagonal sigma, so

        log|det dz'/dz| = sum_d log sigma_d                              (eq. 11)

    Forward (the sampling direction) is one network pass for the map and its
    log-determinant. Inverse (only needed to evaluate q at an arbitrary z,
    never for the ELBO or L_k) solves z_d = (z'_d - (1 - sigma_d) m_d) /
    sigma_d in D sequential passes (a `tf.while_loop` of fixed length: after
    pass t the first t coordinates in the ordering are exact, so the last
    pass reads sigma at the exact z and gives the log-determinant too).

    Arguments:
      mean_and_gate_fn: z [..., D] -> (m, s), two [..., D] tensors,
        autoregressive in z (an `IAFConditioner` with its context bound).
      num_dims: D.
    """

    def __init__(self, mean_and_gate_fn, num_dims, validate_args=False, name="iaf_gate"):
        parameters = dict(locals())
        self._mean_and_gate_fn = mean_and_gate_fn
        self._num_dims = int(num_dims)
        super().__init__(forward_min_event_ndims=1, validate_args=validate_args, parameters=parameters, name=name)

    def forward_and_log_det(self, z):
        """(z', log|det dz'/dz|) in one network pass: [..., D] -> ([..., D], [...])."""
        m, s = self._mean_and_gate_fn(z)
        sigma = tf.sigmoid(s)
        return sigma * z + (1.0 - sigma) * m, tf.reduce_sum(tf.math.log_sigmoid(s), -1)

    def inverse_and_log_det(self, y):
        def body(step, z, s):
            m, s = self._mean_and_gate_fn(z)
            sigma = tf.sigmoid(s)
            return step + 1, (y - (1.0 - sigma) * m) / sigma, s

        _, z, s = tf.while_loop(lambda step, *_: step < self._num_dims, body,
                                (tf.constant(0), tf.zeros_like(y), tf.zeros_like(y)),
                                maximum_iterations=self._num_dims)
        return z, -tf.reduce_sum(tf.math.log_sigmoid(s), -1)


class IAFConditioner(keras.layers.Layer):
    """The autoregressive network of one IAF step: MADE masked dense layers
    (`tfdgm.nn.masked`; Germain et al. 2015, Sec. 4) mapping (z, h) to (m, s)
    with m_d, s_d depending on z_<d in `order` and on all of the context h
    (context inputs have degree 0).

    The output layer starts at zero and s gets a constant `forget_bias`, so
    every step starts as the contraction z' = sigmoid(forget_bias) z: the
    paper initializes s "sufficiently positive" so that sigma starts near 1
    (Kingma et al. 2016, Sec. 4).

    Arguments:
      hidden_units: widths of the masked hidden layers.
      order: "natural", "reversed", "random" or a permutation of range(D).
      context_dim: size of h (0: no context).
      activation: hidden activation.
      forget_bias: constant added to s.
      seed: seed of a "random" order.
    Shapes:
      z: [..., D], context: [..., context_dim] (broadcast against z's
      leading dims) -> (m, s): two [..., D].
    """

    def __init__(self, hidden_units=(32,), order="natural", context_dim=0, activation="elu", forget_bias=1.0,
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        self.hidden_units = [int(u) for u in hidden_units]
        if not self.hidden_units or min(self.hidden_units) < 1:
            raise ValueError(f"IAFConditioner: expected hidden_units as a non-empty list of positive ints, got {hidden_units!r}")
        if int(context_dim) != context_dim or context_dim < 0:
            raise ValueError(f"IAFConditioner: expected context_dim >= 0, got {context_dim!r}")
        self.order_spec = order
        self.context_dim = int(context_dim)
        self.activation = activation
        self.forget_bias = float(forget_bias)
        self.seed = seed

    def build(self, z_shape):
        num_dims = int(z_shape[-1])
        self.num_dims = num_dims
        self.order = input_order(num_dims, self.order_spec, self.seed)
        z_degrees = input_degrees(self.order)
        in_degrees = np.concatenate([np.zeros(self.context_dim, np.int64), z_degrees])
        layer_degrees, previous = [], in_degrees
        for units in self.hidden_units:
            previous = hidden_degrees(units, previous, num_dims, "equal")
            layer_degrees.append(previous)
        masks = made_masks(in_degrees, layer_degrees, np.concatenate([z_degrees, z_degrees]))  # [m | s]
        self.hidden_layers = []
        for index, (units, mask) in enumerate(zip(self.hidden_units, masks)):
            layer = MaskedDense(units, mask=mask, activation=self.activation, name=f"masked_dense_{index}")
            layer.build((None, mask.shape[0]))
            self.hidden_layers.append(layer)
        self.output_layer = MaskedDense(2 * num_dims, mask=masks[-1], kernel_initializer="zeros",
                                        name="masked_dense_output")
        self.output_layer.build((None, masks[-1].shape[0]))
        self.built = True

    def call(self, z, context=None):
        leading = tf.shape(z)[:-1]
        h = tf.reshape(z, [-1, self.num_dims])
        if self.context_dim:
            if context is None:
                raise ValueError(f"IAFConditioner: expected a context of size {self.context_dim}, got None")
            context = tf.broadcast_to(context, tf.concat([leading, [self.context_dim]], 0))
            h = tf.concat([tf.reshape(context, [-1, self.context_dim]), h], -1)
        for layer in self.hidden_layers:
            h = layer(h)
        params = tf.reshape(self.output_layer(h), tf.concat([leading, [2 * self.num_dims]], 0))
        return params[..., : self.num_dims], params[..., self.num_dims :] + self.forget_bias

    def get_config(self):
        order = self.order_spec if isinstance(self.order_spec, str) else [int(i) for i in self.order_spec]
        return {**super().get_config(), "hidden_units": self.hidden_units, "order": order,
                "context_dim": self.context_dim, "activation": self.activation,
                "forget_bias": self.forget_bias, "seed": self.seed}


class IAFPosteriorLayer(FlatParamsLayer):
    """q(z | x) by inverse autoregressive flow (Kingma et al. 2016, Sec. 4):
    the encoder's features give mu_0, sigma_0 and a context h; then

        z_0 = mu_0 + sigma_0 * eps,  eps ~ N(0, I)                       (eq. 9)
        z_t = sigma_t * z_{t-1} + (1 - sigma_t) * m_t,  t = 1..T        (eqs. 13-14)
        log q(z_T | x) = -sum_d (eps_d^2 / 2 + log(2 pi) / 2 + log sigma_{0,d}
                                 + sum_t log sigma_{t,d})               (eq. 12)

    with [m_t, s_t] = AutoregressiveNN_t(z_{t-1}, h), sigma_t = sigmoid(s_t)
    (`IAFConditioner`, owning its weights as Keras 3 layers) and the ordering
    reversed between steps. Each step is an `IAFGate` bijector built from
    the conditioner's weights on every call. Sampling and its density (the
    ELBO, L_k) are one pass per step; `make_distribution(params).log_prob(z)`
    at an arbitrary z inverts each step by D passes. Reparameterized: z_T is a
    differentiable function of eps.

    Arguments:
      event_shape: (latent_dim,).
      num_flows: T, the number of IAF steps.
      hidden_units: widths of each step's masked network (default [max(16, 2 D)]).
      context_dim: size of h (0: none; default D).
      activation: hidden activation of the masked networks.
      forget_bias: initial offset of s (see `IAFConditioner`).
      min_scale: floor of sigma_0.
    """

    noise_kind = "normal"

    def __init__(self, event_shape, num_flows=2, hidden_units=None, context_dim=None, activation="elu",
                 forget_bias=1.0, min_scale=1e-3, **kwargs):
        super().__init__(event_shape, **kwargs)
        if self.event_ndims != 1:
            raise ValueError(f"IAFPosteriorLayer: expected event_shape (D,), got {self.event_shape}")
        if int(num_flows) != num_flows or num_flows < 1:
            raise ValueError(f"IAFPosteriorLayer: expected num_flows >= 1, got {num_flows!r}")
        dim = self.event_shape[0]
        self.num_flows = int(num_flows)
        self.hidden_units = [max(16, 2 * dim)] if hidden_units is None else [int(u) for u in hidden_units]
        self.context_dim = dim if context_dim is None else int(context_dim)
        self.activation = activation
        self.forget_bias = float(forget_bias)
        self.min_scale = float(min_scale)
        self.num_params = 2 * dim + self.context_dim
        self.conditioners = [
            IAFConditioner(self.hidden_units, order="natural" if t % 2 == 0 else "reversed",
                           context_dim=self.context_dim, activation=activation, forget_bias=forget_bias,
                           name=f"iaf_step_{t}")
            for t in range(self.num_flows)
        ]

    def build(self, features_shape):
        super().build(features_shape)
        for conditioner in self.conditioners:
            conditioner.build((None, self.event_shape[0]))

    def _parts(self, params):
        dim = self.event_shape[0]
        loc = params[..., :dim]
        scale = tf.nn.softplus(params[..., dim : 2 * dim] + _SOFTPLUS_ONE) + self.min_scale
        context = params[..., 2 * dim :] if self.context_dim else None
        gates = [
            IAFGate(lambda z, c=conditioner: c(z, context), dim, name=f"iaf_gate_{t}")
            for t, conditioner in enumerate(self.conditioners)
        ]
        return loc, scale, gates

    def make_distribution(self, params):
        loc, scale, gates = self._parts(params)
        base = tfd.Independent(tfd.Normal(loc, scale), reinterpreted_batch_ndims=1)
        return tfd.TransformedDistribution(base, tfb.Chain(gates[::-1]))

    def sample_and_log_prob(self, params, noise):
        loc, scale, gates = self._parts(params)
        z = loc + scale * noise
        log_q = tfd.Independent(tfd.Normal(loc, scale), reinterpreted_batch_ndims=1).log_prob(z)
        for gate in gates:
            z, log_det = gate.forward_and_log_det(z)
            log_q = log_q - log_det
        return z, log_q

    def sample_from_noise(self, params, noise):
        return self.sample_and_log_prob(params, noise)[0]

    def mean(self, params):
        """Not the mean (no closed form): the flow applied to mu_0."""
        loc, _, gates = self._parts(params)
        for gate in gates:
            loc = gate.forward(loc)
        return loc

    def get_config(self):
        return {**super().get_config(), "num_flows": self.num_flows, "hidden_units": self.hidden_units,
                "context_dim": self.context_dim, "activation": self.activation,
                "forget_bias": self.forget_bias, "min_scale": self.min_scale}
