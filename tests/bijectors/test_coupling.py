"""Coupling bijectors: log-det vs autodiff, masks, identity start, bounded log-scale."""

import numpy as np
import pytest
import tensorflow as tf

from tests.checks.bijectors import assert_bijector_correct
from tfdgm.bijectors.coupling import (AffineCoupling, CouplingLayer, channel_mask, checkerboard_mask,
                                      vector_mask)
from tfdgm.nn.coupling_nets import GlowCouplingNet, MLPCouplingNet, ResNetCouplingNet


def _randomize(layer, scale=0.3, seed=0):
    rng = np.random.default_rng(seed)
    for weight in layer.trainable_variables:
        weight.assign(rng.normal(0.0, scale, weight.shape).astype(np.float32))


@pytest.mark.parametrize("additive", [True, False])
@pytest.mark.parametrize("dims,kind", [(2, "half"), (5, "alternate"), (16, "half")])
def test_vector_coupling_log_det_matches_autodiff_jacobian(additive, dims, kind):
    layer = CouplingLayer(vector_mask(dims, 1, kind), MLPCouplingNet(dims if additive else 2 * dims, [16]),
                          additive=additive)
    layer.build((None, dims))
    _randomize(layer, seed=dims)
    x = np.random.default_rng(dims).normal(size=(4, dims)).astype(np.float32)
    assert_bijector_correct(layer.bijector(), x, 1)
    if additive:  # volume preserving
        np.testing.assert_allclose(layer.bijector().forward_log_det_jacobian(x, 1).numpy(), 0.0)


@pytest.mark.parametrize("mask_fn", [checkerboard_mask, channel_mask])
@pytest.mark.parametrize("net, scale", [("resnet", "tanh"), ("glow", "tanh"), ("glow", "sigmoid")])
def test_image_coupling_log_det_matches_autodiff_jacobian(mask_fn, net, scale):
    mask = mask_fn(4, 4, 2, 1)
    network = ResNetCouplingNet(4, 8, 1) if net == "resnet" else GlowCouplingNet(4, 8)
    layer = CouplingLayer(mask, network, scale=scale)
    layer.build((None, 4, 4, 2))
    _randomize(layer, seed=1)
    x = np.random.default_rng(2).normal(size=(3, 4, 4, 2)).astype(np.float32)
    assert_bijector_correct(layer.bijector(), x, 3)
    # The conditioning half is copied unchanged.
    y = layer.bijector().forward(x).numpy()
    copied = np.broadcast_to(mask, x.shape) == 1.0
    np.testing.assert_array_equal(y[copied], x[copied])
    assert np.all(y[~copied] != x[~copied])


def test_masks_partition_the_event():
    pairs = [
        (vector_mask(7, 0, "half"), vector_mask(7, 1, "half")),
        (vector_mask(7, 0, "alternate"), vector_mask(7, 1, "alternate")),
        (checkerboard_mask(4, 6, 3, 0), checkerboard_mask(4, 6, 3, 1)),
        (channel_mask(2, 2, 6, 0), channel_mask(2, 2, 6, 1)),
    ]
    for even, odd in pairs:
        np.testing.assert_array_equal(even + odd, np.ones_like(even))
    np.testing.assert_array_equal(vector_mask(5, 0, "half"), [1, 1, 0, 0, 0])
    np.testing.assert_array_equal(vector_mask(5, 0, "alternate"), [1, 0, 1, 0, 1])
    np.testing.assert_array_equal(checkerboard_mask(2, 2, 1, 0)[..., 0], [[1, 0], [0, 1]])
    np.testing.assert_array_equal(channel_mask(1, 1, 4, 0)[0, 0], [1, 1, 0, 0])
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        vector_mask(1)
    with pytest.raises(ValueError, match="at least 2 channels, got 1"):
        channel_mask(4, 4, 1)


def test_zero_initialized_network_makes_the_identity():
    layer = CouplingLayer(checkerboard_mask(4, 4, 2), ResNetCouplingNet(4, 8, 1))
    layer.build((None, 4, 4, 2))
    x = np.random.default_rng(3).normal(size=(2, 4, 4, 2)).astype(np.float32)
    np.testing.assert_allclose(layer.bijector().forward(x).numpy(), x)
    np.testing.assert_allclose(layer.bijector().forward_log_det_jacobian(x, 3).numpy(), 0.0)


def test_log_scale_is_bounded_even_for_huge_network_outputs():
    mask = vector_mask(4, 0)
    bijector = AffineCoupling(mask, lambda x: (0.0 * x, 1e4 * tf.ones_like(x)), log_scale_bound=2.0)
    x = np.ones((1, 4), np.float32)
    ldj = float(bijector.forward_log_det_jacobian(x, 1)[0])
    assert 0.0 < ldj <= 2.0 * 2 + 1e-5  # two transformed dims, |s| <= 2
    assert np.all(np.isfinite(bijector.forward(x).numpy()))


def test_glow_scale_is_sigmoid_of_raw_plus_2_in_the_data_to_latent_direction():
    """Glow's coupling (the authors' code): z2 = (x2 - t) * sigmoid(raw + 2), a
    factor in (0, 1) however large the network's output."""
    mask = vector_mask(4, 0)
    raw = np.array([[-30.0, 0.0, 3.0, 40.0]], np.float32)
    shift = np.array([[0.0, 0.0, 0.5, -1.0]], np.float32)
    bijector = AffineCoupling(mask, lambda x: (shift + 0.0 * x, raw + 0.0 * x), scale="sigmoid")
    x = np.array([[1.0, 2.0, 3.0, 4.0]], np.float32)
    factor = 1.0 / (1.0 + np.exp(-(raw + 2.0)))
    expected = np.where(mask == 1.0, x, (x - shift) * factor)
    np.testing.assert_allclose(bijector.inverse(x).numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(bijector.inverse_log_det_jacobian(x, 1).numpy(),
                               np.sum(np.log(factor) * (1.0 - mask)), rtol=1e-5)
    with pytest.raises(ValueError, match="expected scale in"):
        AffineCoupling(mask, lambda x: (x, x), scale="exp")


def test_network_runs_once_per_log_prob_direction():
    calls = []

    def shift_and_log_scale(x):
        calls.append(1)
        return 0.1 * x, 0.2 * x

    bijector = AffineCoupling(vector_mask(4), shift_and_log_scale)
    y = tf.constant(np.random.default_rng(4).normal(size=(3, 4)).astype(np.float32))
    bijector.inverse(y)
    bijector.inverse_log_det_jacobian(y, 1)
    assert len(calls) == 1
