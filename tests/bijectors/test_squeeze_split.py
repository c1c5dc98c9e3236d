"""Squeeze (space-to-depth), factor-out and the learned split prior."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tests.checks.bijectors import assert_bijector_correct
from tfdgm.bijectors.actnorm import ActNormLayer
from tfdgm.bijectors.split import FactorOut, SplitPriorLayer
from tfdgm.bijectors.squeeze import Squeeze

tfd = tfp.distributions
tfb = tfp.bijectors


def test_squeeze_is_a_volume_preserving_bijection():
    x = np.random.default_rng(0).normal(size=(3, 4, 4, 2)).astype(np.float32)
    assert_bijector_correct(Squeeze(), x, 3)
    assert Squeeze().forward(x).shape == (3, 2, 2, 8)
    assert Squeeze().forward_event_shape([4, 6, 3]) == [2, 3, 12]
    assert Squeeze().inverse_event_shape([2, 3, 12]) == [4, 6, 3]


def test_squeeze_moves_each_2x2_block_into_one_pixel():
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    y = Squeeze().forward(x).numpy()
    np.testing.assert_array_equal(np.sort(y[0, 0, 0]), [0, 1, 4, 5])
    np.testing.assert_array_equal(np.sort(y[0, 1, 1]), [10, 11, 14, 15])
    # Extra batch dimensions are kept.
    many = np.random.default_rng(1).normal(size=(2, 3, 4, 4, 1)).astype(np.float32)
    np.testing.assert_allclose(Squeeze().forward(many).numpy()[1, 2], Squeeze().forward(many[1, 2:3]).numpy()[0])


def test_squeeze_needs_even_height_and_width():
    with pytest.raises(ValueError, match="needs H and W divisible by 2, got 7x7"):
        Squeeze().forward(np.zeros((1, 7, 7, 1), np.float32))


def test_factor_out_transforms_only_the_kept_channels():
    layer = ActNormLayer(2)
    layer.build()
    layer.loc.assign([1.0, -2.0])
    layer.log_scale.assign([0.5, 0.2])
    bijector = FactorOut(tfb.Chain([layer.bijector()]), num_kept=2)
    x = np.random.default_rng(2).normal(size=(3, 2, 2, 4)).astype(np.float32)
    assert_bijector_correct(bijector, x, 3)
    y = bijector.forward(x).numpy()
    np.testing.assert_array_equal(y[..., 2:], x[..., 2:])
    np.testing.assert_allclose(bijector.forward_log_det_jacobian(x, 3).numpy(), 4 * 0.7, rtol=1e-5)


def test_split_prior_is_the_learned_conditional_gaussian():
    """log N(eps; 0, I) + ildj == log N(z2; mu(z1), sigma(z1)) computed from the network."""
    layer = SplitPriorLayer((2, 2, 4))
    layer.build((None, 2, 2, 4))
    rng = np.random.default_rng(3)
    for weight in layer.trainable_variables:
        weight.assign(rng.normal(0.0, 0.3, weight.shape).astype(np.float32))
    x = rng.normal(size=(5, 2, 2, 4)).astype(np.float32)
    bijector = layer.bijector()
    assert_bijector_correct(bijector, x, 3)
    eps = bijector.inverse(x)
    np.testing.assert_array_equal(eps.numpy()[..., :2], x[..., :2])
    out = layer.network(x * layer.mask)
    shift, raw = tf.split(out, 2, axis=-1)
    log_sigma = 3.0 * tf.tanh(raw / 3.0)
    by_hand = tfd.Normal(shift[..., 2:], tf.exp(log_sigma[..., 2:])).log_prob(x[..., 2:])
    by_bijector = tfd.Normal(0.0, 1.0).log_prob(eps[..., 2:])
    np.testing.assert_allclose(
        tf.reduce_sum(by_bijector, [1, 2, 3]) + bijector.inverse_log_det_jacobian(x, 3),
        tf.reduce_sum(by_hand, [1, 2, 3]), rtol=1e-5, atol=1e-5)
