"""The deep Boltzmann machine: greedy pretraining, then mean-field + persistent chains."""

import keras
import numpy as np
import tensorflow as tf

from tfdgm.distributions.dbm import DBMDistribution
from tfdgm.distributions.dbm import dbm_log_unnormalized_given
from tfdgm.distributions.gibbs import run_chain
from tfdgm.distributions.rbm import rbm_free_energy, rbm_gibbs_sweep
from tfdgm.models.energy.base import EXACT_LIMIT, EnergyModel, clipped_logits
from tfdgm.models.energy.dbn import LayerSchedule, LayerStack, _as_widths

__all__ = ["DBM"]


class DBM(LayerStack, EnergyModel):
    """Deep Boltzmann machine with binary layers (Salakhutdinov & Hinton 2009).

    E(x) = -sum_l x_l.b_l - sum_l x_{l-1} W_l x_l over v = x_0, h_1, ..., h_L.
    Training, within one `fit`, in stages set per epoch by a `LayerSchedule`:
    (1) greedy pretraining for the first `pretrain_fraction` of the epochs,
    split over the layers: RBM l has the DBM's W_l and biases b_{l-1}, b_l,
    with the doubled-weight correction of S&H 2009 Sec. 3.2 (the layer below
    the top is modelled with its input counted twice going up, the layers
    above the visibles with their hiddens counted twice going down, i.e.
    replicated units with tied weights), trained by CD-k on the probabilities
    of the doubled up-pass; (2) joint training (S&H 2009, Alg. 1): the
    data-dependent statistics from mean field (`mean_field_steps` sweeps),
    the model's from `num_chains` persistent Gibbs chains advanced `cd_steps`
    sweeps per update, as the surrogate loss
    mean E(v, stop_gradient(mu)) - mean E(stop_gradient(chains)).
    `log_prob` is the mean-field variational lower bound (eq. 5) minus the
    stored log Z (AIS on the path with odd layers summed out, Sec. 4, from a
    base model with the data's base rates for v and, for each hidden layer,
    `hidden_rates()`: a moving average (0.99 per step, bias-corrected) of the
    training data's mean-field posterior means during joint training, 0.5
    before it).

    References:
      Salakhutdinov & Hinton, "Deep Boltzmann machines", AISTATS 2009.
      Salakhutdinov & Murray, "On the quantitative analysis of deep belief
      networks", ICML 2008 (AIS).
      Tieleman, "Training restricted Boltzmann machines using approximations
      to the likelihood gradient", ICML 2008 (persistent chains).

    Arguments:
      event_shape: shape of one binary example.
      num_hidden: widths of the 2 (or more) hidden layers, e.g. `[500, 1000]`.
      pretrain_fraction: share of the epochs spent on greedy pretraining.
      pretrain_epochs_per_layer: epochs of greedy pretraining per layer,
        then joint training for every later epoch (overrides
        `pretrain_fraction`; the stage then does not depend on how many
        epochs one `fit` call is given, so training can be split over calls).
      joint_learning_rate_factor: the joint stage's step is this fraction of
        the pretraining step (its gradients are scaled before momentum).
        At the pretraining rate the persistent chains cannot follow the
        model: on a DBM small enough for exact likelihoods, joint epochs at
        factor 1 swing the test log-likelihood, while at 0.1 it holds (see
        benchmarks/README.md, RBM family; `benchmarks/dbm_joint_rate.py`).
      mean_field_steps: mean-field sweeps per training batch.
      mean_field_max_steps: sweeps allowed when evaluating the bound.
      other arguments: see `EnergyModel` (`persistent` is implied in stage 2).
    """

    data_kind = "binary"

    def __init__(self, event_shape=(6,), num_hidden=(16, 16), pretrain_fraction=0.5, mean_field_steps=10,
                 mean_field_max_steps=100, pretrain_epochs_per_layer=None, joint_learning_rate_factor=0.1,
                 **kwargs):
        kwargs.setdefault("momentum", 0.5)
        super().__init__(event_shape=event_shape, num_hidden=_as_widths(num_hidden), **kwargs)
        if len(self.num_hidden) < 2:
            raise ValueError(f"a DBM needs at least 2 hidden layers, got num_hidden={self.num_hidden}")
        if not 0.0 <= pretrain_fraction < 1.0:
            raise ValueError(f"expected pretrain_fraction in [0, 1), got {pretrain_fraction}")
        if pretrain_epochs_per_layer is not None and (int(pretrain_epochs_per_layer) != pretrain_epochs_per_layer
                                                      or pretrain_epochs_per_layer < 0):
            raise ValueError(f"expected pretrain_epochs_per_layer a non-negative int or None, "
                             f"got {pretrain_epochs_per_layer!r}")
        if not joint_learning_rate_factor > 0:
            raise ValueError(f"expected joint_learning_rate_factor > 0, got {joint_learning_rate_factor!r}")
        self.joint_learning_rate_factor = float(joint_learning_rate_factor)
        self.pretrain_fraction = float(pretrain_fraction)
        self.pretrain_epochs_per_layer = None if pretrain_epochs_per_layer is None else int(pretrain_epochs_per_layer)
        self.mean_field_steps = int(mean_field_steps)
        self.mean_field_max_steps = int(mean_field_max_steps)

    def hyperparameters(self):
        return {**super().hyperparameters(), "pretrain_fraction": self.pretrain_fraction,
                "pretrain_epochs_per_layer": self.pretrain_epochs_per_layer,
                "joint_learning_rate_factor": self.joint_learning_rate_factor,
                "mean_field_steps": self.mean_field_steps, "mean_field_max_steps": self.mean_field_max_steps}

    @classmethod
    def default_hyperparameters(cls, info):
        return {"num_hidden": [500, 1000] if int(np.prod(info.event_shape)) > 100 else [64, 64]}

    @property
    def enumerable(self):
        even = sum(self.sizes[0::2])
        odd = sum(self.sizes[1::2])
        return min(even, odd) <= EXACT_LIMIT

    def build(self, input_shape=None):
        self.layer_weights = [
            self.add_weight(name=f"weights_{layer + 1}", shape=(rows, cols),
                            initializer=keras.initializers.RandomNormal(stddev=0.01))
            for layer, (rows, cols) in enumerate(zip(self.sizes[:-1], self.sizes[1:]))
        ]
        self.biases = [self.add_weight(name=f"bias_{layer}", shape=(size,), initializer="zeros")
                       for layer, size in enumerate(self.sizes)]
        self.stage = self.add_weight(name="stage", shape=(), initializer="zeros", trainable=False)
        self._build_energy_state(num_hidden_for_sparsity=0)
        self.posterior_averages = [
            self.add_weight(name=f"posterior_average_{layer}", shape=(size,), initializer="zeros", trainable=False)
            for layer, size in enumerate(self.sizes[1:], start=1)
        ]
        self.joint_steps = self.add_weight(name="joint_steps", shape=(), initializer="zeros", trainable=False)
        self.fantasy = [
            self.add_weight(name=f"fantasy_{layer}", shape=(self.num_chains, size),
                            initializer=keras.initializers.Constant(0.0), trainable=False)
            for layer, size in enumerate(self.sizes)
        ]
        self.built = True

    def constant_step_epochs(self, epochs):
        """The pretraining epochs: the joint stage (persistent chains) decays."""
        return min(self.pretraining_epochs(epochs), epochs) if self.decay_step else None

    def pretraining_epochs(self, total_epochs):
        """Epochs of greedy pretraining out of `total_epochs` (before the joint stage)."""
        if self.pretrain_epochs_per_layer is not None:
            return self.pretrain_epochs_per_layer * self.num_layers
        return int(round(self.pretrain_fraction * total_epochs))

    def set_stage_for_epoch(self, epoch, total_epochs):
        """Stages 0..L-1: pretrain RBM l; stage L: joint training."""
        if self.pretrain_epochs_per_layer is not None:
            stage = min(epoch // max(self.pretrain_epochs_per_layer, 1), self.num_layers)
            self.stage.assign(float(stage if self.pretrain_epochs_per_layer else self.num_layers))
            return
        pretrain_epochs = self.pretraining_epochs(total_epochs)
        if epoch < pretrain_epochs:
            stage = epoch * self.num_layers // max(pretrain_epochs, 1)
        else:
            stage = self.num_layers
        self.stage.assign(float(stage))

    # ---------------------------------------------------------------- model
    def distribution(self, log_normalizer=None, num_steps=None):
        return DBMDistribution(
            self.layer_weights, self.biases, event_shape=self.event_shape, log_normalizer=log_normalizer,
            num_steps=self.sampling_steps if num_steps is None else num_steps, initial_logits=self.base_logits(),
        )

    def hidden_rates(self):
        """Per hidden layer, the training data's mean-field posterior means
        averaged over the joint training steps (an exponential moving average,
        0.99 per step, bias-corrected as in Adam); 0.5 before joint training.
        -> list of [size_l]."""
        steps = self.joint_steps
        correction = 1.0 - tf.pow(0.99, tf.maximum(steps, 1.0))
        return [tf.where(steps > 0, average / correction, 0.5) for average in self.posterior_averages]

    def hidden_base_logits(self, epsilon=1e-3):
        """Logits of `hidden_rates()` clipped to [epsilon, 1 - epsilon]: the AIS
        base model's hidden layers (a layer that joint training froze into
        one pattern starts there instead of at uniform). -> list of [size_l]."""
        return [clipped_logits(rate, epsilon) for rate in self.hidden_rates()]

    def _annealing_path(self):
        return self.distribution().annealing_path(self.base_logits(), self.hidden_base_logits())

    def mean_field(self, v, num_iterations=None, tolerance=1e-6):
        """Mean-field posterior means [mu_1, ..., mu_L] and the last max change. v: [batch, *event_shape]."""
        self._ensure_built()
        flat = self._flat(self.validate_input(v, "v"))
        mu, change = self.distribution().mean_field(
            flat, num_iterations=num_iterations or self.mean_field_max_steps, tolerance=tolerance)
        return mu[1:], change

    def lower_bound(self, v):
        """Mean-field bound on log p(v) WITHOUT log Z: -E_q[E] + H(q). -> [batch]."""
        self._ensure_built()
        flat = self._flat(self.validate_input(v, "v"))
        return self.distribution().lower_bound(flat, num_iterations=self.mean_field_max_steps)

    def log_prob(self, v):
        """The variational LOWER BOUND on log p(v) (S&H 2009, eq. 5) minus the stored log Z."""
        return self.lower_bound(v) - self._current_log_z()

    def features(self, v):
        flat = self._flat(self.validate_input(v, "v"))
        mu, _ = self.distribution().mean_field(flat, num_iterations=self.mean_field_max_steps)
        return mu[-1]

    def free_energy(self, v):
        """-log sum_h exp(-E(v, h)), exact only for small hidden layers (enumeration)."""
        return super().free_energy(v)

    def call(self, v, training=False):
        return self.features(v)

    # ------------------------------------------------------------- training
    def reconstruction(self, flat):
        h = tf.sigmoid(self.biases[1] + 2.0 * (flat @ self.layer_weights[0]))
        return tf.sigmoid(self.biases[0] + h @ tf.transpose(self.layer_weights[0]))

    def _pretrain_step(self, layer, flat, seed):
        """CD-k on RBM `layer` with replicated (doubled) units, S&H 2009 Sec. 3.2."""
        up_copies = 2.0 if layer < self.num_layers - 1 else 1.0
        down_copies = 2 if layer > 0 else 1
        x = flat
        for below in range(layer):
            x = tf.sigmoid(self.biases[below + 1] + 2.0 * (x @ self.layer_weights[below]))
        weights, visible_bias, hidden_bias = self.layer_weights[layer], self.biases[layer], self.biases[layer + 1]
        negative = tf.stop_gradient(run_chain(
            lambda v, s: rbm_gibbs_sweep(v, weights, visible_bias, hidden_bias, s, int(up_copies), down_copies),
            up_copies * x, self.cd_steps, seed))
        variables = [weights, visible_bias, hidden_bias]
        with tf.GradientTape() as tape:
            positive = rbm_free_energy(up_copies * x, weights, visible_bias, hidden_bias, down_copies)
            loss = tf.reduce_mean(positive) - tf.reduce_mean(
                rbm_free_energy(negative, weights, visible_bias, hidden_bias, down_copies))
            loss += 0.5 * self.weight_decay * tf.reduce_sum(tf.square(weights))
        gradients = dict(zip([id(v) for v in variables], tape.gradient(loss, variables)))
        return [gradients.get(id(v), tf.zeros_like(v)) for v in self.trainable_variables], tf.reduce_mean(positive)

    def _joint_step(self, flat, seed):
        """S&H 2009 Alg. 1: mean field for the data term, persistent chains for the model term."""
        distribution = self.distribution()
        mu, _ = distribution.mean_field(flat, num_iterations=self.mean_field_steps, tolerance=0.0)
        mu = [tf.stop_gradient(m) for m in mu]
        for average, posterior in zip(self.posterior_averages, mu[1:]):
            average.assign(0.99 * average + 0.01 * tf.reduce_mean(posterior, 0))
        self.joint_steps.assign_add(1.0)
        chains = run_chain(distribution.gibbs_step, tuple(tf.convert_to_tensor(f) for f in self.fantasy),
                           self.cd_steps, seed)
        for variable, state in zip(self.fantasy, chains):
            variable.assign(state)
        chains = [tf.stop_gradient(c) for c in chains]
        with tf.GradientTape() as tape:
            positive = -dbm_log_unnormalized_given(dict(enumerate(mu)), self.layer_weights, self.biases)
            negative = -dbm_log_unnormalized_given(dict(enumerate(chains)), self.layer_weights, self.biases)
            loss = tf.reduce_mean(positive) - tf.reduce_mean(negative)
            loss += 0.5 * self.weight_decay * tf.add_n([tf.reduce_sum(tf.square(w)) for w in self.layer_weights])
        gradients = tape.gradient(loss, self.trainable_variables)
        return [self.joint_learning_rate_factor * g for g in gradients], tf.reduce_mean(positive)

    def train_step(self, data):
        x, _ = self.unpack(data)
        flat = self._flat(self.validate_input(x))
        self._track_data_mean(flat)
        seed = self._next_seed()
        branches = [lambda layer=layer: self._pretrain_step(layer, flat, seed) for layer in range(self.num_layers)]
        branches.append(lambda: self._joint_step(flat, seed))
        gradients, energy = tf.switch_case(tf.cast(self.stage, tf.int32), branches)
        stage = tf.cast(self.stage, tf.int32)
        masks = []
        for variable in self.trainable_variables:  # pretraining stage l moves W_l, b_{l-1}, b_l only
            if any(variable is w for w in self.layer_weights):
                layers = [next(i for i, w in enumerate(self.layer_weights) if w is variable)]
            else:
                index = next(i for i, b in enumerate(self.biases) if b is variable)
                layers = [index - 1, index]
            in_stage = tf.reduce_any([tf.equal(stage, layer) for layer in layers])
            masks.append(tf.cast(tf.logical_or(in_stage, stage >= self.num_layers), tf.float32))
        self.apply_smoothed_gradients(gradients, self.trainable_variables, masks)
        self.log_z.assign(float("nan"))
        self._free_energy_tracker.update_state(energy)
        self._reconstruction_tracker.update_state(tf.reduce_sum(tf.square(flat - self.reconstruction(flat)), -1))
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, _ = self.unpack(data)
        flat = self._flat(self.validate_input(x))
        mu, _ = self.distribution().mean_field(flat, num_iterations=self.mean_field_steps, tolerance=0.0)
        energy = -dbm_log_unnormalized_given(dict(enumerate(mu)), self.layer_weights, self.biases)
        return self._update_metrics(flat, energy)

    def evaluate_nll(self, dataset, verbose=1, ais_runs=100, ais_betas=10000, seed=0):
        """Test NLL bound: -(mean-field lower bound) with log Z by AIS, an
        upper bound on the true NLL (up to AIS error), as S&H 2009 report."""
        results = super().evaluate_nll(dataset, verbose=verbose, ais_runs=ais_runs, ais_betas=ais_betas, seed=seed)
        results["nll_is_upper_bound"] = True
        return results

    def export_signatures(self):
        signatures = super().export_signatures()
        signatures["log_prob"] = (
            lambda x: {"log_prob": self.distribution().lower_bound(self._flat(x), log_normalizer=self.log_z,
                                                                   num_iterations=self.mean_field_max_steps)},
            signatures["log_prob"][1],
        )
        return signatures
