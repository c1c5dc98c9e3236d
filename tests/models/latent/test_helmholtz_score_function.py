"""NVIL and VIMCO on sigmoid belief nets small enough to enumerate: exact
log p(x), ELBO, E[L_k] and their gradients with respect to the recognition
weights, computed here from the raw weights (not through the model's code),
against the estimators' means and variances; the L_k ordering; fit, XLA,
CLI, export and the saved signal statistics."""

import itertools
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import binary_states, recording_xla_traces
from tfdgm import cli, export
from tfdgm.models import HelmholtzMachine

EVENT, LATENTS = 6, [3, 2]


def _log_bernoulli(y, logits):
    return tf.reduce_sum(y * logits - tf.nn.softplus(logits), -1)


def _sbn_terms(model, x, states):
    """Independent sigmoid-belief-net arithmetic on the model's weights.

    x: [B, D]; states: list of [S, d_l] (one joint latent state per row).
    Returns (log q(h | x), log p(x, h)), each [B, S].
    """
    kernel = lambda layer: layer.projection.kernel  # noqa: E731
    bias = lambda layer: layer.projection.bias  # noqa: E731
    below = tf.broadcast_to(x[:, None, :], [x.shape[0], states[0].shape[0], x.shape[1]])
    log_q = 0.0
    for level, h in enumerate(states):
        layer = model.posterior_layers[level]
        log_q += _log_bernoulli(h[None], tf.matmul(below, kernel(layer)) + bias(layer))
        below = tf.broadcast_to(h[None], [x.shape[0], *h.shape])
    log_p = _log_bernoulli(states[-1], model.prior_logits)[None]
    targets = [x[:, None, :]] + [h[None] for h in states[:-1]]
    for level, h in enumerate(states):
        layer = model.generative_layers[level]
        log_p += _log_bernoulli(targets[level], tf.matmul(h, kernel(layer)) + bias(layer))
    return log_q, log_p


def _joint_states(dims):
    rows = list(itertools.product(*[binary_states(d) for d in dims]))
    return [tf.constant(np.stack([row[level] for row in rows])) for level in range(len(dims))]


def exact_log_px(model, x):
    log_q, log_p = _sbn_terms(model, x, _joint_states(model.latent_dims))
    return tf.reduce_logsumexp(log_p, 1)


def exact_elbo_and_gradient(model, x):
    """ELBO = sum_h q(h|x) (log p(x,h) - log q(h|x)), batch mean, and its gradient."""
    with tf.GradientTape() as tape:
        log_q, log_p = _sbn_terms(model, x, _joint_states(model.latent_dims))
        elbo = tf.reduce_mean(tf.reduce_sum(tf.exp(log_q) * (log_p - log_q), 1))
    return elbo, tape.gradient(elbo, model.recognition_variables)


def exact_lk_and_gradient(model, x, k):
    """E[L_k] = sum over all k-tuples of joint states of prod_i q(h_i|x) L_k(h_1..h_k), batch mean."""
    with tf.GradientTape() as tape:
        log_q, log_p = _sbn_terms(model, x, _joint_states(model.latent_dims))
        num_states = int(log_q.shape[1])
        tuples = np.array(list(itertools.product(range(num_states), repeat=k)))  # [S^k, k]
        log_q_tuples = tf.gather(log_q, tuples, axis=1)  # [B, S^k, k]
        log_w_tuples = tf.gather(log_p - log_q, tuples, axis=1)
        bound = tf.reduce_logsumexp(log_w_tuples, -1) - np.log(k)
        expected = tf.reduce_mean(tf.reduce_sum(tf.exp(tf.reduce_sum(log_q_tuples, -1)) * bound, 1))
    return expected, tape.gradient(expected, model.recognition_variables)


def _random_model(algorithm, seed=3, scale=1.0, **kwargs):
    model = HelmholtzMachine(event_shape=(EVENT,), latent_dim=LATENTS, algorithm=algorithm, **kwargs)
    model.build()
    rng = np.random.default_rng(seed)
    for weight in model.generative_variables + model.recognition_variables:
        weight.assign(rng.normal(0.0, scale, weight.shape).astype(np.float32))
    return model


def _batch():
    rng = np.random.default_rng(0)
    return tf.constant((rng.uniform(size=(4, EVENT)) < 0.5).astype(np.float32))


def _draws(model, x, control_variates, calls, repeats):
    """`calls` independent estimates, each the mean of `repeats` draws per example. -> [calls, P]."""
    tiled = tf.tile(x, [repeats, 1])
    estimate = tf.function(lambda seed: model.recognition_gradient_estimate(tiled, seed, control_variates))
    flat = [tf.concat([tf.reshape(g, [-1]) for g in estimate(tf.constant([7, i]))], 0) for i in range(calls)]
    return tf.stack(flat).numpy().astype(np.float64)


def _flat(gradients):
    return np.concatenate([np.reshape(g, [-1]) for g in gradients]).astype(np.float64)


def _check_unbiased(draws, exact):
    standard_error = draws.std(0, ddof=1) / np.sqrt(len(draws))
    constant = standard_error == 0  # weights from inputs that are 0 in every example
    np.testing.assert_allclose(draws.mean(0)[constant], exact[constant], atol=1e-6)
    z = (draws.mean(0) - exact)[~constant] / standard_error[~constant]
    # 29 parameters: max |z| of 29 standard normals exceeds 4.5 with probability ~2e-4.
    assert np.max(np.abs(z)) < 4.5, (np.round(z, 2), exact)
    print(f"max |z| {np.max(np.abs(z)):.2f} over {z.size} weights")


def _fit_baselines(model, x, steps=300):
    """Trains the model (and so NVIL's baselines and signal moments) on the batch."""
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01))
    batches = tf.data.Dataset.from_tensors(tf.tile(x, [16, 1])).repeat()
    model.fit(batches, epochs=1, steps_per_epoch=steps, verbose=0)


def test_nvil_estimate_is_unbiased_for_the_exact_elbo_gradient_with_5x_less_variance_than_reinforce():
    x = _batch()
    model = _random_model("nvil")
    _fit_baselines(model, x)
    _, exact = exact_elbo_and_gradient(model, x)
    exact = _flat(exact)
    nvil = _draws(model, x, True, calls=400, repeats=50)
    reinforce = _draws(model, x, False, calls=400, repeats=50)
    _check_unbiased(nvil, exact)
    _check_unbiased(reinforce, exact)
    ratio = reinforce.var(0).sum() / nvil.var(0).sum()
    print(f"variance ratio {ratio:.1f}")
    assert ratio >= 5.0, ratio


def test_vimco_estimate_is_unbiased_for_the_exact_lk_gradient_with_5x_less_variance_than_reinforce():
    x = _batch()
    model = _random_model("vimco", num_importance_samples=3)
    _, exact = exact_lk_and_gradient(model, x, 3)
    exact = _flat(exact)
    vimco = _draws(model, x, True, calls=400, repeats=50)
    reinforce = _draws(model, x, False, calls=400, repeats=50)
    _check_unbiased(vimco, exact)
    _check_unbiased(reinforce, exact)
    ratio = reinforce.var(0).sum() / vimco.var(0).sum()
    print(f"variance ratio {ratio:.1f}")
    assert ratio >= 5.0, ratio


@pytest.mark.parametrize("algorithm", ["nvil", "vimco"])
def test_trained_model_orders_l1_l5_l50_below_exact_log_px(algorithm):
    rng = np.random.default_rng(1)
    prototypes = (rng.uniform(size=(3, EVENT)) < 0.5).astype(np.float32)
    data = np.abs(prototypes[rng.integers(0, 3, 512)] - (rng.uniform(size=(512, EVENT)) < 0.1)).astype(np.float32)
    model = HelmholtzMachine(event_shape=(EVENT,), latent_dim=LATENTS, algorithm=algorithm)
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01))
    model.fit(data, batch_size=64, epochs=10, verbose=0)
    x = tf.constant(binary_states(EVENT)[::4])  # 16 of the 64 patterns
    exact = float(tf.reduce_mean(exact_log_px(model, x)))
    blocks = 400
    log_w = model.log_importance_weights(x, seed=5, num_samples=50 * blocks).numpy().astype(np.float64)
    log_w = log_w.reshape(blocks, 50, -1)  # [block, sample, example]

    def lk(k):  # per block: the mean over examples and over the block's 50/k groups of L_k
        groups = log_w.reshape(blocks, 50 // k, k, -1)
        top = groups.max(2, keepdims=True)
        bound = np.log(np.exp(groups - top).mean(2)) + top[:, :, 0]
        return bound.mean((1, 2))

    l1, l5, l50 = lk(1), lk(5), lk(50)
    bounds = (l1.mean(), l5.mean(), l50.mean(), exact)
    print("L_1, L_5, L_50, log p(x):", np.round(bounds, 4))
    # E[L_5] - E[L_1] and E[L_50] - E[L_5] are clearly positive (paired over
    # the same samples, block by block); E[L_50] is within a hundredth of a
    # nat of log p(x), so that gap is only required not to be negative.
    for low, high, margin in ((l1, l5, 3.0), (l5, l50, 3.0), (l50, np.full(blocks, exact), -3.0)):
        gap = high - low
        standard_error = gap.std(ddof=1) / np.sqrt(blocks)
        assert gap.mean() > margin * standard_error, (bounds, gap.mean(), standard_error)


@pytest.mark.xla
@pytest.mark.parametrize("algorithm", ["nvil", "vimco"])
def test_xla_fit_raises_the_bound_and_traces_inside_xla(algorithm):
    rng = np.random.default_rng(0)
    prototypes = (rng.uniform(size=(3, 8)) < 0.5).astype(np.float32)
    data = np.abs(prototypes[rng.integers(0, 3, 512)] - (rng.uniform(size=(512, 8)) < 0.05)).astype(np.float32)
    model = HelmholtzMachine(event_shape=(8,), latent_dim=[6, 4], algorithm=algorithm)
    before = float(tf.reduce_mean(model.log_prob(data, num_samples=100, seed=0)))
    model.compile(optimizer=tf.keras.optimizers.Adam(0.02))
    assert model.jit_compile is True
    with recording_xla_traces(model) as traced:
        model.fit(data, batch_size=64, epochs=25, verbose=0)
    after = float(tf.reduce_mean(model.log_prob(data, num_samples=100, seed=0)))
    assert after > before + 1.0, (before, after)
    assert traced and all(traced), traced


def test_nvil_signal_statistics_are_saved_and_restored(tmp_path):
    x = _batch()
    model = _random_model("nvil")
    _fit_baselines(model, x, steps=5)
    assert float(model.signal_count) == 5.0
    assert not model.signal_mean.trainable and all(v is not model.signal_mean for v in model.trainable_variables)
    path = str(tmp_path / "nvil.weights.h5")
    model.save_weights(path)
    fresh = HelmholtzMachine(event_shape=(EVENT,), latent_dim=LATENTS, algorithm="nvil")
    fresh.build()
    fresh.load_weights(path)
    for name in ("signal_mean", "signal_variance", "signal_count"):
        np.testing.assert_array_equal(getattr(fresh, name).numpy(), getattr(model, name).numpy())
    assert fresh.get_config()["algorithm"] == "nvil"


def test_cli_trains_nvil_and_evaluates_by_lk_and_the_export_keeps_its_signatures(tmp_path):
    run_dir = str(tmp_path / "nvil")
    assert cli.main([
        "train", "helmholtz", "--data", "digits", "--epochs", "1", "--num-examples", "128", "--batch-size", "64",
        "--out", run_dir, "--param", "algorithm=nvil", "--param", "latent_dim=[8, 4]", "--quiet",
    ]) == 0
    assert cli.main(["evaluate", run_dir, "--num-samples", "20"]) == 0
    metrics = json.loads(open(os.path.join(run_dir, "metrics.json")).read())
    assert metrics["num_samples"] == 20 and np.isfinite(metrics["nll_nats"])
    model = _random_model("vimco", num_importance_samples=4)
    path = export.save(model, str(tmp_path / "saved"))
    wake_sleep = HelmholtzMachine(event_shape=(EVENT,), latent_dim=LATENTS)
    assert export.signature_names(model) == export.signature_names(wake_sleep)
    assert "log_prob" in export.signature_names(model)
    loaded = tf.saved_model.load(path)
    x = _batch()
    served = loaded.signatures["log_prob"](x=x, num_samples=tf.constant(30), seed=tf.constant(4))["log_prob"]
    np.testing.assert_allclose(served, model.log_prob(x, num_samples=30, seed=4), rtol=1e-5, atol=1e-5)
