"""Annealed importance sampling (AIS) estimates of log-partition functions.

An annealing path is four functions on a chain state (any nest of tensors
whose leading axis runs over the parallel AIS runs): `sample_base(n, seed)`
draws exactly from the tractable initial model p_0, `log_z_base` is its log
normalizer, `log_unnormalized(state, beta)` is log p*_beta (the intermediate
model at inverse temperature beta, p*_0 = base, p*_1 = target) and
`transition(state, beta, seed)` is a Markov kernel leaving p_beta invariant.
The RBM family builds its paths in `tfdgm.distributions` (base-rate initial
model, Salakhutdinov & Murray 2008, Sec. 4.1); this module runs them.

References:
  Neal, "Annealed importance sampling", Statistics and Computing 2001.
  Salakhutdinov & Murray, "On the quantitative analysis of deep belief
  networks", ICML 2008 (Sec. 3, eqs. 9-11: the weights and log Z estimate;
  Sec. 4.1: the RBM path and base-rate model; the 14,500-beta schedule).
  Salakhutdinov & Hinton, "Deep Boltzmann machines", AISTATS 2009 (AIS for DBMs).
"""

import collections
import warnings

import keras
import numpy as np
import tensorflow as tf

from tfdgm.distributions.annealing import AnnealingPath
from tfdgm.distributions.gibbs import split_seed
from tfdgm.rng import as_seed

__all__ = ["AnnealingPath", "AISResult", "beta_schedule", "ais_log_partition", "log_mean_exp_with_stderr"]

AISResult = collections.namedtuple("AISResult", ["log_z", "stderr", "log_weights", "log_z_base"])
AISResult.__doc__ = """log Z estimate, its standard error (nats), the log importance weights
[num_runs, ...] and the base model's log Z."""

# Salakhutdinov & Murray (2008), Sec. 5: 500 betas spaced uniformly in
# [0, 0.5], 4,000 in [0.5, 0.9] and 10,000 in [0.9, 1.0].
_SM_SEGMENTS = ((0.5, 500), (0.9, 4000), (1.0, 10000))


def beta_schedule(num_betas, kind="salakhutdinov_murray"):
    """Inverse temperatures 0 = beta_0 < ... < beta_K = 1 (float32 [num_betas + 1]).

    Arguments:
      num_betas: K, the number of intermediate steps (>= 1).
      kind: "salakhutdinov_murray" (their 14,500-step schedule, rescaled to K
        steps: denser near beta = 1 where the distributions change fastest)
        or "linear".
    """
    num_betas = int(num_betas)
    if num_betas < 1:
        raise ValueError(f"expected num_betas >= 1, got {num_betas}")
    if kind == "linear" or num_betas < 20:
        return np.linspace(0.0, 1.0, num_betas + 1).astype(np.float32)
    if kind != "salakhutdinov_murray":
        raise ValueError(f"expected kind 'salakhutdinov_murray' or 'linear', got {kind!r}")
    total = sum(n for _, n in _SM_SEGMENTS)
    counts = [max(1, round(num_betas * n / total)) for _, n in _SM_SEGMENTS]
    counts[-1] = num_betas - sum(counts[:-1])
    pieces, low = [np.zeros(1)], 0.0
    for (high, _), count in zip(_SM_SEGMENTS, counts):
        pieces.append(np.linspace(low, high, count + 1)[1:])
        low = high
    return np.concatenate(pieces).astype(np.float32)


def log_mean_exp_with_stderr(log_weights, axis=0):
    """log of the mean of exp(log_weights) and its delta-method standard error.

    With w_m = exp(log_weights_m), Z_hat = mean(w) and
    se(log Z_hat) ~= std(w) / (sqrt(M) mean(w)) (computed after subtracting the
    maximum, so it never overflows).
    Returns:
      (log_mean, stderr), reduced over `axis`.
    """
    log_weights = tf.convert_to_tensor(log_weights, tf.float32)
    num = tf.cast(tf.shape(log_weights)[axis], tf.float32)
    top = tf.reduce_max(log_weights, axis=axis, keepdims=True)
    scaled = tf.exp(log_weights - top)
    mean = tf.reduce_mean(scaled, axis=axis)
    std = tf.math.reduce_std(scaled, axis=axis)
    log_mean = tf.math.log(mean) + tf.squeeze(top, axis)
    return log_mean, std / (tf.sqrt(num) * mean)


def _warn_if_few_runs_carry_the_weights(log_weights, num_betas, fraction=0.1):
    """Warns when the effective number of runs (sum w)^2 / sum w^2 is below
    `fraction` of them: log Z is then likely under-estimated (AIS is biased
    low) and its stderr says nothing (one dominant run gives sqrt(1 - 1/M)
    whatever the error). Written here because AIS codes report the stderr alone."""
    weights = np.exp(np.asarray(log_weights, np.float64) - np.max(log_weights))
    effective = weights.sum() ** 2 / np.sum(weights ** 2)
    if effective < fraction * len(weights):
        warnings.warn(
            f"AIS: the importance weights rest on {effective:.1f} of {len(weights)} runs; log Z is likely "
            f"under-estimated at {num_betas} betas: use more betas until the estimate stops rising",
            stacklevel=3,
        )


def ais_log_partition(path, num_runs=100, betas=10000, seed=None, verbose=0, jit_compile=True):
    """AIS estimate of log Z of the target model p_1 (Neal 2001; S&M 2008 eq. 11).

    Each of `num_runs` independent runs draws x_1 ~ p_0, then for k = 1..K
    accumulates log w += log p*_k(x_k) - log p*_{k-1}(x_k) and moves
    x_{k+1} ~ T_k(x_k); log Z_1 ~= log Z_0 + log mean_m w_m.

    Arguments:
      path: an `AnnealingPath`.
      num_runs: M, parallel runs (the standard error falls as 1/sqrt(M)).
      betas: K (int; `beta_schedule(K)`) or an increasing array from 0 to 1.
      seed: int or stateless `[2]` seed (None: random).
      verbose: 1 shows a `keras.utils.Progbar` over the temperatures.
      jit_compile: XLA-compile the annealing loop.
    Returns:
      `AISResult(log_z, stderr, log_weights, log_z_base)` (tensors).
    """
    if isinstance(betas, (int, np.integer)):
        betas = beta_schedule(betas)
    betas = np.asarray(betas, np.float32)
    if betas.ndim != 1 or betas.size < 2 or betas[0] != 0.0 or betas[-1] != 1.0 or np.any(np.diff(betas) < 0):
        raise ValueError(f"expected betas increasing from 0 to 1, got {betas.size} values "
                         f"from {betas.min() if betas.size else None} to {betas.max() if betas.size else None}")
    if int(num_runs) < 2:
        raise ValueError(f"expected num_runs >= 2 (for a standard error), got {num_runs}")
    seed = as_seed(seed)
    base_seed, seed = tf.unstack(split_seed(seed, 2))
    state = path.sample_base(int(num_runs), base_seed)
    log_weights = tf.zeros_like(path.log_unnormalized(state, tf.constant(0.0)))

    @tf.function(jit_compile=jit_compile, reduce_retracing=True)
    def anneal(state, log_weights, segment, seed):
        def body(k, state, log_weights, seed):
            seed, step_seed = tf.unstack(split_seed(seed, 2))
            previous, current = segment[k - 1], segment[k]
            log_weights += path.log_unnormalized(state, current) - path.log_unnormalized(state, previous)
            return k + 1, path.transition(state, current, step_seed), log_weights, seed

        _, state, log_weights, _ = tf.while_loop(
            lambda k, *_: k < tf.shape(segment)[0], body, (tf.constant(1), state, log_weights, seed)
        )
        return state, log_weights

    num_steps = betas.size - 1
    work = num_steps * int(num_runs)
    num_segments = 1 if (not verbose or work < 200_000) else min(50, num_steps)
    bounds = np.linspace(0, num_steps, num_segments + 1).round().astype(int)
    progress = keras.utils.Progbar(num_steps, unit_name="temperature") if num_segments > 1 else None
    for start, stop in zip(bounds[:-1], bounds[1:]):
        seed, segment_seed = tf.unstack(split_seed(seed, 2))
        state, log_weights = anneal(state, log_weights, tf.constant(betas[start : stop + 1]), segment_seed)
        if progress is not None:
            progress.update(int(stop))
    log_mean, stderr = log_mean_exp_with_stderr(log_weights, axis=0)
    _warn_if_few_runs_carry_the_weights(log_weights.numpy(), betas.size)
    log_z_base = tf.convert_to_tensor(path.log_z_base, tf.float32)
    return AISResult(log_z_base + log_mean, stderr, log_weights, log_z_base)


