"""The Helmholtz machine: stochastic binary layers, wake-sleep and reweighted wake-sleep."""

import tensorflow as tf
import tensorflow_probability as tfp

from tfdgm.distributions.layers import BernoulliLayer
from tfdgm.inference import bounds
from tfdgm.models.latent.base import LatentVariableModel
from tfdgm.nn.mlp import MLP

tfd = tfp.distributions

__all__ = ["HelmholtzMachine"]


class HelmholtzMachine(LatentVariableModel):
    """Sigmoid belief nets for generation, p(h^L) p(h^{L-1}|h^L) ... p(x|h^1), and
    recognition, q(h^1|x) ... q(h^L|h^{L-1}), all layers of binary units with
    p(h_j = 1 | h^{above}) = sigma(W h^{above} + b)_j (a learned factorized prior
    on the top layer).

    Training (`algorithm`):
      "wake_sleep" (Hinton et al. 1995): the wake phase samples h ~ q(h|x) and
        ascends log p(x, h) in the generative weights; the sleep phase dreams
        (x~, h~) ~ p and ascends log q(h~ | x~) in the recognition weights.
      "reweighted_wake_sleep" (Bornschein & Bengio 2015, Sec. 3): k samples
        h_i ~ q(h|x) with normalized weights w~_i = w_i / sum_j w_j,
        w_i = p(x, h_i) / q(h_i|x); the generative weights ascend
        sum_i w~_i log p(x, h_i) (eq. 5) and the recognition weights
        sum_i w~_i log q(h_i | x) (wake q-update, eq. 6) plus the sleep phase.
    `nll` reports -L_k over the wake samples (k = 1: an ELBO estimate).

    References:
      Hinton, Dayan, Frey & Neal, "The wake-sleep algorithm for unsupervised
      neural networks", Science 1995.
      Dayan, Hinton, Neal & Zemel, "The Helmholtz Machine", Neural Computation 1995.
      Bornschein & Bengio, "Reweighted Wake-Sleep", ICLR 2015
      (https://arxiv.org/abs/1406.2751).

    Arguments:
      event_shape: shape of one binary example.
      latent_dim: sizes of the binary layers, bottom first, e.g. [200, 200, 10].
      hidden_units: deterministic tanh layers inside each conditional (default
        none: the classic sigmoid belief net).
      algorithm: "wake_sleep" or "reweighted_wake_sleep".
      num_importance_samples: k of reweighted wake-sleep (ignored by wake-sleep).
      sleep_phase: also run the sleep q-update in reweighted wake-sleep.
      data_transform: preprocessing spec (binarized data).
    """

    data_kind = "binary"
    supports_xla = True

    def __init__(
        self,
        event_shape=(2,),
        latent_dim=(16,),
        hidden_units=(),
        algorithm="wake_sleep",
        num_importance_samples=5,
        sleep_phase=True,
        data_transform=None,
        name=None,
        **kwargs,
    ):
        super().__init__(event_shape=event_shape, latent_dim=latent_dim, data_transform=data_transform, name=name, **kwargs)
        if algorithm not in ("wake_sleep", "reweighted_wake_sleep"):
            raise ValueError(f'expected algorithm "wake_sleep" or "reweighted_wake_sleep", got {algorithm!r}')
        if int(num_importance_samples) < 1:
            raise ValueError(f"expected num_importance_samples >= 1, got {num_importance_samples}")
        self.hidden_units = [int(u) for u in hidden_units]
        self.algorithm = algorithm
        self.num_importance_samples = int(num_importance_samples)
        self.sleep_phase = bool(sleep_phase)
        dims = self.latent_dims
        below = [self.num_dims, *dims[:-1]]
        self.inference_nets = [MLP(self.hidden_units, name=f"recognition_trunk_{l + 1}") for l in range(len(dims))]
        self.posterior_layers = [BernoulliLayer((d,), name=f"q_h{l + 1}") for l, d in enumerate(dims)]
        self.generative_nets = [MLP(self.hidden_units[::-1], name=f"generative_trunk_{l}") for l in range(len(dims))]
        self.generative_layers = [BernoulliLayer(self.event_shape, name="p_x")] + [
            BernoulliLayer((below[l],), name=f"p_h{l}") for l in range(1, len(dims))
        ]

    def build(self, input_shape=None):
        dims = self.latent_dims
        below = [self.num_dims, *dims[:-1]]
        for level in range(len(dims)):
            self.inference_nets[level].build((None, below[level]))
            self.posterior_layers[level].build(self.inference_nets[level].compute_output_shape((None, below[level])))
            self.generative_nets[level].build((None, dims[level]))
            self.generative_layers[level].build(self.generative_nets[level].compute_output_shape((None, dims[level])))
        self.prior_logits = self.add_weight(name="prior_logits", shape=(dims[-1],), initializer="zeros")
        self.built = True

    @property
    def generative_variables(self):
        weights = [self.prior_logits]
        for layer in (*self.generative_nets, *self.generative_layers):
            weights.extend(layer.trainable_variables)
        return weights

    @property
    def recognition_variables(self):
        weights = []
        for layer in (*self.inference_nets, *self.posterior_layers):
            weights.extend(layer.trainable_variables)
        return weights

    @classmethod
    def default_hyperparameters(cls, info):
        if info.event_shape is not None and int(tf.reduce_prod(info.event_shape)) >= 256:
            return {"latent_dim": [200, 200], "algorithm": "reweighted_wake_sleep"}
        return {}

    def hyperparameters(self):
        return {
            "latent_dim": list(self.latent_dims),
            "hidden_units": list(self.hidden_units),
            "algorithm": self.algorithm,
            "num_importance_samples": self.num_importance_samples,
            "sleep_phase": self.sleep_phase,
        }

    def prior(self):
        """p(h^L) = prod_j Bernoulli(sigma(b_j))."""
        return tfd.Independent(tfd.Bernoulli(logits=self.prior_logits, dtype=tf.float32), reinterpreted_batch_ndims=1)

    @property
    def _wake_samples(self):
        return self.num_importance_samples if self.algorithm == "reweighted_wake_sleep" else 1

    def training_bound(self, x, seed):
        log_weights = self.bound_terms(x, seed, 0, self._wake_samples)["log_weights"]
        return bounds.iwae_bound(log_weights), {}

    def sleep_log_q(self, batch_size, seed):
        """log q(h~ | x~) of dreams (x~, h~) ~ p, without gradient through p. -> [batch]."""
        hs = [self.prior().sample(batch_size, seed=seed)]
        for level in range(self.num_stochastic_layers - 1, -1, -1):
            params = self.generative_layers[level](self.generative_nets[level](hs[0]))
            sample_seed = tf.random.experimental.stateless_fold_in(seed, level + 1)
            hs.insert(0, self.generative_layers[level].make_distribution(params).sample(seed=sample_seed))
        hs = [tf.stop_gradient(h) for h in hs]
        x, latents = tf.reshape(hs[0], [-1, self.num_dims]), hs[1:]
        log_q, below = 0.0, x
        for level, h in enumerate(latents):
            log_q += self.posterior_layers[level].distribution(self.inference_nets[level](below)).log_prob(h)
            below = h
        return log_q

    def train_step(self, data):
        x, _ = self.unpack(data)
        x = self.validate_input(x)
        wake_seed, sleep_seed = tf.unstack(tf.random.experimental.stateless_split(self.training_seed(), 2))
        with tf.GradientTape() as tape:
            terms = self.bound_terms(x, wake_seed, 0, self._wake_samples)
            weights = bounds.normalized_importance_weights(terms["log_weights"])  # 1 for wake-sleep
            wake_p = -tf.reduce_mean(tf.reduce_sum(weights * (terms["log_likelihood"] + terms["log_prior"]), 0))
            loss = wake_p
            if self.algorithm == "reweighted_wake_sleep":
                loss += -tf.reduce_mean(tf.reduce_sum(weights * terms["log_posterior"], 0))
            if self.algorithm == "wake_sleep" or self.sleep_phase:
                loss += -tf.reduce_mean(self.sleep_log_q(tf.shape(x)[0], sleep_seed))
        # Samples of binary units carry no gradient, so each term reaches only
        # its own network: wake terms the generative weights (and, reweighted,
        # the recognition weights through log q), sleep terms the recognition.
        self.apply_gradients(tape, loss)
        return self._update_metrics(bounds.iwae_bound(terms["log_weights"]), x)
