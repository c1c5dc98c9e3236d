"""IAF (Kingma et al. 2016) as a density model: the inverse of MAF, with
one-pass sampling and D-pass density evaluation."""

import tensorflow_probability as tfp

from tfdgm.bijectors.autoregressive import MaskedAutoregressiveFlow

from tfdgm.models.autoregressive.maf import AutoregressiveFlow

tfb = tfp.bijectors

__all__ = ["IAF"]


class IAF(AutoregressiveFlow):
    """Inverse Autoregressive Flow (Kingma et al. 2016), trained as a density.

    Each layer maps noise to data by x_d = (u_d - mu_d(u_<d)) exp(-alpha_d(u_<d)),
    the shift and log-scale computed from the *noise* side, i.e. the inverse
    of a MAF layer (`tfb.Invert(tfb.MaskedAutoregressiveFlow(...))`; Kingma
    et al. 2016, Eq. 10 up to the sign convention of the parameters;
    Papamakarios et al. 2017, Sec. 3.2). Hence:

    * sampling x = f(u) is one MADE pass per layer (cheap);
    * log_prob(x) must invert each layer by D sequential MADE passes (a
      `tf.while_loop` in TFP's MAF forward), so training by maximum
      likelihood costs D times a MAF step: fine on low-dimensional data,
      slow on images (784 passes per layer on Fashion-MNIST).

    Everything else (orderings, batch norm, class context, identity
    initialization with a zero-initialized last MADE layer and a bounded
    log-scale b tanh(a / b)) is as in `MAF`.

    References:
      Kingma, Salimans, Jozefowicz, Chen, Sutskever and Welling, "Improved
      Variational Inference with Inverse Autoregressive Flow", NeurIPS 2016,
      https://arxiv.org/abs/1606.04934
      Papamakarios et al., "Masked Autoregressive Flow for Density
      Estimation", NeurIPS 2017, https://arxiv.org/abs/1705.07057

    Arguments:
      as for `MAF`: event_shape, num_layers, hidden_units, permutation,
      batch_norm, num_classes, activation, hidden_degrees, log_scale_bound,
      batch_norm_momentum, seed, data_transform, name.

    Example:
      >>> model = IAF(event_shape=(2,))
      >>> model.sample(4, seed=0).shape
      TensorShape([4, 2])
    """

    def layer_bijector(self, network, context):
        return tfb.Invert(MaskedAutoregressiveFlow.from_network(network, context))
