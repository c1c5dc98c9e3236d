"""Invertible 1x1 convolution: W = P L (U + diag s), log-det, inverse, rotation init."""

import numpy as np
import pytest

from tests.checks.bijectors import assert_bijector_correct
from tfdgm.bijectors.invertible_conv import InvertibleConv1x1Layer


def _layer(channels, seed=0, scale=0.3):
    layer = InvertibleConv1x1Layer(channels)
    layer.build()
    rng = np.random.default_rng(seed)
    for weight in layer.trainable_variables:
        weight.assign(weight + rng.normal(0.0, scale, weight.shape).astype(np.float32))
    return layer


@pytest.mark.parametrize("shape", [(4,), (16,), (4, 4, 2), (2, 2, 5)])
def test_log_det_matches_autodiff_jacobian(shape):
    layer = _layer(shape[-1], seed=shape[-1])
    x = np.random.default_rng(1).normal(size=(3, *shape)).astype(np.float32)
    assert_bijector_correct(layer.bijector(), x, len(shape))


def test_weight_is_p_l_u_and_its_inverse_is_exact():
    layer = _layer(5, seed=2)
    bijector = layer.bijector()
    weight = bijector.weight().numpy()
    p, lower, upper = layer.permutation.numpy(), layer.lower.numpy(), layer.upper.numpy()
    s = layer.sign_s.numpy() * np.exp(layer.log_s.numpy())
    expected = p @ (np.tril(lower, -1) + np.eye(5)) @ (np.triu(upper, 1) + np.diag(s))
    np.testing.assert_allclose(weight, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bijector.inverse_weight().numpy() @ weight, np.eye(5), atol=1e-5)
    _, logdet = np.linalg.slogdet(weight.astype(np.float64))
    np.testing.assert_allclose(np.sum(layer.log_s.numpy()), logdet, rtol=1e-5, atol=1e-5)


def test_initialized_as_a_rotation():
    layer = InvertibleConv1x1Layer(6)
    layer.build()
    weight = layer.bijector().weight().numpy()
    np.testing.assert_allclose(weight @ weight.T, np.eye(6), atol=1e-5)
    np.testing.assert_allclose(np.sum(layer.log_s.numpy()), 0.0, atol=1e-5)
    assert len(layer.trainable_variables) == 3  # L, U, log|s|; P and sign(s) fixed
