"""Score-function (REINFORCE) gradients of variational bounds for discrete
latents, and the control variates that make them usable: NVIL's local,
centred and normalised learning signals and VIMCO's leave-one-out signals.

For a bound E_{q_phi(h|x)}[f_phi(x, h)] with discrete h,

    grad_phi E_q[f] = E_q[f(x, h) grad_phi log q(h|x)] + E_q[grad_phi f(x, h)],

and the first term is estimated from samples by a *surrogate*
`stop_gradient(signal) * log q(h|x)`, whose gradient is signal * grad log q.
Subtracting from the signal anything that does not depend on the sample it
multiplies keeps the estimate unbiased and can cut its variance.

References:
  Williams, "Simple statistical gradient-following algorithms for
  connectionist reinforcement learning", Machine Learning 1992 (REINFORCE).
  Mnih & Gregor, "Neural Variational Inference and Learning in Belief
  Networks", ICML 2014 (https://arxiv.org/abs/1402.0030), Sec. 3.
  Mnih & Rezende, "Variational Inference for Monte Carlo Objectives", ICML 2016
  (https://arxiv.org/abs/1602.06725), Sec. 3.
"""

import tensorflow as tf

__all__ = [
    "score_function_surrogate",
    "local_learning_signals",
    "update_signal_moments",
    "normalized_signal",
    "vimco_leave_one_out_signals",
]


def score_function_surrogate(learning_signal, log_q):
    """stop_gradient(signal) * log q: its gradient is the score-function
    estimate signal * grad log q (Williams 1992). Shapes broadcast; -> same."""
    return tf.stop_gradient(learning_signal) * log_q


def local_learning_signals(log_p_terms, log_q_terms):
    """NVIL's per-layer learning signals (Mnih & Gregor 2014, Sec. 3.3).

    For a belief net p(h^L) prod_l p(h^{l-1} | h^l) (h^0 = x) and an inference
    net prod_l q(h^l | h^{l-1}), the signal of layer i keeps only the terms of
    log p(x, h) - log q(h | x) that can depend on h^i given h^{i-1}:

        l_i = log p(h^{i-1}, ..., h^L) - log q(h^i, ..., h^L | h^{i-1}),

    (l_1 is the whole log p(x, h) - log q(h | x)); the dropped terms have zero
    expectation against grad log q(h^i | h^{i-1}).

    Arguments:
      log_p_terms: L + 1 tensors [log p(h^0 | h^1), ..., log p(h^{L-1} | h^L), log p(h^L)].
      log_q_terms: L tensors [log q(h^1 | h^0), ..., log q(h^L | h^{L-1})].
    Returns:
      L tensors [l_1, ..., l_L], each the broadcast shape of the terms.
    """
    if len(log_p_terms) != len(log_q_terms) + 1:
        raise ValueError(
            f"expected one more generative term than inference terms, got {len(log_p_terms)} and {len(log_q_terms)}"
        )
    signals, tail = [], log_p_terms[-1]
    for level in range(len(log_q_terms) - 1, -1, -1):
        tail = tail + log_p_terms[level] - log_q_terms[level]
        signals.insert(0, tail)
    return signals


def update_signal_moments(residuals, mean, variance, count, decay=0.8):
    """Running mean c_i and variance v_i of each layer's learning signal after
    its input-dependent baseline, r_i = l_i - C_i (Mnih & Gregor 2014, Sec. 3.2):

        c_i <- decay * c_i + (1 - decay) * mean(r_i),
        v_i <- decay * v_i + (1 - decay) * var(r_i),

    the first batch (count = 0) setting them. Assigns the variables.

    Arguments:
      residuals: L tensors (any shape; e.g. [k, batch]), treated as constants.
      mean, variance: [L] variables; count: scalar variable (batches seen).
      decay: alpha of the moving averages (0.8 in the paper).
    Returns:
      (c, v) after the update, [L] each.
    """
    residuals = [tf.stop_gradient(r) for r in residuals]
    batch_mean = tf.stack([tf.reduce_mean(r) for r in residuals])
    batch_variance = tf.stack([tf.reduce_mean(tf.square(r - m)) for r, m in zip(residuals, tf.unstack(batch_mean))])
    first = tf.equal(count, 0.0)
    new_mean = tf.where(first, batch_mean, decay * mean + (1.0 - decay) * batch_mean)
    new_variance = tf.where(first, batch_variance, decay * variance + (1.0 - decay) * batch_variance)
    mean.assign(new_mean)
    variance.assign(new_variance)
    count.assign_add(1.0)
    return new_mean, new_variance


def normalized_signal(residual, mean, variance):
    """(l - C(x) - c) / max(1, sqrt(v)) (Mnih & Gregor 2014, Sec. 3.1-3.2):
    centred by the input-dependent and the constant baseline, divided by the
    running standard deviation only when it exceeds 1. No gradient."""
    scale = tf.maximum(1.0, tf.sqrt(variance))
    return tf.stop_gradient((residual - mean) / scale)


def vimco_leave_one_out_signals(log_weights, axis=0):
    """VIMCO's per-sample learning signals (Mnih & Rezende 2016, Sec. 3):

        L(h^j | h^{-j}) = L_k - log 1/k (sum_{i != j} w_i + w^_{-j}),
        log w^_{-j} = 1/(k-1) sum_{i != j} log w_i,

    L_k with sample j replaced by the geometric mean of the others: the
    baseline of sample j does not depend on h^j, so the estimate
    sum_j L(h^j | h^{-j}) grad log q(h^j | x) stays unbiased. No gradient.

    Arguments:
      log_weights: [k, batch] log w_i = log p(x, h_i) - log q(h_i | x), k >= 2
        (with `axis` naming the sample axis).
    Returns:
      [k, batch] (same layout as `log_weights`).
    """
    log_weights = tf.stop_gradient(log_weights)
    if axis != 0:
        log_weights = tf.experimental.numpy.moveaxis(log_weights, axis, 0)
    k = tf.shape(log_weights)[0]
    k_float = tf.cast(k, log_weights.dtype)
    geometric = (tf.reduce_sum(log_weights, 0, keepdims=True) - log_weights) / (k_float - 1.0)  # [k, batch]
    # replaced[j, i] = log w_i for i != j, log w^_{-j} for i == j.
    same = tf.reshape(tf.eye(k, dtype=tf.bool), tf.concat([[k, k], tf.ones_like(tf.shape(log_weights)[1:])], 0))
    replaced = tf.where(same, geometric[:, None], log_weights[None])
    log_k = tf.math.log(k_float)
    bound = tf.reduce_logsumexp(log_weights, 0) - log_k
    signals = bound[None] - (tf.reduce_logsumexp(replaced, 1) - log_k)
    if axis != 0:
        signals = tf.experimental.numpy.moveaxis(signals, 0, axis)
    return signals
