"""Variational and importance-weighted bounds on log p(x), and the pieces they
share: per-sample seeded noise, the k-sample bound with a chunked log-sum-exp,
normalized importance weights and the KL warm-up schedule.

The log importance weights of a latent variable model are

    log w_i = log p(x, h_i) - log q(h_i | x),   h_i ~ q(h | x),  i = 1..k,

and every bound here is a function of them (Burda et al. 2016, eq. 8):

    L_k = log (1/k) sum_i w_i  <=  log p(x),   L_1 = ELBO,   L_k <= L_{k+1}.

References:
  Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014, eq. 3.
  Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016
  (https://arxiv.org/abs/1509.00519), eq. 8 (bound), Theorem 1 (monotone in k).
  Bornschein & Bengio, "Reweighted Wake-Sleep", ICLR 2015
  (https://arxiv.org/abs/1406.2751), eq. 5-6 (normalized weights).
  Bowman et al., "Generating Sentences from a Continuous Space", CoNLL 2016
  (KL annealing); Sønderby et al., "Ladder VAE", NeurIPS 2016 (warm-up).
"""

import math

import keras
import tensorflow as tf

from tfdgm import rng

__all__ = [
    "elbo",
    "iwae_bound",
    "normalized_importance_weights",
    "per_sample_noise",
    "chunked_iwae_bound",
    "default_chunk_size",
    "kl_weight",
]


def elbo(log_weights, axis=0):
    """Monte Carlo ELBO: the mean of the log weights over samples (L_1 averaged).

    log_weights: [k, batch] -> [batch].
    """
    return tf.reduce_mean(log_weights, axis=axis)


def iwae_bound(log_weights, axis=0):
    """L_k = logsumexp_i(log w_i) - log k (Burda et al. 2016, eq. 8).

    log_weights: [k, batch] -> [batch], nats.
    """
    num_samples = tf.cast(tf.shape(log_weights)[axis], log_weights.dtype)
    return tf.reduce_logsumexp(log_weights, axis=axis) - tf.math.log(num_samples)


def normalized_importance_weights(log_weights, axis=0):
    """w~_i = w_i / sum_j w_j, without gradient (Bornschein & Bengio 2015, eq. 5).

    log_weights: [k, batch] -> [k, batch], summing to 1 over `axis`.
    """
    return tf.stop_gradient(tf.nn.softmax(log_weights, axis=axis))


def per_sample_noise(seed, start, num, shapes, kinds):
    """Noise for importance samples start..start+num-1, sample i seeded by
    `fold_in(seed, i)` alone, so the draws do not depend on how the k samples
    are split into chunks (chunked and unchunked L_k agree exactly).

    Arguments:
      seed: [2] int32 stateless seed.
      start: scalar int, index of the first sample.
      num: Python int, number of samples.
      shapes: list of per-sample noise shapes (tensors or lists), e.g.
        `[[batch, 50], [batch, 20]]`.
      kinds: list of "normal" or "uniform", one per shape.
    Returns:
      list of [num, *shape] float32 tensors.
    """
    for kind in kinds:
        if kind not in ("normal", "uniform"):
            raise ValueError(f'expected noise kind "normal" or "uniform", got {kind!r}')
    seed = tf.cast(seed, tf.int32)
    indices = tf.cast(start, tf.int32) + tf.range(num, dtype=tf.int32)
    shapes = [tf.cast(shape, tf.int32) for shape in shapes]
    # Eagerly, map_fn runs its body op by op from Python (slow for thousands
    # of samples); as one graph the same loop runs in C++ and draws the same
    # values (stateless Philox).
    draw = _noise_graph if tf.executing_eagerly() else _noise_loop
    return list(draw(seed, indices, shapes, tuple(kinds)))


def _noise_loop(seed, indices, shapes, kinds):
    """map_fn over sample indices: sample i's draws come from fold_in(seed, i)."""

    def one_sample(index):
        sample_seed = rng.fold_in(seed, index)
        draws = []
        for position, (shape, kind) in enumerate(zip(shapes, kinds)):
            layer_seed = rng.fold_in(sample_seed, position)
            draws.append(rng.normal(shape, layer_seed) if kind == "normal" else rng.uniform(shape, layer_seed))
        return tuple(draws)

    signature = tuple(tf.TensorSpec(None, tf.float32) for _ in shapes)
    return tf.map_fn(one_sample, indices, fn_output_signature=signature)


_noise_graph = tf.function(_noise_loop, reduce_retracing=True)


def default_chunk_size(num_samples, batch_size, width, budget=2**24):
    """Importance samples per chunk so that one [chunk, batch, width] tensor holds
    at most `budget` floats (64 MB): `width` is the widest per-example tensor
    of the model (e.g. the likelihood's parameter count)."""
    batch_size = batch_size or 128
    return int(max(1, min(num_samples, budget // max(1, batch_size * width))))


def chunked_iwae_bound(log_weights_fn, num_samples, chunk_size, verbose=0):
    """L_k with the k samples taken `chunk_size` at a time (memory O(chunk)).

    The log-sum-exp is accumulated exactly,
        acc <- log(exp(acc) + sum_{i in chunk} w_i),
    so the result equals `iwae_bound` over all k log weights at once. Every
    chunk has the same shape (the surplus samples of the last one are masked
    to -inf), so one compiled `log_weights_fn` serves all chunks.

    Arguments:
      log_weights_fn: `fn(start) -> [chunk_size, batch]` log weights of samples
        start..start+chunk_size-1 (see `per_sample_noise`).
      num_samples: k (Python int or scalar tensor).
      chunk_size: Python int.
      verbose: eager only: 1 shows a `keras.utils.Progbar` over chunks.
    Returns:
      [batch] L_k in nats.
    """
    chunk_size = int(chunk_size)
    k = tf.cast(num_samples, tf.int32)

    def masked(start):
        log_weights = log_weights_fn(start)
        index = start + tf.range(chunk_size, dtype=tf.int32)
        keep = tf.reshape(index < k, [chunk_size, 1])
        return tf.reduce_logsumexp(tf.where(keep, log_weights, -math.inf), axis=0)

    if tf.executing_eagerly():
        num_chunks = -(-int(num_samples) // chunk_size)
        progress = keras.utils.Progbar(num_chunks, unit_name="chunk") if verbose else None
        total = None
        for chunk in range(num_chunks):
            part = masked(tf.constant(chunk * chunk_size, tf.int32))
            total = part if total is None else tf.reduce_logsumexp(tf.stack([total, part]), axis=0)
            if progress is not None:
                progress.update(chunk + 1)
    else:
        first = masked(tf.constant(0, tf.int32))

        def body(start, total):
            part = masked(start)
            return start + chunk_size, tf.reduce_logsumexp(tf.stack([total, part]), axis=0)

        _, total = tf.while_loop(
            lambda start, total: start < k, body, (tf.constant(chunk_size, tf.int32), first)
        )
    return total - tf.math.log(tf.cast(k, total.dtype))


def kl_weight(step, beta=1.0, warmup_steps=0):
    """beta * min(1, step / warmup_steps): the KL term's weight at a training step
    (linear warm-up from 0, Sønderby et al. 2016; beta-VAE when beta != 1)."""
    if not warmup_steps:
        return tf.constant(float(beta))
    progress = tf.cast(step, tf.float32) / float(warmup_steps)
    return float(beta) * tf.minimum(1.0, progress)
