"""The bound helpers: L_k from log weights, exact chunked log-sum-exp, chunk-free
per-sample noise, normalized weights, the KL warm-up schedule."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tfdgm.inference import bounds


def test_iwae_bound_is_log_mean_of_weights_and_elbo_is_mean_log():
    log_weights = np.log(np.array([[1.0, 4.0], [3.0, 4.0]], np.float64)).astype(np.float32)
    np.testing.assert_allclose(bounds.iwae_bound(log_weights), np.log([2.0, 4.0]), rtol=1e-6)
    np.testing.assert_allclose(bounds.elbo(log_weights), [0.5 * math.log(3.0), math.log(4.0)], rtol=1e-6)
    # Jensen: L_1 (mean of logs) <= L_k (log of mean).
    assert np.all(bounds.elbo(log_weights).numpy() <= bounds.iwae_bound(log_weights).numpy() + 1e-7)


def _fixed_log_weights(num_samples, batch=4, seed=0):
    rng = np.random.default_rng(seed)
    return tf.constant(rng.normal(-300.0, 20.0, size=(num_samples, batch)).astype(np.float32))


def test_chunked_bound_equals_unchunked_in_eager_and_graph_mode():
    k = 103
    table = tf.concat([_fixed_log_weights(k), tf.zeros([50, 4])], 0)  # padding past k must be ignored
    expected = bounds.iwae_bound(table[:k]).numpy()
    for chunk_size in (1, 10, 50, 103):
        fn = lambda start, c=chunk_size: table[start : start + c]  # noqa: E731
        np.testing.assert_allclose(bounds.chunked_iwae_bound(fn, k, chunk_size), expected, rtol=1e-6)
        graph = tf.function(lambda n, c=chunk_size: bounds.chunked_iwae_bound(lambda s: table[s : s + c], n, c))
        np.testing.assert_allclose(graph(tf.constant(k)), expected, rtol=1e-6)


def test_per_sample_noise_does_not_depend_on_the_chunking():
    seed = tf.constant([7, 0])
    whole = bounds.per_sample_noise(seed, 0, 12, [[3, 2], [3]], ["normal", "uniform"])
    parts = [bounds.per_sample_noise(seed, start, 4, [[3, 2], [3]], ["normal", "uniform"]) for start in (0, 4, 8)]
    for position in range(2):
        np.testing.assert_array_equal(whole[position], tf.concat([p[position] for p in parts], 0))
    assert whole[0].shape == (12, 3, 2) and whole[1].shape == (12, 3)
    uniform = whole[1].numpy()
    assert uniform.min() >= 0.0 and uniform.max() < 1.0
    other = bounds.per_sample_noise(tf.constant([8, 0]), 0, 12, [[3, 2], [3]], ["normal", "uniform"])
    assert not np.allclose(whole[0], other[0])


def test_per_sample_noise_is_the_same_eagerly_and_inside_a_graph():
    """Eager calls run the sample loop as one graph; a caller's graph builds it inline: same draws."""
    seed = tf.constant([3, 1])
    eager = bounds.per_sample_noise(seed, 5, 6, [[4, 2]], ["normal"])[0]
    graph = tf.function(lambda s: bounds.per_sample_noise(s, 5, 6, [[4, 2]], ["normal"])[0])(seed)
    np.testing.assert_array_equal(eager, graph)
    with pytest.raises(ValueError, match='expected noise kind "normal" or "uniform", got \'gamma\''):
        bounds.per_sample_noise(seed, 0, 2, [[4]], ["gamma"])


def test_normalized_weights_sum_to_one_and_carry_no_gradient():
    log_weights = tf.Variable(_fixed_log_weights(6))
    with tf.GradientTape() as tape:
        weights = bounds.normalized_importance_weights(log_weights)
        total = tf.reduce_sum(weights)
    np.testing.assert_allclose(tf.reduce_sum(weights, 0), np.ones(4), rtol=1e-6)
    assert tape.gradient(total, log_weights) is None


def test_kl_weight_warms_up_linearly_to_beta():
    assert float(bounds.kl_weight(0, beta=2.0, warmup_steps=0)) == 2.0
    np.testing.assert_allclose([float(bounds.kl_weight(t, 0.5, 100)) for t in (0, 50, 100, 400)], [0, 0.25, 0.5, 0.5])


def test_default_chunk_size_respects_the_memory_budget():
    assert bounds.default_chunk_size(5000, 100, 784) * 100 * 784 <= 2**24
    assert bounds.default_chunk_size(3, 100, 784) == 3
    assert bounds.default_chunk_size(5000, 100, 784 * 256) == 1
