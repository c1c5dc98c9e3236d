"""MAF's affine autoregressive bijector (Papamakarios et al. 2017, Eq. 3-5)
on the one-pass base: the density direction is one conditioner pass for the
map and its log-determinant."""

import tensorflow as tf

from tfdgm.bijectors.base import Bijector

__all__ = ["MaskedAutoregressiveFlow"]


class MaskedAutoregressiveFlow(Bijector):
    """The affine autoregressive map of MAF, latent u -> data x:

        forward:  x_d = u_d exp(alpha_d(x_<d)) + mu_d(x_<d),               (Eq. 3)
        inverse:  u = (x - mu(x)) exp(-alpha(x)),                           (Eq. 4)
        log|det du/dx| = -sum_d alpha_d(x)                                   (Eq. 5)

    with (mu, alpha) = shift_and_log_scale_fn(x), autoregressive in x. The
    inverse (the density pass) is one network pass for both the map and its
    log-determinant. The forward map (sampling) is D passes x^(t) =
    u exp(alpha(x^(t-1))) + mu(x^(t-1)) from x^(0) = 0: after t passes the
    first t coordinates in the network's order are exact, so the D-th pass
    reads (mu, alpha) at the exact x and its alpha gives log|det dx/du| =
    sum_d alpha_d(x) with no further pass. TFP's `tfb.MaskedAutoregressiveFlow`
    computes the same maps, but its forward loop does not return alpha (one
    more pass for the log-det) and its density pass calls the network twice
    (once for the inverse, once for its log-det), hence this class.

    References:
      Papamakarios, Pavlakou & Murray, "Masked Autoregressive Flow for
      Density Estimation", NeurIPS 2017, https://arxiv.org/abs/1705.07057

    Arguments:
      shift_and_log_scale_fn: x [..., D] -> (shift, log_scale), each [..., D],
        autoregressive in x.
      name: bijector name.
    """

    def __init__(self, shift_and_log_scale_fn, validate_args=False, name=None):
        parameters = dict(locals())
        self._shift_and_log_scale_fn = shift_and_log_scale_fn
        super().__init__(forward_min_event_ndims=1, validate_args=validate_args, parameters=parameters,
                         name=name or "masked_autoregressive_flow")

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict()

    @classmethod
    def from_network(cls, network, context=None, mask_index=None, name=None):
        """The bijector conditioned by a `tfdgm.nn.made.MADENetwork` (with its
        mask `mask_index`, and `context` when the network takes one)."""
        return cls(lambda y: network.shift_and_log_scale(y, context, mask_index), name=name)

    def forward_and_log_det(self, u):
        num_dims = u.shape[-1] if u.shape[-1] is not None else tf.shape(u)[-1]

        def one_pass(step, x, log_scale):
            shift, log_scale = self._shift_and_log_scale_fn(x)
            return step + 1, u * tf.exp(log_scale) + shift, log_scale

        _, x, log_scale = tf.while_loop(lambda step, *_: step < num_dims, one_pass,
                                        (tf.constant(0), tf.zeros_like(u), tf.zeros_like(u)),
                                        maximum_iterations=num_dims)
        return x, tf.reduce_sum(log_scale, axis=-1)

    def inverse_and_log_det(self, x):
        shift, log_scale = self._shift_and_log_scale_fn(x)
        return (x - shift) * tf.exp(-log_scale), -tf.reduce_sum(log_scale, axis=-1)
