"""The deep belief net as a TFP distribution: a top RBM over a directed sigmoid stack.

References:
  Hinton, Osindero & Teh, "A fast learning algorithm for deep belief nets",
  Neural Computation 2006 (Sec. 4: greedy stacking; sampling by Gibbs in the
  top-level associative memory then one down pass).
  Salakhutdinov & Murray, "On the quantitative analysis of deep belief
  networks", ICML 2008 (Sec. 5, eq. 20: the variational lower bound).
"""

import tensorflow as tf
import tensorflow_probability as tfp

from tfdgm.distributions.rbm import BernoulliRBMDistribution
from tfdgm.distributions.gibbs import bernoulli, split_seed

tfd = tfp.distributions

__all__ = ["DBNDistribution"]


def _bernoulli_log_prob(x, logits):
    return -tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits), -1)


def _bernoulli_entropy(logits):
    p = tf.sigmoid(logits)
    return tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=p, logits=logits), -1)


class DBNDistribution(tfd.Distribution):
    """p(v) = sum_h p(v|h_1) ... p(h_{L-2}|h_{L-1}) p_RBM(h_{L-1}, h_L).

    Layer l (1..L) is an RBM with weights W_l [n_{l-1}, n_l], visible bias a_l
    and hidden bias c_l: its visible bias gives the generative conditional
    p(h_{l-1}=1|h_l) = sigmoid(a_l + W_l h_l), its hidden bias the recognition
    q(h_l=1|h_{l-1}) = sigmoid(c_l + h_{l-1} W_l); the top RBM (layer L) keeps
    both. log p(v) is intractable: `lower_bound` estimates the variational
    bound of S&M 2008 eq. 20 (given log Z of the top RBM), and `_log_prob` is
    that estimate (not an exact density).

    Arguments:
      weights, visible_biases, hidden_biases: lists over the L layers.
      event_shape: shape of v.
      log_normalizer: log Z of the top RBM (scalar) or None.
      num_steps: Gibbs sweeps of the top RBM per sample.
      top_initial_logits: logits the top chains start from.
      num_bound_samples: samples of q per example in `_log_prob`.
      bound_seed: the fixed seed of `_log_prob`'s samples (so it is repeatable).
    """

    def __init__(self, weights, visible_biases, hidden_biases, event_shape=None, log_normalizer=None,
                 num_steps=1000, top_initial_logits=None, num_bound_samples=10, bound_seed=(0, 0),
                 validate_args=False, allow_nan_stats=True, name="DBN"):
        parameters = dict(locals())
        self.weights = [tf.convert_to_tensor(w, tf.float32) for w in weights]
        self.visible_biases = [tf.convert_to_tensor(b, tf.float32) for b in visible_biases]
        self.hidden_biases = [tf.convert_to_tensor(c, tf.float32) for c in hidden_biases]
        self._event = tuple(event_shape) if event_shape is not None else (self.weights[0].shape[0],)
        self.num_visible = self.weights[0].shape[0]
        self.top = BernoulliRBMDistribution(
            self.weights[-1], self.visible_biases[-1], self.hidden_biases[-1],
            log_normalizer=log_normalizer, num_steps=num_steps, initial_logits=top_initial_logits,
        )
        self.num_bound_samples = num_bound_samples
        self.bound_seed = bound_seed
        super().__init__(dtype=tf.float32, reparameterization_type=tfd.NOT_REPARAMETERIZED,
                         validate_args=validate_args, allow_nan_stats=allow_nan_stats,
                         parameters=parameters, name=name)

    def _event_shape(self):
        return tf.TensorShape(self._event)

    def _batch_shape(self):
        return tf.TensorShape([])

    def _event_shape_tensor(self):
        return tf.constant(self._event, tf.int32)

    def _batch_shape_tensor(self):
        return tf.constant([], tf.int32)

    def up_pass(self, v):
        """Recognition probabilities q(h_l=1|h_{l-1}) through every layer (mean field).
        v: [n, V] -> list of [n, n_l], l = 1..L."""
        probs, x = [], v
        for w, c in zip(self.weights, self.hidden_biases):
            x = tf.sigmoid(c + x @ w)
            probs.append(x)
        return probs

    def _sample_n(self, n, seed=None):
        seed = tfp.random.sanitize_seed([int(seed), 0] if isinstance(seed, int) else seed)
        top_seed, down_seed = tf.unstack(split_seed(seed, 2))
        x = self.top.sample(n, seed=top_seed)  # h_{L-1} after Gibbs in the top RBM
        seeds = tf.unstack(split_seed(down_seed, max(2, len(self.weights))))
        for layer in range(len(self.weights) - 2, -1, -1):
            x = bernoulli(tf.sigmoid(self.visible_biases[layer] + x @ tf.transpose(self.weights[layer])), seeds[layer])
        return tf.reshape(x, tf.concat([[n], self._event], 0))

    def lower_bound(self, v, num_samples=10, seed=(0, 0), log_normalizer=None):
        """Monte-Carlo estimate of the variational bound on log p(v) (S&M 2008, eq. 20):
        log p(v) >= E_q[log p(v|h_1) + ... + log p*_top(h_{L-1})] + H(q) - log Z_top,
        q(h_1..h_{L-1}|v) the recognition up-pass, sampled `num_samples` times
        (entropies in closed form per layer). v: [n, *event] -> [n]."""
        log_normalizer = self.top.log_normalizer if log_normalizer is None else log_normalizer
        flat = tf.reshape(tf.convert_to_tensor(v, tf.float32), [-1, self.num_visible])
        n = tf.shape(flat)[0]
        x = tf.tile(flat, [num_samples, 1])
        total = tf.zeros([num_samples * n])
        seeds = tf.unstack(split_seed(tf.convert_to_tensor(seed, tf.int32), max(2, len(self.weights))))
        for layer in range(len(self.weights) - 1):
            logits = self.hidden_biases[layer] + x @ self.weights[layer]
            h = bernoulli(tf.sigmoid(logits), seeds[layer])
            total += _bernoulli_entropy(logits)
            total += _bernoulli_log_prob(x, self.visible_biases[layer] + h @ tf.transpose(self.weights[layer]))
            x = h
        total += -self.top.flat_free_energy(x)
        bound = tf.reduce_mean(tf.reshape(total, [num_samples, n]), 0)
        return bound if log_normalizer is None else bound - log_normalizer

    def _log_prob(self, v):
        if self.top.log_normalizer is None:
            raise ValueError("DBN log_prob (a lower bound) needs log Z of the top RBM (log_normalizer=)")
        v = tf.convert_to_tensor(v, tf.float32)
        sample_shape = tf.shape(v)[: tf.rank(v) - len(self._event)]
        return tf.reshape(self.lower_bound(v, self.num_bound_samples, self.bound_seed), sample_shape)
