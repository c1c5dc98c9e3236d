"""A flow posterior layer: an amortized diagonal Normal pushed through planar
flows whose parameters the encoder also outputs (normalizing-flow VAE).

References:
  Rezende & Mohamed, "Variational Inference with Normalizing Flows", ICML 2015
  (https://arxiv.org/abs/1505.05770), eq. 13 (log q_K) and Sec. 4.1 (planar).
"""

import tensorflow as tf
import tensorflow_probability as tfp

from tfdgm.distributions.layers import _SOFTPLUS_ONE, FlatParamsLayer

tfd = tfp.distributions
tfb = tfp.bijectors

__all__ = ["PlanarFlowPosteriorLayer"]


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
            log_q = log_q - flow.forward_log_det_jacobian(z, event_ndims=1)
            z = flow.forward(z)
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
