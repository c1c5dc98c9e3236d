"""ActNorm: log-det, data-dependent init (zero mean, unit variance), once only, under XLA."""

import numpy as np
import pytest
import tensorflow as tf

from tests.checks.bijectors import assert_bijector_correct
from tfdgm.bijectors.actnorm import ActNormLayer


def _layer(channels, seed=0):
    layer = ActNormLayer(channels)
    layer.build()
    rng = np.random.default_rng(seed)
    for weight in layer.trainable_variables:
        weight.assign(rng.normal(0.0, 0.5, weight.shape).astype(np.float32))
    return layer


@pytest.mark.parametrize("shape", [(5,), (4, 4, 2), (2, 3, 3)])
def test_log_det_matches_autodiff_jacobian(shape):
    layer = _layer(shape[-1], seed=len(shape))
    x = np.random.default_rng(1).normal(size=(3, *shape)).astype(np.float32)
    assert_bijector_correct(layer.bijector(), x, len(shape))


def test_data_init_gives_zero_mean_unit_variance_per_channel_on_the_init_batch():
    rng = np.random.default_rng(2)
    x = (rng.normal(size=(64, 4, 4, 3)) * [0.1, 2.0, 5.0] + [3.0, -1.0, 0.0]).astype(np.float32)
    layer = ActNormLayer(3)
    layer.build()
    out = layer.initialize(x).numpy()
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=(0, 1, 2)), 1.0, atol=1e-3)
    assert float(layer.initialized.numpy()) == 1.0
    np.testing.assert_allclose(layer.bijector().inverse(x).numpy(), out, atol=1e-6)
    # Later calls do not re-initialize.
    loc = layer.loc.numpy().copy()
    layer.initialize(x + 10.0)
    np.testing.assert_array_equal(layer.loc.numpy(), loc)
    # The flag is a (non-trainable) weight: it is saved with the weights.
    assert layer.initialized in layer.non_trainable_weights


def test_data_init_runs_once_inside_an_xla_function():
    layer = ActNormLayer(2)
    layer.build()
    step = tf.function(lambda x: layer.initialize(x), jit_compile=True)
    first = np.random.default_rng(3).normal(2.0, 3.0, size=(32, 2)).astype(np.float32)
    out = step(tf.constant(first)).numpy()
    np.testing.assert_allclose(out.mean(0), 0.0, atol=1e-4)
    loc = layer.loc.numpy().copy()
    step(tf.constant(first * 5.0))
    np.testing.assert_array_equal(layer.loc.numpy(), loc)


def test_wrong_channel_count_is_a_clear_error():
    layer = ActNormLayer(3)
    layer.build()
    with pytest.raises(ValueError, match=r"expected inputs with 3 channels, got shape \[2, 4\]"):
        layer.initialize(np.zeros((2, 4), np.float32))
