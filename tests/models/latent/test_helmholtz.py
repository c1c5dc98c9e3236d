"""Helmholtz machine: wake-sleep and reweighted wake-sleep raise the L_k
estimate on a fixed toy dataset; XLA train steps; bad arguments."""

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import binary_states, recording_xla_traces
from tfdgm.models import HelmholtzMachine


def _toy_binary(n=512, dims=8, seed=0):
    rng = np.random.default_rng(seed)
    prototypes = (rng.uniform(size=(3, dims)) < 0.5).astype(np.float32)
    x = prototypes[rng.integers(0, 3, n)]
    return np.abs(x - (rng.uniform(size=x.shape) < 0.05)).astype(np.float32)


@pytest.mark.xla
@pytest.mark.parametrize("algorithm", ["wake_sleep", "reweighted_wake_sleep"])
def test_training_increases_the_lk_estimate(algorithm):
    x = _toy_binary()
    model = HelmholtzMachine(event_shape=(8,), latent_dim=[6], algorithm=algorithm)
    before = float(tf.reduce_mean(model.log_prob(x, num_samples=100, seed=0)))
    model.compile(optimizer=tf.keras.optimizers.Adam(0.02))
    assert model.jit_compile is True
    with recording_xla_traces(model) as traced:
        model.fit(x, batch_size=64, epochs=25, verbose=0)
    after = float(tf.reduce_mean(model.log_prob(x, num_samples=100, seed=0)))
    # Initial model: ~8 log 2 = 5.5 nats; the data: ~log 3 + 8 H(0.05) = 2.7 nats.
    assert after > before + 1.0, (before, after)
    assert traced and all(traced), traced  # fit traced its train step inside XLA


def test_exact_likelihood_by_enumeration_bounds_the_estimates():
    """With 3 binary latents log p(x) = log sum_h p(x, h) is exact; L_k is below
    it in expectation and within its delta-method error for k = 2000."""
    model = HelmholtzMachine(event_shape=(4,), latent_dim=[3])
    model.build()
    rng = np.random.default_rng(1)
    for weight in model.trainable_variables:
        weight.assign(rng.normal(0.0, 1.0, weight.shape).astype(np.float32))
    x = binary_states(4)
    latents = binary_states(3)
    log_px_given_h = model.decoder_distribution(latents).log_prob(x[:, None, :])  # [16, 8]
    exact = tf.reduce_logsumexp(log_px_given_h + model.prior().log_prob(latents), axis=1).numpy()
    np.testing.assert_allclose(np.exp(exact).sum(), 1.0, rtol=1e-5)  # p(x) sums to 1 over all x
    estimate = model.log_prob(x, num_samples=2000, seed=2).numpy()
    elbo = model.elbo(x, num_samples=500, seed=2).numpy()
    assert np.all(elbo < exact + 1e-3)
    # Per example: bias ~ v/(2k), sd ~ sqrt(v/k), v = Var[w]/E[w]^2 measured on the weights.
    log_weights = model.log_importance_weights(x, seed=2, num_samples=2000).numpy().astype(np.float64)
    weights = np.exp(log_weights - log_weights.max(0))
    relative_variance = weights.var(0) / weights.mean(0) ** 2
    tolerance = relative_variance / 4000 + 4 * np.sqrt(relative_variance / 2000)
    assert np.all(np.abs(estimate - exact) < tolerance), (estimate - exact, tolerance)
    assert np.abs(estimate - exact).mean() < np.abs(elbo - exact).mean() / 5


def test_bad_arguments_raise_value_errors():
    expected = "expected algorithm one of 'wake_sleep', 'reweighted_wake_sleep', 'nvil', 'vimco', got 'backprop'"
    with pytest.raises(ValueError, match=expected):
        HelmholtzMachine(event_shape=(4,), algorithm="backprop")
    with pytest.raises(ValueError, match="VIMCO's leave-one-out signals need num_importance_samples >= 2, got 1"):
        HelmholtzMachine(event_shape=(4,), algorithm="vimco", num_importance_samples=1)
    with pytest.raises(ValueError, match='expected algorithm "nvil" or "vimco" for a score-function estimate'):
        HelmholtzMachine(event_shape=(4,)).recognition_gradient_estimate(np.zeros((2, 4), np.float32), seed=0)
    model = HelmholtzMachine(event_shape=(4,))
    with pytest.raises(ValueError, match=r"expected x of shape \[batch, 4\], got shape \[3\]"):
        model.log_prob(np.zeros(3, np.float32))
