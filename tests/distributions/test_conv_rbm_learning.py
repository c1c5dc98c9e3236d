"""ConvRBM learning against enumeration: the probabilistic max-pooling block
distribution, the closed-form CD statistics against autodiff of the free
energy, the expected CD-1 gradient of a tiny model (weights, biases, sparsity
term, weight decay) against its exact value summed over every state, and the
sparsity step against the regularizer's gradient."""

import itertools

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from tests.helpers import binary_states
from tfdgm.distributions.conv_rbm import ConvRBMDistribution
from tfdgm.distributions.max_pooling import (
    prob_max_pool_probs,
    sample_prob_max_pool,
    sample_prob_max_pool_with_probs,
)
from tfdgm.models.energy import ConvRBM
from tfdgm.models.energy.conv_rbm import sparsity_gradient


def _block_distribution_by_enumeration(inputs):
    """P(state) of one 2x2 block with inputs I [4]: over the 16 binary states of its
    units, weight exp(sum_i h_i I_i) if at most one unit is on, 0 otherwise (eq. 5).
    -> [5]: unit 0..3 on, then all off."""
    weights = np.zeros(5)
    for h in itertools.product([0, 1], repeat=4):
        if sum(h) > 1:
            continue
        weight = np.exp(np.dot(h, inputs))
        weights[h.index(1) if sum(h) else 4] += weight
    return weights / weights.sum()


@pytest.mark.parametrize("sampler", ["gumbel", "inverse_cdf"])
def test_pooling_block_distribution_matches_enumeration_of_the_2x2_block(sampler):
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(1, 2, 2, 3)).astype(np.float32) * 2.0  # one block in each of 3 groups
    inputs[0, 0, 0, 2] = 4.0  # one group with a dominant unit
    exact = np.stack([_block_distribution_by_enumeration(inputs[0, :, :, k].reshape(4)) for k in range(3)])
    hidden_probs, pooling_probs = prob_max_pool_probs(inputs, 2)
    np.testing.assert_allclose(hidden_probs.numpy()[0].reshape(4, 3).T, exact[:, :4], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(pooling_probs.numpy().reshape(3), 1.0 - exact[:, 4], rtol=1e-5, atol=1e-7)
    num = 40000
    batch = tf.repeat(tf.constant(inputs), num, 0)
    if sampler == "gumbel":
        hidden = sample_prob_max_pool(batch, 2, seed=[7, 8])[0].numpy()
    else:
        probs, hidden = sample_prob_max_pool_with_probs(batch, 2, seed=[7, 8])
        np.testing.assert_allclose(probs.numpy()[0], hidden_probs.numpy()[0], rtol=1e-6)
        hidden = hidden.numpy()
    units = hidden.reshape(num, 4, 3)  # [n, unit (row-major), group]
    assert units.sum(1).max() <= 1.0
    states = np.where(units.sum(1) > 0, units.argmax(1), 4)  # [n, group]
    for group in range(3):
        counts = np.bincount(states[:, group], minlength=5)
        expected = num * exact[group]
        keep = expected > 5
        chi2 = np.sum((counts[keep] - expected[keep]) ** 2 / expected[keep])
        # a correct sampler exceeds the 1e-4 quantile once in 10,000 groups; a
        # probability off by 0.01 adds ~40 to chi2 here.
        assert chi2 < stats.chi2.ppf(1 - 1e-4, keep.sum() - 1), (group, counts, expected)


def _tiny(visible="binary", seed=0, groups=2):
    """A 3x3 image, 2x2 filters, 2x2 hidden maps: one pooling block per group."""
    rng = np.random.default_rng(seed)
    filters = rng.normal(size=(2, 2, 1, groups)).astype(np.float32)
    hidden_bias = (rng.normal(size=groups) - 0.5).astype(np.float32)
    visible_bias = np.array([0.3], np.float32)
    return filters, hidden_bias, visible_bias


def _free_energy_by_enumeration(filters, hidden_bias, visible_bias, images, visible="binary"):
    """F(v) = -log sum_h exp(-E(v, h)) over every allowed h of the tiny model, E of
    eqs. 1-2 written with image patches (not with tf.nn.conv2d). -> [n]."""
    fh, fw, _, groups = filters.shape
    height, width = images.shape[1] - fh + 1, images.shape[2] - fw + 1
    patches = tf.stack([tf.reshape(images[:, i:i + fh, j:j + fw, :], [-1, fh * fw])
                        for i in range(height) for j in range(width)], 1)  # [n, positions, fh*fw]
    inputs = tf.einsum("npf,fk->npk", patches, tf.reshape(filters, [fh * fw, groups])) + hidden_bias
    # one block per group: each group's 4 units are all its positions; h: none on or one on
    per_group = tf.reduce_logsumexp(tf.concat([tf.zeros_like(inputs[:, :1]), inputs], 1), 1)  # [n, K]
    if visible == "binary":
        own = -tf.reduce_sum(images * visible_bias, [1, 2, 3])
    else:
        own = 0.5 * tf.reduce_sum(tf.square(images - visible_bias), [1, 2, 3])
    return own - tf.reduce_sum(per_group, -1)


def _free_energy_gradients(parameters, images, visible="binary"):
    """d/dtheta of sum_n F(v_n) by autodiff of the enumerated free energy. -> [dW, db, da]."""
    variables = [tf.Variable(p) for p in parameters]
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(_free_energy_by_enumeration(*variables, tf.constant(images), visible))
    return [g.numpy() for g in tape.gradient(total, variables)]


@pytest.mark.parametrize("visible", ["binary", "gaussian"])
def test_cd_statistics_are_minus_the_free_energy_gradient_at_data_and_negatives(visible):
    parameters = _tiny(visible, seed=1)
    images = binary_states(9)[::37].reshape(-1, 3, 3, 1)
    if visible == "gaussian":
        images = images + np.random.default_rng(0).normal(size=images.shape).astype(np.float32)
    distribution = ConvRBMDistribution(*parameters, image_shape=(3, 3, 1), pool_size=2, visible=visible)
    result = distribution.contrastive_divergence(images, seed=[3, 4], cd_steps=2)
    positive = _free_energy_gradients(parameters, images, visible)
    negative = _free_energy_gradients(parameters, result.negative.numpy(), visible)
    for got, pos, neg in zip(result[:3], positive, negative):
        np.testing.assert_allclose(got.numpy(), -pos + neg, rtol=1e-4, atol=1e-4)


def _exact_expected_cd1_gradient(parameters, images, weight_decay, target, cost, positions):
    """The expected CD-1 loss gradient of `ConvRBM` by enumeration: the chain
    v -> h ~ p(h|v) -> v~ ~ p(v~|h) summed over the 5^K hidden and 2^9 visible states,
    divided by the batch and the positions, plus weight decay and the sparsity step."""
    filters, hidden_bias, visible_bias = parameters
    groups = filters.shape[-1]
    states = binary_states(9).reshape(-1, 3, 3, 1)
    # hidden configurations: per group, unit 0..3 on (row-major over the 2x2 map) or none
    codes = list(itertools.product(range(5), repeat=groups))
    hidden = np.zeros((len(codes), 2, 2, groups), np.float32)
    for s, code in enumerate(codes):
        for k, c in enumerate(code):
            if c < 4:
                hidden[s, c // 2, c % 2, k] = 1.0
    patches = np.stack([states[:, i:i + 2, j:j + 2, 0].reshape(-1, 4) for i in range(2) for j in range(2)], 1)
    inputs = np.einsum("npf,fk->npk", patches, filters.reshape(4, groups)) + hidden_bias  # [V, 4, K]
    log_joint_h = np.einsum("npk,spk->ns", inputs, hidden.reshape(len(codes), 4, groups))  # + const in v
    # p(v~ | h): independent Bernoulli pixels with logits a + sum_k W^k * h^k
    top_down = np.zeros((len(codes), 3, 3))
    for s in range(len(codes)):
        for i, j, k in itertools.product(range(2), range(2), range(groups)):
            top_down[s, i:i + 2, j:j + 2] += hidden[s, i, j, k] * filters[:, :, 0, k]
    logits = (visible_bias[0] + top_down).reshape(len(codes), 9)
    flat_states = states.reshape(-1, 9)
    log_p_v_given_h = flat_states @ logits.T - np.logaddexp(0, logits).sum(1)  # [V, S]
    per_state = [  # dF/dtheta at each of the 512 states
        _free_energy_gradients(parameters, states[i:i + 1]) for i in range(len(states))]
    expected = [np.zeros_like(p) for p in parameters]
    for image in images:
        index = int(image.reshape(9) @ (2 ** np.arange(8, -1, -1)))
        log_h = log_joint_h[index] - np.logaddexp.reduce(log_joint_h[index])
        transition = np.exp(np.logaddexp.reduce(log_h[None, :] + log_p_v_given_h, axis=1))  # [V]
        for p, g in enumerate(expected):
            g += per_state[index][p] - np.tensordot(transition, np.stack([s[p] for s in per_state]), 1)
    scale = 1.0 / (len(images) * positions)
    gradients = [scale * g for g in expected]
    gradients[0] = gradients[0] + weight_decay * filters
    q = np.zeros(groups)
    for image in images:
        index = int(image.reshape(9) @ (2 ** np.arange(8, -1, -1)))
        block = np.concatenate([np.zeros((1, groups)), inputs[index]], 0)  # [5, K]: off, then the units
        probs = np.exp(block - np.logaddexp.reduce(block, 0))
        q += probs[1:].mean(0) / len(images)
    gradients[1] = gradients[1] + cost * (q - target)
    return gradients


def test_expected_cd1_gradient_of_weights_biases_and_sparsity_matches_enumeration():
    parameters = _tiny(seed=2)
    model = ConvRBM(image_shape=(3, 3, 1), num_filters=2, filter_size=2, sparsity_target=0.1, sparsity_cost=2.0,
                    weight_decay=0.01)
    model.build()
    for variable, value in zip([model.conv_filters, model.hidden_bias, model.visible_bias], parameters):
        variable.assign(value)
    images = binary_states(9)[[5, 200, 333, 480]].reshape(-1, 3, 3, 1)
    exact = _exact_expected_cd1_gradient(parameters, images, 0.01, 0.1, 2.0, positions=4)
    copies, rounds = 2500, 16
    flat = tf.constant(np.repeat(images.reshape(-1, 9), copies, 0))
    order = [id(model.conv_filters), id(model.hidden_bias), id(model.visible_bias)]
    step = tf.function(lambda seed: model.contrastive_gradients(flat, seed)[0])
    draws = []
    for r in range(rounds):
        gradients = dict(zip([id(v) for v in model.trainable_variables], step(tf.constant([r, 11]))))
        draws.append([gradients[i].numpy() for i in order])
    for p, name in enumerate(["filters", "hidden_bias", "visible_bias"]):
        values = np.stack([d[p] for d in draws])
        mean, stderr = values.mean(0), values.std(0, ddof=1) / np.sqrt(rounds)
        # 5 standard errors of the mean of 16 rounds of 10,000 chains each
        assert np.all(np.abs(mean - exact[p]) < 5 * stderr + 1e-5), (name, mean, exact[p], stderr)
    # the estimate is not trivially close: the gradient is far from 0 relative to its error
    assert np.abs(exact[0]).max() > 20 * np.stack([d[0] for d in draws]).std(0).max() / np.sqrt(rounds)


def test_sparsity_step_is_the_regularizer_gradient_divided_by_dq_db():
    rng = np.random.default_rng(3)
    images = tf.constant((rng.uniform(size=(6, 6, 6, 1)) < 0.4).astype(np.float32))
    filters = tf.constant(rng.normal(size=(3, 3, 1, 3)).astype(np.float32))
    bias = tf.Variable([-1.0, 0.5, -3.0])
    target, cost = 0.05, 3.0
    with tf.GradientTape(persistent=True) as tape:
        distribution = ConvRBMDistribution(filters, bias, [0.0], image_shape=(6, 6, 1), pool_size=2)
        probs = distribution.hidden_probs(images)
        q = tf.reduce_mean(probs, [0, 1, 2])
        regularizer = 0.5 * cost * tf.reduce_sum(tf.square(q - target))
        q_parts = tf.unstack(q)
    gradient = tape.gradient(regularizer, bias).numpy()
    dq_db = np.array([tape.gradient(q_parts[k], bias).numpy()[k] for k in range(3)])
    step, q_step = sparsity_gradient(probs, target, cost)
    np.testing.assert_allclose(q_step.numpy(), q.numpy(), rtol=1e-6)
    assert np.all(dq_db > 0)
    np.testing.assert_allclose(step.numpy(), gradient / dq_db, rtol=1e-4)
    assert np.all(np.sign(step.numpy()) == np.sign(q.numpy() - target))
