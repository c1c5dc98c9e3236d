"""Full-covariance Gaussian head: N(y; mu(x), L(x) L(x)^T) with L lower-triangular."""

import keras
import tensorflow_probability as tfp

from tfdgm.layers.base import SOFTPLUS_ONE, DistributionHead

tfd = tfp.distributions
tfb = tfp.bijectors

__all__ = ["MultivariateNormalTriL"]


@keras.saving.register_keras_serializable(package="tfdgm")
class MultivariateNormalTriL(DistributionHead):
    """p(y | x) = N(y; mu(x), L(x) L(x)^T), L lower-triangular with a positive
    diagonal: correlated target dimensions with an input-dependent covariance.

    Outputs are [mu (D), the D(D+1)/2 entries of L]; `tfb.FillScaleTriL` fills
    L row by row and maps its diagonal through
    softplus(a + softplus^-1(1)) + min_scale (a zero output is L = I).

    References:
      Williams, "Using neural networks to model conditional multivariate
      densities", Neural Computation 1996 (the Cholesky parametrization).

    Arguments:
      event_size: D, the length of the target vector.
      min_scale: floor of the diagonal of L.

    Shapes: features [batch, F] -> outputs [batch, D + D (D + 1) / 2].

    Example:
      >>> head = MultivariateNormalTriL(event_size=2)
      >>> head.distribution(head(np.zeros([4, 3], np.float32))).covariance().shape
      TensorShape([4, 2, 2])
    """

    def __init__(self, event_size, min_scale=1e-3, **kwargs):
        kwargs.pop("event_shape", None)
        if isinstance(event_size, bool) or int(event_size) != event_size or event_size < 1:
            raise ValueError(f"MultivariateNormalTriL: expected event_size a positive int, got {event_size!r}")
        if not min_scale >= 0:
            raise ValueError(f"MultivariateNormalTriL: expected min_scale >= 0, got {min_scale!r}")
        self.min_scale = float(min_scale)
        super().__init__(event_shape=(int(event_size),), **kwargs)

    def params_size(self):
        d = self.event_size
        return d + d * (d + 1) // 2

    def _make_distribution(self, outputs):
        d = self.event_size
        diagonal = tfb.Chain([tfb.Shift(self.min_scale), tfb.Softplus(), tfb.Shift(SOFTPLUS_ONE)])
        scale_tril = tfb.FillScaleTriL(diag_bijector=diagonal, diag_shift=None).forward(outputs[..., d:])
        return tfd.MultivariateNormalTriL(loc=outputs[..., :d], scale_tril=scale_tril)

    def get_config(self):
        config = super().get_config()
        config.pop("event_shape")
        return {**config, "event_size": self.event_size, "min_scale": self.min_scale}
