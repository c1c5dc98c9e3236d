"""Planar bijector: log-det, the root-find inverse, the u-hat constraint, gradients."""

import numpy as np
import pytest
import tensorflow as tf

from tests.checks.bijectors import assert_bijector_correct
from tfdgm.bijectors.planar import AmortizedPlanar, Planar, PlanarLayer, planar_u_hat


def _random_planar(shape, seed, u_scale=1.0):
    rng = np.random.default_rng(seed)
    u = rng.normal(0.0, u_scale, shape).astype(np.float32)
    w = rng.normal(0.0, 1.0, shape).astype(np.float32)
    b = np.float32(rng.normal())
    return Planar(u, w, b, event_ndims=len(shape)), rng


@pytest.mark.parametrize("shape", [(2,), (5,), (16,), (4, 4, 2)])
def test_log_det_matches_autodiff_jacobian_and_inverse_round_trips(shape):
    bijector, rng = _random_planar(shape, seed=len(shape) + shape[0])
    x = rng.normal(size=(6, *shape)).astype(np.float32)
    assert_bijector_correct(bijector, x, len(shape))


def test_inverse_recovers_x_for_strong_and_nearly_singular_maps():
    rng = np.random.default_rng(1)
    w = rng.normal(size=[3]).astype(np.float32)
    for u in (50.0 * w, -0.999 * w / np.dot(w, w), rng.normal(0, 20, [3]).astype(np.float32)):
        bijector = Planar(u.astype(np.float32), w, np.float32(0.3))
        x = rng.normal(0.0, 3.0, size=(200, 3)).astype(np.float32)
        y = bijector.forward(x)
        np.testing.assert_allclose(bijector.inverse(tf.identity(y)).numpy(), x, atol=2e-4, rtol=1e-4)


def test_u_hat_keeps_w_dot_u_hat_at_least_minus_one_for_adversarial_u():
    rng = np.random.default_rng(2)
    for _ in range(50):
        w = rng.normal(0.0, rng.uniform(0.01, 10.0), size=[4]).astype(np.float32)
        u = (-rng.uniform(1.0, 1e3) * w + rng.normal(0, 0.1, size=[4])).astype(np.float32)
        assert float(np.dot(w, u)) < -1.0  # invertibility would fail without the reparameterization
        u_hat = planar_u_hat(u, w).numpy()
        assert float(np.dot(w, u_hat)) >= -1.0 - 1e-5
    # Where w.u is already large, u-hat moves u only slightly (m(a) -> a).
    w = np.array([1.0, 0.0], np.float32)
    np.testing.assert_allclose(planar_u_hat(np.array([30.0, 2.0], np.float32), w).numpy(), [29.0, 2.0],
                               atol=1e-4)


def test_inverse_gradient_is_the_implicit_function_gradient():
    """d inverse(y) / d b by autodiff through the root-find equals a finite difference."""
    rng = np.random.default_rng(3)
    u, w = rng.normal(size=[2]).astype(np.float32), rng.normal(size=[2]).astype(np.float32)
    y = tf.constant(rng.normal(size=(4, 2)).astype(np.float32))
    b = tf.Variable(0.4)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(Planar(u, w, b).inverse(y))
    gradient = float(tape.gradient(total, b))
    eps = 1e-2
    plus = float(tf.reduce_sum(Planar(u, w, 0.4 + eps).inverse(y)))
    minus = float(tf.reduce_sum(Planar(u, w, 0.4 - eps).inverse(y)))
    assert abs(gradient) > 1e-3
    np.testing.assert_allclose(gradient, (plus - minus) / (2 * eps), rtol=2e-2)


def test_inverse_compiles_with_xla():
    bijector, rng = _random_planar((3,), seed=4)
    y = tf.constant(rng.normal(size=(5, 3)).astype(np.float32))
    inverse = tf.function(lambda t: bijector.inverse(t), jit_compile=True)
    np.testing.assert_allclose(bijector.forward(inverse(y)).numpy(), y.numpy(), atol=1e-4)


def test_planar_layer_starts_at_identity():
    layer = PlanarLayer((3,))
    layer.build()
    x = np.random.default_rng(5).normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_allclose(layer.bijector().forward(x).numpy(), x, atol=1e-6)
    assert np.any(layer.w.numpy() != 0)  # not the u = w = 0 saddle


def test_amortized_planar_gives_per_example_maps_and_a_correct_log_det():
    layer = AmortizedPlanar(latent_dim=3, num_layers=2)
    layer.build((None, 5))
    rng = np.random.default_rng(6)
    for weight in layer.trainable_variables:
        weight.assign(rng.normal(0, 0.5, weight.shape).astype(np.float32))
    context = rng.normal(size=(4, 5)).astype(np.float32)
    chain = layer.bijector(context)
    z = rng.normal(size=(4, 3)).astype(np.float32)
    assert_bijector_correct(chain, z, 1, copies=lambda n: layer.bijector(np.tile(context, [n, 1])))
    # Example i's map depends on context i only.
    single = layer.bijector(context[1:2]).forward(z[1:2]).numpy()
    np.testing.assert_allclose(chain.forward(z).numpy()[1:2], single, rtol=1e-5, atol=1e-5)
    fresh = AmortizedPlanar(latent_dim=3, num_layers=2)
    fresh.build((None, 5))
    np.testing.assert_allclose(fresh.bijector(context).forward(z).numpy(), z, atol=1e-5)
    with pytest.raises(ValueError, match="expected a context"):
        layer.bijector(None)
