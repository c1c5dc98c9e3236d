"""The score-function pieces against direct computations: VIMCO's leave-one-out
signals, NVIL's local signals, running moments and normalisation."""

import numpy as np
import tensorflow as tf

from tfdgm.inference import score_function


def test_vimco_signals_match_the_leave_one_out_definition():
    rng = np.random.default_rng(0)
    log_weights = rng.normal(-20.0, 3.0, size=(5, 3))
    signals = score_function.vimco_leave_one_out_signals(tf.constant(log_weights)).numpy()
    k = log_weights.shape[0]
    bound = np.log(np.exp(log_weights).mean(0))
    for j in range(k):
        others = np.delete(log_weights, j, axis=0)
        replaced = np.concatenate([others, others.mean(0, keepdims=True)])  # geometric mean of the others
        expected = bound - np.log(np.exp(replaced).mean(0))
        np.testing.assert_allclose(signals[j], expected, rtol=1e-6, atol=1e-6)
    # The sample axis may be the last one.
    np.testing.assert_allclose(
        score_function.vimco_leave_one_out_signals(tf.constant(log_weights.T), axis=1).numpy(), signals.T, rtol=1e-6
    )


def test_vimco_signals_have_no_gradient():
    log_weights = tf.Variable(tf.random.normal([4, 2]))
    with tf.GradientTape() as tape:
        signals = score_function.vimco_leave_one_out_signals(log_weights)
    assert tape.gradient(signals, log_weights) is None


def test_local_learning_signals_keep_the_terms_of_each_layer_and_above():
    log_p = [tf.constant(v) for v in (1.0, 10.0, 100.0)]  # log p(x|h1), log p(h1|h2), log p(h2)
    log_q = [tf.constant(v) for v in (0.5, 0.25)]  # log q(h1|x), log q(h2|h1)
    signals = [float(s) for s in score_function.local_learning_signals(log_p, log_q)]
    assert signals == [111.0 - 0.75, 110.0 - 0.25]


def test_signal_moments_start_at_the_first_batch_then_average():
    mean, variance, count = tf.Variable([0.0, 0.0]), tf.Variable([1.0, 1.0]), tf.Variable(0.0)
    first = [tf.constant([1.0, 3.0]), tf.constant([10.0, 10.0])]
    score_function.update_signal_moments(first, mean, variance, count, decay=0.8)
    np.testing.assert_allclose(mean.numpy(), [2.0, 10.0])
    np.testing.assert_allclose(variance.numpy(), [1.0, 0.0])
    second = [tf.constant([7.0, 7.0]), tf.constant([0.0, 20.0])]
    score_function.update_signal_moments(second, mean, variance, count, decay=0.8)
    np.testing.assert_allclose(mean.numpy(), [0.8 * 2 + 0.2 * 7, 0.8 * 10 + 0.2 * 10])
    np.testing.assert_allclose(variance.numpy(), [0.8 * 1 + 0.2 * 0, 0.8 * 0 + 0.2 * 100])
    assert float(count) == 2.0
    # Divided by the standard deviation only when it exceeds 1.
    np.testing.assert_allclose(score_function.normalized_signal(tf.constant(5.0), 3.0, 0.25).numpy(), 2.0)
    np.testing.assert_allclose(score_function.normalized_signal(tf.constant(5.0), 3.0, 16.0).numpy(), 0.5)
