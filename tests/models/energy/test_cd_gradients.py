"""The CD gradient of the binary RBM: the closed-form statistics against autodiff,
and both training paths' CD-1 and PCD-1 gradients against the exact expectation by enumeration."""

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import binary_states
from tfdgm.models.energy import BernoulliRBM
from tfdgm.models.energy.base import EnergyModel
from tfdgm.models.energy.rbm import bernoulli_rbm_cd_gradients


def _model(num_visible=5, num_hidden=4, weight_decay=0.0, seed=0, persistent=False):
    rng = np.random.default_rng(seed)
    model = BernoulliRBM(event_shape=(num_visible,), num_hidden=num_hidden, weight_decay=weight_decay,
                         persistent=persistent, num_chains=4)
    model.build()
    for variable in model.trainable_variables:
        variable.assign(rng.normal(scale=0.8, size=variable.shape).astype(np.float32))
    return model


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_closed_form_statistics_equal_the_autodiff_of_the_free_energy_difference():
    model = _model(7, 5)
    rng = np.random.default_rng(1)
    data = tf.constant((rng.uniform(size=(9, 7)) < 0.4).astype(np.float32))
    negative = tf.constant((rng.uniform(size=(4, 7)) < 0.6).astype(np.float32))  # PCD: other count
    with tf.GradientTape() as tape:
        distribution = model.distribution()
        loss = tf.reduce_mean(distribution.flat_free_energy(data)) - tf.reduce_mean(
            distribution.flat_free_energy(negative))
    autodiff = tape.gradient(loss, [model.weights_vh, model.visible_bias, model.hidden_bias])
    closed = bernoulli_rbm_cd_gradients(data, distribution.hidden_probs(data), negative,
                                        distribution.hidden_probs(negative))
    for expected, got in zip(autodiff, closed):
        np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-6)


def _exact_expected_cd1_gradient(model, data, starts):
    """E over one Gibbs sweep v -> h -> v' from each of `starts` (the data for CD-1,
    the chains for PCD-1) of the CD gradient, by enumerating h and v'."""
    w, b, c = (v.numpy().astype(np.float64) for v in (model.weights_vh, model.visible_bias, model.hidden_bias))
    hiddens = binary_states(w.shape[1]).astype(np.float64)
    visibles = binary_states(w.shape[0]).astype(np.float64)
    p_h = _sigmoid(c + data @ w)  # [n, H]
    p_start = _sigmoid(c + starts @ w)
    h_given_v = np.prod(np.where(hiddens[None], p_start[:, None], 1 - p_start[:, None]), -1)  # [m, 2^H]
    p_v = _sigmoid(b + hiddens @ w.T)  # [2^H, V]
    v_given_h = np.prod(np.where(visibles[None], p_v[:, None], 1 - p_v[:, None]), -1)  # [2^H, 2^V]
    transition = h_given_v @ v_given_h  # [m, 2^V]: P(v' | start_i)
    negative_weight = transition.mean(0)  # mixture over the starts
    negative_hidden = _sigmoid(c + visibles @ w)
    grad_w = -(data.T @ p_h / len(data) - visibles.T @ (negative_weight[:, None] * negative_hidden))
    grad_b = -(data.mean(0) - negative_weight @ visibles)
    grad_c = -(p_h.mean(0) - negative_weight @ negative_hidden)
    return grad_w + model.weight_decay * w, grad_b, grad_c


@pytest.mark.parametrize("persistent", [False, True], ids=["cd1", "pcd1"])
@pytest.mark.parametrize("path", ["closed_form", "autodiff"])
def test_cd1_gradient_is_unbiased_for_the_exact_one_sweep_expectation(path, persistent):
    # Both training paths: BernoulliRBM's closed-form statistics and the family's autodiff of the
    # surrogate loss (what the Gaussian RBM and the convolutional RBM train with). PCD's 4 chains
    # restart from the same states at every draw, and are fewer than the 6 data vectors.
    model = _model(weight_decay=0.01, persistent=persistent)
    data = (np.random.default_rng(2).uniform(size=(6, 5)) < 0.5).astype(np.float32)
    chains = model.chains.numpy() if persistent else None
    method = model.contrastive_gradients if path == "closed_form" else (
        lambda flat, seed: EnergyModel.contrastive_gradients(model, flat, seed))

    @tf.function
    def step(seed):
        if persistent:
            model.chains.assign(chains)
        return method(tf.constant(data), seed)[0]

    draws = [[g.numpy() for g in step(tf.constant([7, s]))] for s in range(3000)]
    exact = _exact_expected_cd1_gradient(model, data.astype(np.float64),
                                         (chains if persistent else data).astype(np.float64))
    for index, expected in enumerate(exact):
        samples = np.stack([d[index] for d in draws])
        stderr = samples.std(0) / np.sqrt(len(samples))
        # 5 standard errors per entry: a false alarm among the 29 entries has probability ~2e-5.
        assert np.all(np.abs(samples.mean(0) - expected) < 5 * stderr + 1e-5), (
            index, samples.mean(0) - expected, stderr)
