"""Batch normalization as a bijector (Dinh et al. 2016, Sec. 3.7; Papamakarios
et al. 2017, Sec. 4 and Appendix B), written for Keras 3: a layer owns the statistics and
parameters, `layer.bijector(training)` builds the TFP bijector from them."""

import keras
import tensorflow as tf

from tfdgm.bijectors.base import Bijector

__all__ = ["BatchNormBijector", "BatchNorm"]


class BatchNormBijector(Bijector):
    """Batch norm in the data -> noise direction, as its inverse:

        inverse: u = (x - m) / sqrt(v + eps) * exp(log_gamma) + beta,
        forward: x = (u - beta) * exp(-log_gamma) * sqrt(v + eps) + m,
        log|det du/dx| = sum(log_gamma - 1/2 log(v + eps))
    (Dinh et al. 2016, Sec. 3.7; Papamakarios et al. 2017, Appendix B).

    With `mean`/`variance` given (evaluation) this is an exact affine
    bijector. Without them (training) the inverse uses the statistics of the
    batch it is given, reduced over every axis but the event axes, and treats
    them as constants in the log-determinant, as the papers do; the forward
    map and its log-det then reuse the statistics of the last inverse pass
    (and raise before one). `record(mean, variance)` is called with the
    batch statistics so the owning layer can update its averages.

    References:
      Dinh, Sohl-Dickstein and Bengio, "Density estimation using Real NVP",
      ICLR 2017, https://arxiv.org/abs/1605.08803 (Sec. 3.7)
      Papamakarios, Pavlakou and Murray, "Masked Autoregressive Flow for
      Density Estimation", NeurIPS 2017, https://arxiv.org/abs/1705.07057
      (Appendix B)

    Arguments:
      log_gamma, beta: [*event_shape] scale (log) and shift.
      mean, variance: [*event_shape] statistics, or None for batch statistics.
      epsilon: added to the variance.
      record: optional callable(mean, variance) receiving batch statistics.
    """

    def __init__(self, log_gamma, beta, mean=None, variance=None, epsilon=1e-5, record=None, name="batch_norm"):
        parameters = dict(locals())
        self._log_gamma = tf.convert_to_tensor(log_gamma, tf.float32)
        self._beta = tf.convert_to_tensor(beta, tf.float32)
        if (mean is None) != (variance is None):
            raise ValueError("BatchNormBijector: expected both mean and variance or neither, got one of them")
        self._mean = None if mean is None else tf.convert_to_tensor(mean, tf.float32)
        self._variance = None if variance is None else tf.convert_to_tensor(variance, tf.float32)
        self._epsilon = epsilon
        self._record = record
        self._batch_statistics = {}
        self._ndims = self._log_gamma.shape.rank
        super().__init__(
            forward_min_event_ndims=self._ndims,
            is_constant_jacobian=mean is not None,
            parameters=parameters,
            name=name,
        )

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict()

    def _statistics(self, y=None, record=False):
        if self._mean is not None:
            return self._mean, self._variance
        if y is None:
            if "batch" not in self._batch_statistics:
                raise ValueError(
                    "BatchNormBijector: expected the batch statistics of a previous inverse pass "
                    "(training mode), got none; use the evaluation-mode bijector for forward maps"
                )
            return self._batch_statistics["batch"]
        axes = list(range(y.shape.rank - self._ndims))
        mean, variance = tf.nn.moments(y, axes=axes)
        if record:
            self._batch_statistics["batch"] = (mean, variance)
            if self._record is not None:
                self._record(mean, variance)
        return mean, variance

    def _log_det_of_inverse(self, variance):
        return tf.reduce_sum(self._log_gamma - 0.5 * tf.math.log(variance + self._epsilon))

    def forward_and_log_det(self, x):
        mean, variance = self._statistics()
        y = (x - self._beta) * tf.exp(-self._log_gamma) * tf.sqrt(variance + self._epsilon) + mean
        return y, -self._log_det_of_inverse(variance)

    def inverse_and_log_det(self, y):
        mean, variance = self._statistics(y, record=True)
        x = (y - mean) * tf.math.rsqrt(variance + self._epsilon) * tf.exp(self._log_gamma) + self._beta
        return x, self._log_det_of_inverse(variance)


class BatchNorm(keras.layers.Layer):
    """Keras 3 layer owning a batch-norm bijector's weights: trainable
    `log_gamma`, `beta` and non-trainable moving `mean` and `variance` (see
    `BatchNormBijector` for the map).

    In training, `bijector(training=True)` normalizes with batch statistics
    and records them; `update_moving_statistics()` (called by the model after
    the step) folds them into the moving averages
    m <- momentum m + (1 - momentum) m_batch. In evaluation the moving
    statistics are used and the bijector is exact.

    References:
      Papamakarios et al., "Masked Autoregressive Flow for Density
      Estimation", NeurIPS 2017, https://arxiv.org/abs/1705.07057 (Appendix B)

    Arguments:
      momentum: of the moving averages, in [0, 1).
      epsilon: added to the variance.

    Shapes:
      built with `[batch, *event_shape]`; weights are [*event_shape].
    """

    def __init__(self, momentum=0.9, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"BatchNorm: expected momentum in [0, 1), got {momentum!r}")
        if not epsilon > 0:
            raise ValueError(f"BatchNorm: expected epsilon > 0, got {epsilon!r}")
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        object.__setattr__(self, "_pending", [])

    def build(self, input_shape):
        shape = tuple(int(d) for d in input_shape[1:])
        self.log_gamma = self.add_weight(name="log_gamma", shape=shape, initializer="zeros")
        self.beta = self.add_weight(name="beta", shape=shape, initializer="zeros")
        self.moving_mean = self.add_weight(name="moving_mean", shape=shape, initializer="zeros", trainable=False)
        self.moving_variance = self.add_weight(
            name="moving_variance", shape=shape, initializer="ones", trainable=False
        )
        self.built = True

    def bijector(self, training=False):
        """The `BatchNormBijector` on the current weights (batch statistics if `training`)."""
        if training:
            del self._pending[:]
            return BatchNormBijector(self.log_gamma, self.beta, epsilon=self.epsilon, record=self._record)
        return BatchNormBijector(
            self.log_gamma, self.beta, self.moving_mean, self.moving_variance, epsilon=self.epsilon
        )

    def _record(self, mean, variance):
        del self._pending[:]
        self._pending.append((mean, variance))

    def update_moving_statistics(self):
        """Folds the last recorded batch statistics into the moving averages."""
        if not self._pending:
            return
        mean, variance = self._pending.pop()
        mean, variance = tf.stop_gradient(mean), tf.stop_gradient(variance)
        self.moving_mean.assign(self.momentum * self.moving_mean + (1.0 - self.momentum) * mean)
        self.moving_variance.assign(self.momentum * self.moving_variance + (1.0 - self.momentum) * variance)

    def call(self, x, training=False):
        """Normalizes x: [batch, *event_shape] (the bijector's inverse)."""
        return self.bijector(training).inverse(x)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "epsilon": self.epsilon}
