"""The batch-norm bijector: exact in evaluation, batch statistics in training,
moving averages, and its errors."""

import numpy as np
import pytest
import tensorflow as tf

from tests.checks.bijectors import assert_bijector_correct
from tfdgm.bijectors.batch_norm import BatchNorm, BatchNormBijector


def _layer(event_shape, seed=0):
    layer = BatchNorm(momentum=0.8)
    layer.build((None, *event_shape))
    rng = np.random.default_rng(seed)
    layer.log_gamma.assign(rng.normal(0, 0.5, event_shape).astype(np.float32))
    layer.beta.assign(rng.normal(0, 1.0, event_shape).astype(np.float32))
    layer.moving_mean.assign(rng.normal(0, 1.0, event_shape).astype(np.float32))
    layer.moving_variance.assign(rng.uniform(0.2, 3.0, event_shape).astype(np.float32))
    return layer


@pytest.mark.parametrize("event_shape", [(4,), (2, 3)])
def test_evaluation_bijector_passes_round_trip_and_log_det_checks(event_shape):
    layer = _layer(event_shape)
    x = np.random.default_rng(1).normal(size=(5, *event_shape)).astype(np.float32)
    assert_bijector_correct(layer.bijector(training=False), x, event_ndims=len(event_shape))


def test_training_inverse_normalizes_the_batch_to_beta_and_exp_log_gamma():
    layer = _layer((3,))
    x = np.random.default_rng(2).normal([5.0, -2.0, 0.0], [3.0, 0.1, 1.0], size=(512, 3)).astype(np.float32)
    bijector = layer.bijector(training=True)
    u = bijector.inverse(x).numpy()
    np.testing.assert_allclose(u.mean(0), layer.beta.numpy(), atol=1e-4)
    # std = exp(log_gamma) * sqrt(var / (var + eps)): eps=1e-5 matters only for the 0.1-std column.
    variance = x.var(0)
    np.testing.assert_allclose(
        u.std(0), np.exp(layer.log_gamma.numpy()) * np.sqrt(variance / (variance + 1e-5)), rtol=1e-3
    )
    # The log-det treats the batch statistics as constants (Dinh et al. 2016, Sec. 3.7).
    expected = np.sum(layer.log_gamma.numpy() - 0.5 * np.log(variance + 1e-5))
    np.testing.assert_allclose(bijector.inverse_log_det_jacobian(x, event_ndims=1).numpy(), expected, rtol=1e-4)
    # After that inverse pass the forward map reuses the same statistics.
    np.testing.assert_allclose(bijector.forward(tf.constant(u)).numpy(), x, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bijector.forward_log_det_jacobian(u, event_ndims=1).numpy(), -expected, rtol=1e-4)


def test_moving_statistics_follow_the_momentum_update():
    layer = _layer((2,))
    old_mean, old_variance = layer.moving_mean.numpy(), layer.moving_variance.numpy()
    x = np.random.default_rng(3).normal(size=(64, 2)).astype(np.float32)
    layer.bijector(training=True).inverse(x)
    layer.update_moving_statistics()
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.8 * old_mean + 0.2 * x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.8 * old_variance + 0.2 * x.var(0), rtol=1e-5)
    layer.update_moving_statistics()  # nothing recorded since: no change
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.8 * old_mean + 0.2 * x.mean(0), rtol=1e-5)


def test_bad_arguments_and_forward_before_statistics_raise():
    with pytest.raises(ValueError, match=r"expected momentum in \[0, 1\), got 1.5"):
        BatchNorm(momentum=1.5)
    with pytest.raises(ValueError, match="expected both mean and variance or neither"):
        BatchNormBijector(tf.zeros(2), tf.zeros(2), mean=tf.zeros(2))
    bijector = _layer((2,)).bijector(training=True)
    with pytest.raises(ValueError, match="expected the batch statistics of a previous inverse pass"):
        bijector.forward(tf.zeros([3, 2]))
