"""The Helmholtz machine: stochastic binary layers trained by wake-sleep,
reweighted wake-sleep, NVIL or VIMCO."""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfdgm.distributions.layers import BernoulliLayer
from tfdgm.inference import bounds, score_function
from tfdgm.models.base import as_seed
from tfdgm.models.latent.base import LatentVariableModel, _flatten, _unflatten
from tfdgm.nn.mlp import MLP

tfd = tfp.distributions

__all__ = ["HelmholtzMachine"]

ALGORITHMS = ("wake_sleep", "reweighted_wake_sleep", "nvil", "vimco")


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
      "nvil" (Mnih & Gregor 2014, Sec. 3): one sample h ~ q(h|x); the
        generative weights ascend log p(x, h), the recognition layer i the
        score-function estimate A_i grad log q(h^i | h^{i-1}) of the ELBO's
        gradient, with A_i = (l_i - C_i(h^{i-1}) - c_i) / max(1, sqrt(v_i)):
        l_i the local learning signal (Sec. 3.3), C_i an input-dependent
        baseline network fitted by regression to l_i - c_i (Sec. 3.1), c_i and
        v_i running mean and variance of l_i - C_i (Sec. 3.2; non-trainable
        weights, saved with the model).
      "vimco" (Mnih & Rezende 2016, Sec. 3): k samples; the generative weights
        ascend L_k, the recognition weights the estimate
        sum_j (L(h^j | h^{-j}) - w~_j) grad log q(h^j | x) of grad L_k, with
        the leave-one-out signals of
        `tfdgm.inference.score_function.vimco_leave_one_out_signals`.
    `nll` reports -L_k over the wake samples (k = 1: an ELBO estimate).
    `recognition_gradient_estimate(x, seed)` returns one draw of the NVIL or
    VIMCO estimate of the recognition gradient (for checks and diagnostics).

    References:
      Hinton, Dayan, Frey & Neal, "The wake-sleep algorithm for unsupervised
      neural networks", Science 1995.
      Dayan, Hinton, Neal & Zemel, "The Helmholtz Machine", Neural Computation 1995.
      Bornschein & Bengio, "Reweighted Wake-Sleep", ICLR 2015
      (https://arxiv.org/abs/1406.2751).
      Mnih & Gregor, "Neural Variational Inference and Learning in Belief
      Networks", ICML 2014 (https://arxiv.org/abs/1402.0030).
      Mnih & Rezende, "Variational Inference for Monte Carlo Objectives",
      ICML 2016 (https://arxiv.org/abs/1602.06725).

    Arguments:
      event_shape: shape of one binary example.
      latent_dim: sizes of the binary layers, bottom first, e.g. [200, 200, 10].
      hidden_units: deterministic tanh layers inside each conditional (default
        none: the classic sigmoid belief net).
      algorithm: "wake_sleep", "reweighted_wake_sleep", "nvil" or "vimco".
      num_importance_samples: k of reweighted wake-sleep and VIMCO (k >= 2);
        ignored by wake-sleep and NVIL (one sample).
      sleep_phase: also run the sleep q-update in reweighted wake-sleep.
      baseline_units: tanh hidden layers of NVIL's baseline networks (one per
        stochastic layer, each seeing that layer's input h^{i-1}).
      signal_decay: alpha of NVIL's running signal mean and variance.

    Example:
      model = HelmholtzMachine(event_shape=(784,), latent_dim=[200, 200],
                               algorithm="vimco", num_importance_samples=5)
      model.compile(optimizer="adam"); model.fit(x, batch_size=100, epochs=4)
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
        baseline_units=(100,),
        signal_decay=0.8,
        data_transform=None,
        name=None,
        **kwargs,
    ):
        super().__init__(event_shape=event_shape, latent_dim=latent_dim, data_transform=data_transform, name=name, **kwargs)
        if algorithm not in ALGORITHMS:
            raise ValueError(f"expected algorithm one of {', '.join(map(repr, ALGORITHMS))}, got {algorithm!r}")
        if int(num_importance_samples) < 1:
            raise ValueError(f"expected num_importance_samples >= 1, got {num_importance_samples}")
        if algorithm == "vimco" and int(num_importance_samples) < 2:
            raise ValueError(
                f"VIMCO's leave-one-out signals need num_importance_samples >= 2, got {num_importance_samples}"
            )
        if not 0.0 <= float(signal_decay) < 1.0:
            raise ValueError(f"expected 0 <= signal_decay < 1, got {signal_decay}")
        self.hidden_units = [int(u) for u in hidden_units]
        self.algorithm = algorithm
        self.num_importance_samples = int(num_importance_samples)
        self.sleep_phase = bool(sleep_phase)
        self.baseline_units = [int(u) for u in baseline_units]
        self.signal_decay = float(signal_decay)
        dims = self.latent_dims
        below = [self.num_dims, *dims[:-1]]
        self.inference_nets = [MLP(self.hidden_units, name=f"recognition_trunk_{l + 1}") for l in range(len(dims))]
        self.posterior_layers = [BernoulliLayer((d,), name=f"q_h{l + 1}") for l, d in enumerate(dims)]
        self.generative_nets = [MLP(self.hidden_units[::-1], name=f"generative_trunk_{l}") for l in range(len(dims))]
        self.generative_layers = [BernoulliLayer(self.event_shape, name="p_x")] + [
            BernoulliLayer((below[l],), name=f"p_h{l}") for l in range(1, len(dims))
        ]
        self.baseline_nets = []
        if algorithm == "nvil":
            self.baseline_nets = [
                keras.Sequential(
                    [keras.layers.Dense(u, activation="tanh") for u in self.baseline_units] + [keras.layers.Dense(1)],
                    name=f"baseline_{l + 1}",
                )
                for l in range(len(dims))
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
        if self.algorithm == "nvil":
            for level, net in enumerate(self.baseline_nets):
                net.build((None, below[level]))
            moments = dict(shape=(len(dims),), trainable=False, aggregation="mean")
            self.signal_mean = self.add_weight(name="signal_mean", initializer="zeros", **moments)
            self.signal_variance = self.add_weight(name="signal_variance", initializer="ones", **moments)
            self.signal_count = self.add_weight(
                name="signal_count", shape=(), initializer="zeros", trainable=False, aggregation="only_first_replica"
            )
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
            "baseline_units": list(self.baseline_units),
            "signal_decay": self.signal_decay,
        }

    def prior(self):
        """p(h^L) = prod_j Bernoulli(sigma(b_j))."""
        return tfd.Independent(tfd.Bernoulli(logits=self.prior_logits, dtype=tf.float32), reinterpreted_batch_ndims=1)

    @property
    def _wake_samples(self):
        return self.num_importance_samples if self.algorithm in ("reweighted_wake_sleep", "vimco") else 1

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

    # ------------------------------------------- score-function estimators
    def layer_terms(self, x, seed, num_samples=1):
        """Samples h ~ q(h | x) and every factor's log-probability, per layer.

        x: [batch, *event_shape]; seed: [2] stateless seed.
        Returns dict with `hs` (L tensors [k, batch, d_l]), `log_q` (L tensors
        [k, batch]: log q(h^l | h^{l-1})) and `log_p` (L + 1 tensors [k, batch]:
        log p(h^{l-1} | h^l) for l = 1..L with h^0 = x, then log p(h^L)).
        """
        noise = self._noise(x, seed, 0, num_samples)
        params = self.posterior_layers[0](self._input_features(x))
        h, log_q = self.posterior_layers[0].sample_and_log_prob(params, noise[0])
        hs, log_qs = [h], [log_q]
        leading = tf.shape(h)[:2]
        for level in range(1, self.num_stochastic_layers):
            params = _unflatten(self.posterior_layers[level](self.inference_nets[level](_flatten(h))), leading)
            h, log_q = self.posterior_layers[level].sample_and_log_prob(params, noise[level])
            hs.append(h)
            log_qs.append(log_q)
        params = _unflatten(self._decoder_params(_flatten(hs[0])), leading)
        log_ps = [self.generative_layers[0].make_distribution(params).log_prob(x)]
        for level in range(1, self.num_stochastic_layers):
            features = self.generative_nets[level](_flatten(hs[level]))
            params = _unflatten(self.generative_layers[level](features), leading)
            log_ps.append(self.generative_layers[level].make_distribution(params).log_prob(hs[level - 1]))
        log_ps.append(self.prior().log_prob(hs[-1]))
        return {"hs": hs, "log_q": log_qs, "log_p": log_ps}

    def nvil_baselines(self, x, hs):
        """C_i(h^{i-1}) of every layer (h^0 = x): L tensors [k, batch]."""
        leading = tf.shape(hs[0])[:2]
        inputs = [tf.broadcast_to(tf.reshape(x, [1, -1, self.num_dims]), tf.concat([leading, [self.num_dims]], 0))]
        inputs += hs[:-1]
        return [_unflatten(net(_flatten(h)), leading)[..., 0] for net, h in zip(self.baseline_nets, inputs)]

    def score_function_objective(self, x, seed, control_variates=True, normalize=True, update_statistics=False):
        """A surrogate whose gradient is the algorithm's estimate of the bound's
        gradient: ordinary gradients for the generative weights, score-function
        estimates (NVIL or VIMCO, see the class docstring) for the recognition
        weights.

        Arguments:
          x: [batch, *event_shape]; seed: [2] stateless seed.
          control_variates: False drops the baselines (plain REINFORCE: the
            signal l_i for NVIL, L_k for every sample for VIMCO).
          normalize: NVIL: divide the centred signal by max(1, sqrt(v_i)).
          update_statistics: NVIL: first fold this batch into c_i, v_i.
        Returns:
          (surrogate [batch], bound [batch] (the ELBO estimate or L_k),
           baseline_loss [batch] (NVIL's regression loss; zeros for VIMCO)).
        """
        terms = self.layer_terms(x, seed, self._wake_samples)
        log_q = tf.add_n(terms["log_q"])
        log_joint = tf.add_n(terms["log_p"])
        log_weights = log_joint - log_q
        bound = bounds.iwae_bound(log_weights)
        if self.algorithm == "vimco":
            if control_variates:
                signals = score_function.vimco_leave_one_out_signals(log_weights)
            else:
                signals = tf.broadcast_to(bound, tf.shape(log_weights))
            surrogate = bound + tf.reduce_sum(score_function.score_function_surrogate(signals, log_q), 0)
            return surrogate, bound, tf.zeros_like(bound)
        signals = [tf.stop_gradient(l) for l in score_function.local_learning_signals(terms["log_p"], terms["log_q"])]
        baseline_loss = tf.zeros_like(log_joint)
        if control_variates:
            baselines = self.nvil_baselines(x, terms["hs"])
            residuals = [signal - tf.stop_gradient(c) for signal, c in zip(signals, baselines)]
            if update_statistics:
                score_function.update_signal_moments(
                    residuals, self.signal_mean, self.signal_variance, self.signal_count, self.signal_decay
                )
            means = tf.unstack(self.signal_mean)
            variances = tf.unstack(self.signal_variance) if normalize else [tf.ones([])] * len(signals)
            baseline_loss = tf.add_n([tf.square(l - c_mean - c) for l, c_mean, c in zip(signals, means, baselines)])
            signals = [score_function.normalized_signal(*moments) for moments in zip(residuals, means, variances)]
        surrogate = log_joint + tf.add_n(
            [score_function.score_function_surrogate(l, log_q_level) for l, log_q_level in zip(signals, terms["log_q"])]
        )
        return tf.reduce_mean(surrogate, 0), bound, tf.reduce_mean(baseline_loss, 0)

    def recognition_gradient_estimate(self, x, seed=None, control_variates=True):
        """One draw of the score-function estimate of the gradient of the
        training bound (NVIL: the ELBO; VIMCO: L_k) with respect to
        `recognition_variables`, averaged over the batch (ascent direction).

        NVIL's signal is centred by its baselines C_i + c_i but not divided by
        max(1, sqrt(v_i)), so the draw estimates the gradient itself;
        `control_variates=False` gives plain REINFORCE of the same bound.
        Nothing is updated.

        x: [batch, *event_shape]; seed: int or [2] stateless seed.
        Returns: list of tensors shaped like `recognition_variables`.
        """
        if self.algorithm not in ("nvil", "vimco"):
            raise ValueError(
                f'expected algorithm "nvil" or "vimco" for a score-function estimate, got {self.algorithm!r}'
            )
        self._ensure_built()
        x = self.validate_input(x)
        with tf.GradientTape() as tape:
            surrogate, _, _ = self.score_function_objective(x, as_seed(seed), control_variates, normalize=False)
            objective = tf.reduce_mean(surrogate)
        return tape.gradient(objective, self.recognition_variables)

    def train_step(self, data):
        x, _ = self.unpack(data)
        x = self.validate_input(x)
        if self.algorithm in ("nvil", "vimco"):
            with tf.GradientTape() as tape:
                surrogate, bound, baseline_loss = self.score_function_objective(
                    x, self.training_seed(), update_statistics=self.algorithm == "nvil"
                )
                loss = -tf.reduce_mean(surrogate) + tf.reduce_mean(baseline_loss)
            self.apply_gradients(tape, loss)
            return self._update_metrics(bound, x)
        return self._wake_sleep_step(x)

    def _wake_sleep_step(self, x):
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

