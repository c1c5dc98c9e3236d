"""The Replicated Softmax RBM (a topic model over word counts) as a TFP distribution.

References:
  Salakhutdinov & Hinton, "Replicated softmax: an undirected topic model",
  NIPS 2009 (eqs. 2-5: energy, conditionals; Sec. 3: AIS per document length).
"""

import numpy as np
import tensorflow as tf

from tfdgm.distributions.rbm import EnergyDistribution
from tfdgm.distributions.annealing import AnnealingPath
from tfdgm.distributions.enumeration import log_sum_over_states
from tfdgm.distributions.gibbs import bernoulli, split_seed

__all__ = ["ReplicatedSoftmaxDistribution", "multinomial_counts"]


def multinomial_counts(logits, lengths, max_length, seed):
    """Counts of `lengths` words drawn from softmax(logits), stateless.

    logits: [n, K]; lengths: [n] (float or int, <= max_length, a Python int)
    -> float32 [n, K].
    """
    draws = tf.random.stateless_categorical(logits, max_length, seed=seed, dtype=tf.int32)  # [n, max_length]
    keep = tf.cast(tf.range(max_length)[None, :] < tf.cast(tf.round(lengths), tf.int32)[:, None], tf.float32)
    # Scatter-add the kept draws into [n, K] (a one-hot sum would build an
    # [n, max_length, K] tensor: 1e9 floats per AIS step for 4k chains).
    num_rows, num_words = tf.shape(logits)[0], tf.shape(logits)[-1]
    segments = tf.range(num_rows)[:, None] * num_words + draws
    counts = tf.math.unsorted_segment_sum(
        tf.reshape(keep, [-1]), tf.reshape(segments, [-1]), num_rows * num_words
    )
    return tf.reshape(counts, tf.shape(logits))


class ReplicatedSoftmaxDistribution(EnergyDistribution):
    """p(V) over bags of words (count vectors n, document length D = sum_k n_k).

    The model is an RBM whose K-way softmax visible unit is replicated for
    each of the D words of a document, sharing weights (S&H 2009, eq. 2):
    E(V, h) = -sum_jk W_kj h_j n_k - sum_k b_k n_k - D sum_j a_j h_j, so
    F(n) = -n.b - sum_j softplus(D a_j + (n W)_j),
    p(h_j=1|V) = sigmoid(D a_j + (nW)_j) (eq. 4) and each word is drawn from
    softmax(b + W h) (eq. 5). Z depends on D: `log_prob` is log p(V) of the
    document as a word sequence (order-free), log p(V) = -F(n) - log Z_D.

    Arguments:
      weights: W [K, H]; visible_bias: b [K]; hidden_bias: a [H].
      log_normalizer: a table of log Z_D indexed by D ([max_length + 1]), or None.
      document_length: D of the documents `sample` draws.
      max_length: the largest D that sampling supports (a static bound).
      num_steps: Gibbs steps per sample.
    """

    def __init__(self, weights, visible_bias, hidden_bias, log_normalizer=None, document_length=50,
                 max_length=None, num_steps=1000, validate_args=False, allow_nan_stats=True,
                 name="ReplicatedSoftmax"):
        parameters = dict(locals())
        self.weights = tf.convert_to_tensor(weights, tf.float32)
        self.visible_bias = tf.convert_to_tensor(visible_bias, tf.float32)
        self.hidden_bias = tf.convert_to_tensor(hidden_bias, tf.float32)
        self.document_length = document_length
        self.max_length = int(max_length if max_length is not None else document_length)
        super().__init__(
            (self.weights.shape[0],), log_normalizer, num_steps, validate_args, allow_nan_stats, name, parameters
        )

    @property
    def num_hidden(self):
        return self.weights.shape[1]

    @staticmethod
    def lengths(counts):
        """D = sum_k n_k. counts: [n, K] -> [n]."""
        return tf.reduce_sum(counts, -1)

    def _free_energy(self, n):
        length = self.lengths(n)[:, None]
        return -tf.linalg.matvec(n, self.visible_bias) - tf.reduce_sum(
            tf.math.softplus(length * self.hidden_bias + n @ self.weights), -1
        )

    def _log_prob(self, n):
        if self._log_normalizer is None:
            raise ValueError(f"{self.name}: log_prob needs the table of log Z_D (log_normalizer=)")
        flat, sample_shape = self._flatten(n)
        index = tf.cast(tf.round(self.lengths(flat)), tf.int32)
        log_z = tf.gather(self._log_normalizer, index)
        return tf.reshape(-self._free_energy(flat) - log_z, sample_shape)

    def hidden_probs(self, n):
        """p(h=1|V) = sigmoid(D a + n W). n: [batch, K] -> [batch, H]."""
        flat, _ = self._flatten(n)
        return tf.sigmoid(self.lengths(flat)[:, None] * self.hidden_bias + flat @ self.weights)

    def word_logits(self, h):
        """Logits of each word's softmax given h: b + W h. h: [n, H] -> [n, K]."""
        return self.visible_bias + h @ tf.transpose(self.weights)

    def gibbs_step(self, n, seed):
        hidden_seed, visible_seed = tf.unstack(split_seed(seed, 2))
        h = bernoulli(self.hidden_probs(n), hidden_seed)
        return multinomial_counts(self.word_logits(h), self.lengths(n), self.max_length, visible_seed)

    def initial_state(self, n, seed):
        logits = tf.broadcast_to(self.visible_bias, [n, self._num_visible])
        return multinomial_counts(logits, tf.fill([n], tf.cast(self.document_length, tf.float32)),
                                  self.max_length, seed)

    def exact_log_normalizer(self, lengths):
        """log Z_D for each D in `lengths` by enumerating the hiddens (H <= 24). -> [L]."""
        return rsm_log_partition(self.weights, self.visible_bias, self.hidden_bias, lengths)

    def annealing_path(self, lengths, base_logits=None):
        """AIS for a batch of document lengths at once (S&H 2009, Sec. 3).

        From words drawn independently from softmax(b^A) (unigram base rates;
        log Z^A_D = D logsumexp(b^A) + H log 2) to the model, through
        log p*_beta(n) = (1 - beta) n.b^A + beta n.b + sum_j softplus(beta (D a_j + (nW)_j)).
        The chain state is [runs, L, K]: one chain per run and length.
        """
        base = self.visible_bias if base_logits is None else tf.convert_to_tensor(base_logits, tf.float32)
        lengths = tf.cast(tf.reshape(lengths, [-1]), tf.float32)
        num_lengths = lengths.shape[0]
        weights, visible_bias, hidden_bias, max_length = self.weights, self.visible_bias, self.hidden_bias, self.max_length
        if tf.executing_eagerly() and num_lengths:
            # Draw only as many words per chain as the longest document needs
            # (the model's max_length, 256, is ~30x the typical fortunes length).
            max_length = max(1, min(max_length, int(np.ceil(float(tf.reduce_max(lengths))))))

        def flat(n):
            return tf.reshape(n, [-1, self._num_visible])

        def log_unnormalized(n, beta):
            v = flat(n)
            length = self.lengths(v)[:, None]
            value = tf.linalg.matvec(v, (1.0 - beta) * base + beta * visible_bias) + tf.reduce_sum(
                tf.math.softplus(beta * (length * hidden_bias + v @ weights)), -1
            )
            return tf.reshape(value, [-1, num_lengths])

        def transition(n, beta, seed):
            hidden_seed, visible_seed = tf.unstack(split_seed(seed, 2))
            v = flat(n)
            length = self.lengths(v)
            h = bernoulli(tf.sigmoid(beta * (length[:, None] * hidden_bias + v @ weights)), hidden_seed)
            logits = (1.0 - beta) * base + beta * (visible_bias + h @ tf.transpose(weights))
            return tf.reshape(multinomial_counts(logits, length, max_length, visible_seed), tf.shape(n))

        def sample_base(runs, seed):
            length = tf.tile(lengths, [runs])
            logits = tf.broadcast_to(base, [runs * num_lengths, self._num_visible])
            counts = multinomial_counts(logits, length, max_length, seed)
            return tf.reshape(counts, [runs, num_lengths, self._num_visible])

        log_z_base = lengths * tf.reduce_logsumexp(base) + self.num_hidden * np.log(2.0)
        return AnnealingPath(log_z_base, sample_base, log_unnormalized, transition)


def rsm_log_partition(weights, visible_bias, hidden_bias, lengths):
    """Exact log Z_D of a Replicated Softmax RBM for documents of length D.

    E(V, h) = -sum_jk W_kj h_j n_k - sum_k b_k n_k - D sum_j a_j h_j over the
    D x K one-hot word matrix V with counts n (Salakhutdinov & Hinton 2009,
    eq. 3). Summing the D words out for fixed h:
    Z_D = sum_h exp(D a.h) (sum_k exp(b_k + (W h)_k))^D.
    weights: [K, H], visible_bias: [K], hidden_bias: [H], lengths: [L] -> [L].
    """
    weights = tf.convert_to_tensor(weights, tf.float32)
    lengths = tf.cast(tf.reshape(lengths, [-1]), tf.float32)

    def log_fn(h):
        log_words = tf.reduce_logsumexp(visible_bias + h @ tf.transpose(weights), -1)
        return (tf.linalg.matvec(h, hidden_bias) + log_words)[:, None] * lengths[None, :]

    return log_sum_over_states(log_fn, weights.shape[1])
