"""The explicit-density protocol: models with a tractable `log_prob`.

`DensityModel` is the protocol of docs/architecture.md for the
autoregressive models, the normalizing flows and the factorized baselines:
a `tfd.Distribution` built from the model's Keras weights on every call,
trained by maximum likelihood.
"""

import math

import keras
import tensorflow as tf

from tfdgm.models.base import GenerativeModel, as_seed

__all__ = ["DensityModel"]


class DensityModel(GenerativeModel):
    """Explicit-density protocol: `distribution()`, `log_prob`, `sample`.

    Subclasses implement `distribution(context=None)` (a `tfd.Distribution`
    over `event_shape`, built from the model's Keras weights) and
    `build(input_shape)` (creating those weights from shapes alone). The
    training objective is the negative log-likelihood in nats,

        loss = -1/B sum_b log p(x_b),

    reported as `nll` (model space, nats) and `bits_per_dim` (data space).
    """

    family = "density"

    def __init__(self, event_shape=(2,), data_transform=None, name=None, **kwargs):
        super().__init__(event_shape=event_shape, data_transform=data_transform, name=name, **kwargs)
        self._nll_tracker = keras.metrics.Mean(name="nll")
        self._bpd_tracker = keras.metrics.Mean(name="bits_per_dim")

    def distribution(self, context=None):
        """The model's `tfd.Distribution` over `event_shape` (override)."""
        raise NotImplementedError(f"{type(self).__name__} must implement distribution()")

    def log_prob(self, x, context=None):
        """log p(x) in nats. x: [batch, *event_shape] -> [batch]."""
        self._ensure_built()
        x = self.validate_input(x)
        return self.distribution(context).log_prob(x)

    def data_log_prob(self, x, context=None):
        """log-density of the ORIGINAL data point whose model-space image is x.

        Adds log|det dT/dx| of the data transform T (scaling, logit, ...).
        x: [batch, *event_shape] (model space) -> [batch] nats.
        """
        x = self.validate_input(x)
        return self.data_transform.data_space_log_prob(self.log_prob(x, context), x)

    def bits_per_dim(self, x, context=None):
        """Negative log2-density per dimension in the original data space. -> [batch]"""
        return -self.data_log_prob(x, context) / (self.num_dims * math.log(2.0))

    def sample(self, n, *, seed=None, context=None):
        """Draws `n` samples: -> [n, *event_shape]. `seed`: int for reproducibility."""
        self._ensure_built()
        return self.distribution(context).sample(n, seed=as_seed(seed))

    def call(self, x, training=False):
        return self.log_prob(x)

    # ---------------------------------------------------------------- metrics
    @property
    def metrics(self):
        return [self._nll_tracker, self._bpd_tracker]

    def _update_metrics(self, log_prob, x):
        data_log_prob = self.data_transform.data_space_log_prob(log_prob, x)
        self._nll_tracker.update_state(-log_prob)
        self._bpd_tracker.update_state(-data_log_prob / (self.num_dims * math.log(2.0)))
        return {m.name: m.result() for m in self.metrics}

    def training_distribution(self, context=None):
        """The distribution whose NLL a train step minimizes (default: `distribution`;
        MADE picks the step's mask here)."""
        return self.distribution(context)

    def train_step(self, data):
        x, context = self.unpack(data)
        x = self.validate_input(x)
        with tf.GradientTape() as tape:
            log_prob = self.training_distribution(context).log_prob(x)
            loss = -tf.reduce_mean(log_prob)
        self.apply_gradients(tape, loss)
        return self._update_metrics(log_prob, x)

    def test_step(self, data):
        x, context = self.unpack(data)
        x = self.validate_input(x)
        return self._update_metrics(self.distribution(context).log_prob(x), x)

    # ----------------------------------------------------------------- export
    def export_signatures(self):
        event = [None, *self.event_shape]
        return {
            "log_prob": (
                lambda x: {"log_prob": self.log_prob(x)},
                [tf.TensorSpec(event, tf.float32, name="x")],
            ),
            "sample": (
                lambda n, seed: {"samples": self.sample(n, seed=seed)},
                [tf.TensorSpec([], tf.int32, name="n"), tf.TensorSpec([], tf.int32, name="seed")],
            ),
        }
