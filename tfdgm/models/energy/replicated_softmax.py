"""The Replicated Softmax RBM: an undirected topic model of word counts."""

import math

import keras
import numpy as np
import tensorflow as tf

from tfdgm.distributions.replicated_softmax import ReplicatedSoftmaxDistribution
from tfdgm.inference.ais import ais_log_partition
from tfdgm.models.base import as_seed
from tfdgm.models.energy.base import EnergyModel

__all__ = ["ReplicatedSoftmaxRBM"]


class ReplicatedSoftmaxRBM(EnergyModel):
    """Bag-of-words RBM (Salakhutdinov & Hinton 2009): x = word counts [K].

    A document of D words is D copies of one K-way softmax visible unit with
    shared weights W and biases b; the hidden biases a are scaled by D (eq. 2).
    The partition function depends on D, so log Z_D is stored per length in
    a table of `max_length + 1` entries; `log_prob` is log p(V) of the document
    (order-free word sequence), and `perplexity` is exp(-sum log p / sum D)
    (S&H 2009, Sec. 4). `top_words` lists each hidden unit's strongest words
    (its "topic"). PCD is not offered (chains would need the data's lengths):
    training is CD-k.

    References:
      Salakhutdinov & Hinton, "Replicated softmax: an undirected topic
      model", NIPS 2009.

    Arguments:
      event_shape: `(K,)`, the vocabulary size.
      num_hidden: H (S&H used 50).
      max_length: the longest document (in words) that training, sampling and
        the log Z table support (longer documents raise in `fit` on arrays).
      other arguments: see `EnergyModel` (default learning rate 0.001 as the
        gradient grows with D).
    """

    data_kind = "counts"

    def __init__(self, event_shape=(100,), num_hidden=50, max_length=256, learning_rate=1e-3, **kwargs):
        if kwargs.get("persistent"):
            raise ValueError("ReplicatedSoftmaxRBM trains by CD-k; persistent=True is not supported")
        super().__init__(event_shape=event_shape, num_hidden=num_hidden, learning_rate=learning_rate, **kwargs)
        if len(self.event_shape) != 1:
            raise ValueError(f"expected event_shape (K,) of word counts, got {self.event_shape}")
        self.max_length = int(max_length)

    def hyperparameters(self):
        return {**super().hyperparameters(), "max_length": self.max_length}

    @property
    def enumerable(self):
        return self.num_hidden <= 20

    def build(self, input_shape=None):
        self.weights_vh = self.add_weight(
            name="weights", shape=(self.num_dims, self.num_hidden),
            initializer=keras.initializers.RandomNormal(stddev=0.01),
        )
        self.visible_bias = self.add_weight(name="visible_bias", shape=(self.num_dims,), initializer="zeros")
        self.hidden_bias = self.add_weight(name="hidden_bias", shape=(self.num_hidden,), initializer="zeros")
        self._build_energy_state()
        nan = keras.initializers.Constant(float("nan"))
        self.log_z_table = self.add_weight(name="log_z_table", shape=(self.max_length + 1,), initializer=nan,
                                           trainable=False)
        self.log_z_stderr_table = self.add_weight(name="log_z_stderr_table", shape=(self.max_length + 1,),
                                                  initializer=nan, trainable=False)
        self.built = True

    def mean_length(self):
        """Mean document length of the training data seen (>= 1)."""
        return tf.maximum(tf.reduce_sum(self.data_mean), 1.0)

    def base_logits(self, epsilon=1e-6):
        """Log unigram frequencies of the training data (the AIS base model)."""
        return tf.math.log(self.data_mean / tf.reduce_sum(self.data_mean) + epsilon)

    def distribution(self, log_normalizer=None, num_steps=None, document_length=None):
        return ReplicatedSoftmaxDistribution(
            self.weights_vh, self.visible_bias, self.hidden_bias, log_normalizer=log_normalizer,
            document_length=tf.round(self.mean_length()) if document_length is None else document_length,
            max_length=self.max_length, num_steps=self.sampling_steps if num_steps is None else num_steps,
        )

    def features(self, v):
        return self.distribution().hidden_probs(self.validate_input(v, "v"))

    def reconstruction(self, flat):
        distribution = self.distribution()
        words = tf.nn.softmax(distribution.word_logits(distribution.hidden_probs(flat)))
        return words * distribution.lengths(flat)[:, None]

    def _coupling_weights(self):
        return [self.weights_vh]

    def _hidden_input(self, flat):
        return tf.reduce_sum(flat, -1, keepdims=True) * self.hidden_bias + flat @ self.weights_vh

    def fit(self, x=None, y=None, **kwargs):
        if isinstance(x, np.ndarray) and x.size and x.sum(-1).max() > self.max_length:
            raise ValueError(f"expected documents of at most max_length={self.max_length} words, "
                             f"got one of {int(x.sum(-1).max())}")
        return super().fit(x, y, **kwargs)

    # ------------------------------------------------------- partition function
    def log_partition(self, method="auto", lengths=None, num_runs=100, num_betas=10000, seed=0, verbose=0):
        """log Z_D for each document length D in `lengths` (default: the mean
        training length); stored in the table. AIS runs all lengths at once.
        Returns:
          (log_z [L], stderr [L]) as NumPy arrays.
        """
        self._ensure_built()
        lengths = np.unique(np.asarray([round(float(self.mean_length()))] if lengths is None else lengths, np.int64))
        if lengths.min() < 0 or lengths.max() > self.max_length:
            raise ValueError(f"expected lengths in [0, {self.max_length}], got {lengths.min()}..{lengths.max()}")
        if method == "auto":
            method = "exact" if self.enumerable else "ais"
        if method == "exact":
            log_z = self.distribution().exact_log_normalizer(lengths).numpy()
            stderr = np.zeros_like(log_z)
        elif method == "ais":
            result = ais_log_partition(
                self.distribution().annealing_path(lengths, self.base_logits()),
                num_runs=num_runs, betas=num_betas, seed=seed, verbose=verbose,
            )
            log_z, stderr = result.log_z.numpy(), result.stderr.numpy()
        else:
            raise ValueError(f"expected method 'auto', 'exact' or 'ais', got {method!r}")
        self.log_z_table.assign(tf.tensor_scatter_nd_update(self.log_z_table, lengths[:, None], log_z))
        self.log_z_stderr_table.assign(tf.tensor_scatter_nd_update(self.log_z_stderr_table, lengths[:, None], stderr))
        return log_z, stderr

    def log_prob(self, v):
        """log p(V) = -F(n) - log Z_D with the stored table (exact first for
        missing lengths of a small model). v: [batch, K] counts -> [batch]."""
        self._ensure_built()
        v = self.validate_input(v, "v")
        lengths = np.unique(np.round(tf.reduce_sum(v, -1).numpy()).astype(np.int64))
        missing = lengths[np.isnan(self.log_z_table.numpy()[np.minimum(lengths, self.max_length)])]
        if missing.size:
            if not self.enumerable:
                raise ValueError(f"log Z is not estimated for document lengths {missing.tolist()[:10]}: "
                                 "call model.log_partition('ais', lengths=...) first")
            self.log_partition("exact", lengths=missing)
        return self.distribution(log_normalizer=self.log_z_table).log_prob(v)

    def train_step(self, data):
        logs = super().train_step(data)
        self.log_z_table.assign(tf.fill(tf.shape(self.log_z_table), float("nan")))
        return logs

    def evaluate_nll(self, dataset, verbose=1, ais_runs=20, ais_betas=1000, seed=0):
        """Test NLL per document with log Z_D by AIS for every length present,
        and the per-word perplexity exp(sum NLL / sum D).

        Lighter defaults than the binary RBM's (100 x 10,000): one AIS run
        per distinct document length makes each temperature ~10x dearer;
        raise them with `--ais-runs/--ais-betas`."""
        self._ensure_built()
        batches = [self.validate_input(self.unpack(batch)[0]) for batch in dataset]
        counts = tf.concat(batches, 0)
        lengths = np.round(tf.reduce_sum(counts, -1).numpy()).astype(np.int64)
        self.log_partition("ais", lengths=np.unique(lengths), num_runs=ais_runs, num_betas=ais_betas,
                           seed=seed, verbose=verbose)
        nll = -self.log_prob(counts).numpy()
        index = np.minimum(lengths, self.max_length)
        stderr = self.log_z_stderr_table.numpy()[index]
        results = {
            "nll_nats": float(nll.mean()),
            "bits_per_dim": float(nll.mean() / (self.num_dims * math.log(2.0))),
            "model_space_nll_nats": float(nll.mean()),
            "perplexity": float(np.exp(nll.sum() / max(lengths.sum(), 1))),
            "log_z_stderr": float(np.sqrt(np.mean(stderr**2))),
            "ais_runs": int(ais_runs),
            "ais_betas": int(ais_betas),
            "num_examples": int(len(lengths)),
        }
        return results

    def sample(self, n, *, seed=None, num_steps=None, document_length=None):
        """n documents of `document_length` words (default: the mean training
        length) by Gibbs chains. -> counts [n, K]."""
        self._ensure_built()
        length = round(float(self.mean_length())) if document_length is None else int(document_length)
        if not 1 <= length <= self.max_length:
            raise ValueError(f"expected document_length in [1, {self.max_length}], got {length}")
        steps = self.sampling_steps if num_steps is None else int(num_steps)
        return self.distribution(num_steps=steps, document_length=length).sample(int(n), seed=as_seed(seed))

    def text_reports(self, vocabulary=None):
        """`topics.txt`: each hidden unit's top words, for data with a vocabulary."""
        if vocabulary is None:
            return {}
        return {"topics.txt": "".join(f"hidden {unit}: {' '.join(topic)}\n"
                                      for unit, topic in enumerate(self.top_words(vocabulary)))}

    def top_words(self, vocabulary, num_words=10):
        """Each hidden unit's `num_words` words of largest weight (its topic).
        -> list of H lists of words."""
        weights = self.weights_vh.numpy()
        if len(vocabulary) != weights.shape[0]:
            raise ValueError(f"expected a vocabulary of {weights.shape[0]} words, got {len(vocabulary)}")
        order = np.argsort(-weights, axis=0)[:num_words]
        return [[vocabulary[i] for i in order[:, j]] for j in range(weights.shape[1])]

    def export_signatures(self):
        """`log_prob` (table of log Z_D; the mean length is estimated if the
        table is empty), `sample` (documents of the mean length) and `features`."""
        if np.all(np.isnan(self.log_z_table.numpy())):
            self.log_partition("auto")
        event = [None, *self.event_shape]
        steps = self.sampling_steps
        return {
            "log_prob": (
                lambda x: {"log_prob": self.distribution(log_normalizer=self.log_z_table).log_prob(x)},
                [tf.TensorSpec(event, tf.float32, name="x")],
            ),
            "sample": (
                lambda n, seed: {"samples": self.distribution(num_steps=steps).sample(n, seed=as_seed(seed))},
                [tf.TensorSpec([], tf.int32, name="n"), tf.TensorSpec([], tf.int32, name="seed")],
            ),
            "features": (lambda x: {"features": self.features(x)}, [tf.TensorSpec(event, tf.float32, name="x")]),
        }
