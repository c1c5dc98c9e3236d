"""The energy-based protocol: CD-k / PCD training, stored log Z, AIS likelihoods.

An `EnergyModel` is a Keras model whose weights parametrize a custom TFP
distribution (`tfdgm.distributions.rbm` and siblings) with p(v) = exp(-F(v)) / Z.

Training states contrastive divergence as a surrogate loss,

    L = mean_data F(v) - mean_negatives F(stop_gradient(v~)) + weight_decay/2 |W|^2
        + sparsity_cost * sum_j stop_gradient(q_j - p) * mean(total input_j),

whose gradient is the CD-k estimate of -d log p(v) / d theta (Hinton 2002,
eq. 5; the free-energy form: Hinton 2010, Sec. 16.1) plus the guide's L2
weight decay (Sec. 10) and sparsity penalty (Sec. 11). Stating it as a loss
lets any Keras optimizer apply it (plain SGD reproduces the guide), keeps the
replica-aware `apply_gradients` of the foundation and checkpoints the optimizer
state (`contrastive_gradients`, by autodiff). `BernoulliRBM` overrides it with
the same gradient in closed form, which shares the data's hidden
probabilities between its positive statistics and the first Gibbs sweep: five
large matrix products per CD-1 step instead of seven (`tfdgm.models.energy.rbm`).
Momentum (Sec. 9) is heavy-ball smoothing of that gradient kept in
non-trainable velocity weights, so it holds for whatever optimizer is
compiled (use `SGD(lr)` with no momentum of its own for the guide's recipe).
Negative samples come from k Gibbs sweeps started at the data (CD-k) or from
persistent chains stored as non-trainable weights (PCD, Tieleman 2008), so they
checkpoint and resume with the model.

References:
  Hinton, "Training products of experts by minimizing contrastive
  divergence", Neural Computation 2002.
  Tieleman, "Training restricted Boltzmann machines using approximations to
  the likelihood gradient", ICML 2008 (PCD).
  Hinton, "A practical guide to training restricted Boltzmann machines",
  UTML TR 2010-003.
  Salakhutdinov & Murray, "On the quantitative analysis of deep belief
  networks", ICML 2008 (AIS).
"""

import math

import keras
import numpy as np
import tensorflow as tf

from tfdgm.distributions.gibbs import run_chain
from tfdgm.inference.ais import ais_log_partition
from tfdgm.models.base import GenerativeModel, as_seed
from tfdgm.replicas import replica_seed, replica_sum

__all__ = ["EnergyModel", "clipped_logits"]

#: `log_partition(method="auto")` enumerates up to this many units, AIS beyond.
EXACT_LIMIT = 20


def clipped_logits(probabilities, epsilon=1e-3):
    """log(p / (1 - p)) of `probabilities` clipped to [epsilon, 1 - epsilon]."""
    p = tf.clip_by_value(probabilities, epsilon, 1.0 - epsilon)
    return tf.math.log(p) - tf.math.log1p(-p)


class EnergyModel(GenerativeModel):
    """Base of the RBM family: training by CD-k / PCD, log Z, AIS evaluation.

    Subclasses implement `build` (calling `_build_energy_state()` after their
    own weights), `distribution(log_normalizer=None)`, `features(v)` and, for
    the default train step, `_coupling_weights()` (weights that get weight
    decay) and `_hidden_input(flat_v)` (for the sparsity penalty).

    Arguments:
      event_shape: shape of one visible vector.
      num_hidden: hidden units.
      cd_steps: k of CD-k (Gibbs sweeps per negative sample).
      persistent: PCD: keep `num_chains` persistent chains instead of
        restarting at the data (Tieleman 2008).
      num_chains: persistent chains (PCD only).
      momentum: heavy-ball coefficient on the CD gradient (guide Sec. 9: 0.5
        early, 0.9 later; 0 disables).
      weight_decay: L2 coefficient on the weights (guide Sec. 10: 1e-4 to 1e-2).
      sparsity_target: desired mean hidden activation p, or None (guide Sec. 11).
      sparsity_cost: strength of the sparsity penalty.
      learning_rate: step size of the default optimizer (`SGD`) that
        `compile()` uses when no optimizer is given.
      decay_step: models that train persistent chains (PCD; the DBM's joint
        stage) get, from `make_optimizer(epochs=, steps_per_epoch=)` (what
        the CLI calls), a step decayed to zero by a cosine over the epochs
        after any pretraining (Tieleman 2008). A constant step keeps the
        chains from mixing (see benchmarks/README.md, RBM family).
      sampling_steps: Gibbs sweeps of `sample` when `num_steps` is not given.
      data_transform, name: see `GenerativeModel`.
    """

    family = "energy"
    data_kind = "binary"

    def __init__(self, event_shape=(6,), num_hidden=16, cd_steps=1, persistent=False, num_chains=100,
                 momentum=0.5, weight_decay=2e-4, sparsity_target=None, sparsity_cost=0.1,
                 learning_rate=0.05, sampling_steps=1000, decay_step=True, data_transform=None, name=None,
                 **kwargs):
        super().__init__(event_shape=event_shape, data_transform=data_transform, name=name, **kwargs)
        self.num_hidden = num_hidden
        self.cd_steps = _positive_int(cd_steps, "cd_steps")
        self.persistent = bool(persistent)
        self.num_chains = _positive_int(num_chains, "num_chains")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"expected momentum in [0, 1), got {momentum}")
        if weight_decay < 0:
            raise ValueError(f"expected weight_decay >= 0, got {weight_decay}")
        if sparsity_target is not None and not 0.0 < sparsity_target < 1.0:
            raise ValueError(f"expected sparsity_target in (0, 1) or None, got {sparsity_target}")
        self.momentum = float(momentum)
        self.weight_decay = float(weight_decay)
        self.sparsity_target = None if sparsity_target is None else float(sparsity_target)
        self.sparsity_cost = float(sparsity_cost)
        self.learning_rate = float(learning_rate)
        self.decay_step = bool(decay_step)
        self.sampling_steps = _positive_int(sampling_steps, "sampling_steps")
        self._free_energy_tracker = keras.metrics.Mean(name="free_energy")
        self._reconstruction_tracker = keras.metrics.Mean(name="reconstruction_error")
        self._sample_function = None

    def hyperparameters(self):
        return {
            "num_hidden": self.num_hidden,
            "cd_steps": self.cd_steps,
            "persistent": self.persistent,
            "num_chains": self.num_chains,
            "momentum": self.momentum,
            "weight_decay": self.weight_decay,
            "sparsity_target": self.sparsity_target,
            "sparsity_cost": self.sparsity_cost,
            "learning_rate": self.learning_rate,
            "sampling_steps": self.sampling_steps,
            "decay_step": self.decay_step,
        }

    # ------------------------------------------------------------------ state
    def _build_energy_state(self, num_hidden_for_sparsity=None, chain_initializer=None):
        """Non-trainable state shared by the family (call at the end of `build`).

        log Z and its standard error (NaN until estimated), the running mean of
        the training data (the AIS base-rate model and the chains' start),
        momentum velocities, the sparsity estimate q, PCD chains, and a seed
        generator for the train step's Gibbs chains.
        """
        nan = keras.initializers.Constant(float("nan"))
        self.log_z = self.add_weight(name="log_z", shape=(), initializer=nan, trainable=False)
        self.log_z_stderr = self.add_weight(name="log_z_stderr", shape=(), initializer=nan, trainable=False)
        self.data_mean = self.add_weight(
            name="data_mean", shape=(self.num_dims,), initializer=keras.initializers.Constant(0.5), trainable=False
        )
        self.data_count = self.add_weight(name="data_count", shape=(), initializer="zeros", trainable=False)
        self.velocities = [
            self.add_weight(name=f"velocity_{i}", shape=w.shape, initializer="zeros", trainable=False)
            for i, w in enumerate(self.trainable_weights)
        ]
        width = num_hidden_for_sparsity or (self.num_hidden if isinstance(self.num_hidden, int) else None)
        self.hidden_activity = None
        if self.sparsity_target is not None and width:
            self.hidden_activity = self.add_weight(
                name="hidden_activity", shape=(width,),
                initializer=keras.initializers.Constant(self.sparsity_target), trainable=False,
            )
        self.chains = None
        if self.persistent:
            self.chains = self.add_weight(
                name="persistent_chains", shape=(self.num_chains, self.num_dims),
                initializer=chain_initializer or _bernoulli_initializer, trainable=False,
            )
        self.seed_generator = keras.random.SeedGenerator(0, name="gibbs_seed")

    def _next_seed(self):
        # Under replicas each replica draws its own Gibbs noise (its own PCD chains).
        return replica_seed(tf.cast(self.seed_generator.next(), tf.int32))

    def base_logits(self, epsilon=1e-3):
        """Logits of the training data's mean (the base-rate model of AIS,
        S&M 2008 Sec. 4.1), clipped to [epsilon, 1 - epsilon]. -> [V]."""
        return clipped_logits(self.data_mean, epsilon)

    def _track_data_mean(self, flat):
        """Running mean of every training example seen (exact, not decayed)."""
        # Under replicas: the examples of every replica (tfdgm.replicas.replica_sum).
        total, batch = replica_sum([tf.reduce_sum(flat, 0), tf.cast(tf.shape(flat)[0], tf.float32)])
        count = self.data_count + batch
        self.data_mean.assign_add((total - batch * self.data_mean) / count)
        self.data_count.assign(count)

    # -------------------------------------------------------------- interface
    def distribution(self, log_normalizer=None, num_steps=None):
        """The model's TFP distribution over visibles, built from the weights (override)."""
        raise NotImplementedError

    def features(self, v):
        """p(h=1|v) of the (top) hidden layer. v: [batch, *event_shape] -> [batch, H] (override)."""
        raise NotImplementedError

    def _flat(self, v):
        return tf.reshape(v, [-1, self.num_dims])

    def free_energy(self, v):
        """F(v) = -log sum_h exp(-E(v, h)). v: [batch, *event_shape] -> [batch] nats."""
        self._ensure_built()
        return self.distribution().free_energy(self.validate_input(v, "v"))

    def call(self, v, training=False):
        return self.free_energy(v)

    @property
    def enumerable(self):
        """Whether exact log Z by enumeration is affordable (min layer <= 20 units)."""
        return min(self.num_dims, self.num_hidden) <= EXACT_LIMIT

    # -------------------------------------------------------- partition function
    def log_partition(self, method="auto", num_runs=100, num_betas=10000, seed=0, verbose=0):
        """Estimates log Z, stores it (used by `log_prob` and the exports) and returns it.

        Arguments:
          method: "exact" (enumeration), "ais" (Salakhutdinov & Murray 2008,
            from the base-rate model of the training data's marginals), or
            "auto" (exact when affordable, else AIS).
          num_runs, num_betas: AIS parallel runs and temperatures.
          seed: AIS seed (int).
          verbose: progress bar for long AIS runs.
        Returns:
          (log_z, stderr) as Python floats (stderr 0 for exact).
        """
        self._ensure_built()
        if method == "auto":
            method = "exact" if self.enumerable else "ais"
        if method == "exact":
            log_z, stderr = float(self._exact_log_normalizer()), 0.0
        elif method == "ais":
            result = ais_log_partition(
                self._annealing_path(), num_runs=num_runs, betas=num_betas, seed=seed, verbose=verbose,
            )
            log_z, stderr = float(result.log_z), float(result.stderr)
        else:
            raise ValueError(f"expected method 'auto', 'exact' or 'ais', got {method!r}")
        self.log_z.assign(log_z)
        self.log_z_stderr.assign(stderr)
        return log_z, stderr

    def _exact_log_normalizer(self):
        return self.distribution().exact_log_normalizer()

    def _annealing_path(self):
        """The AIS path to this model from the base-rate model of the data."""
        return self.distribution().annealing_path(self.base_logits())

    def _current_log_z(self):
        if math.isnan(float(tf.convert_to_tensor(self.log_z))):
            if not self.enumerable:
                raise ValueError(
                    f"{type(self).__name__}.log_prob needs log Z: call model.log_partition() (AIS) first "
                    "(it is reset by training)"
                )
            self.log_partition("exact")
        return self.log_z

    def log_prob(self, v):
        """log p(v) = -F(v) - log Z with the stored log Z (computed exactly first
        if it is unset and the model is small). v: [batch, *event_shape] -> [batch]."""
        self._ensure_built()
        v = self.validate_input(v, "v")
        return self.distribution(log_normalizer=self._current_log_z()).log_prob(v)

    # --------------------------------------------------------------- sampling
    def sample(self, n, *, seed=None, num_steps=None):
        """n samples by block Gibbs chains of `num_steps` sweeps (default
        `sampling_steps`), started from the training data's base rates.
        -> [n, *event_shape]; a fixed int `seed` repeats the samples."""
        self._ensure_built()
        if self._sample_function is None:
            self._sample_function = tf.function(
                lambda n, steps, seed: self.distribution(num_steps=steps).sample(n, seed=seed)
            )
        steps = self.sampling_steps if num_steps is None else int(num_steps)
        return self._sample_function(tf.constant(int(n)), tf.constant(steps), as_seed(seed))

    # --------------------------------------------------------------- training
    def compile(self, optimizer=None, jit_compile=None, **kwargs):
        """Default optimizer: `make_optimizer()`, plain SGD at `learning_rate` (momentum is the model's)."""
        if optimizer is None:
            optimizer = self.make_optimizer()
        super().compile(optimizer=optimizer, jit_compile=jit_compile, **kwargs)

    def make_optimizer(self, learning_rate=None, *, epochs=None, steps_per_epoch=None, player=None):
        """SGD (Hinton's recipe; momentum is the model's) at `learning_rate`,
        or at the model's own `learning_rate` when None. Given the training's
        `epochs` and `steps_per_epoch`, a model with `constant_step_epochs`
        not None holds the step for that many epochs, then decays it to zero
        by a cosine (`keras.optimizers.schedules.CosineDecay`)."""
        rate = self.learning_rate if learning_rate is None else float(learning_rate)
        hold = self.constant_step_epochs(epochs) if epochs and steps_per_epoch else None
        if hold is None or hold >= epochs:
            return keras.optimizers.SGD(rate)
        schedule = keras.optimizers.schedules.CosineDecay(
            rate, (epochs - hold) * steps_per_epoch, warmup_target=rate, warmup_steps=hold * steps_per_epoch)
        return keras.optimizers.SGD(schedule)

    def constant_step_epochs(self, epochs):
        """Epochs at a constant step before `make_optimizer`'s decay, or None
        for no decay: 0 with persistent chains and `decay_step` (override)."""
        return 0 if self.persistent and self.decay_step else None

    @property
    def metrics(self):
        return [self._free_energy_tracker, self._reconstruction_tracker]

    #: Factor on the CD term of the surrogate loss (convolutional RBMs divide
    #: by the number of hidden positions sharing each filter).
    cd_loss_scale = 1.0

    def _coupling_weights(self):
        return []

    def _hidden_input(self, flat):
        raise NotImplementedError

    def negative_phase(self, flat, seed):
        """Negative samples: `cd_steps` Gibbs sweeps from the data (CD-k) or from
        the persistent chains (PCD, which are then advanced). -> [n, V]."""
        distribution = self.distribution()
        start = self.chains if self.persistent else flat
        negative = run_chain(distribution.gibbs_step, tf.convert_to_tensor(start), self.cd_steps, seed)
        if self.persistent:
            self.chains.assign(negative)
        return tf.stop_gradient(negative)

    def penalties(self, flat):
        """Weight decay (guide Sec. 10) and the sparsity term (Sec. 11) of the surrogate loss."""
        total = 0.0
        if self.weight_decay:
            total += 0.5 * self.weight_decay * tf.add_n([tf.reduce_sum(tf.square(w)) for w in self._coupling_weights()])
        if self.hidden_activity is not None:
            total_input = self._hidden_input(flat)
            q = 0.9 * self.hidden_activity + 0.1 * tf.reduce_mean(tf.sigmoid(tf.stop_gradient(total_input)), 0)
            self.hidden_activity.assign(q)
            total += self.sparsity_cost * tf.reduce_sum(
                tf.stop_gradient(q - self.sparsity_target) * tf.reduce_mean(total_input, 0)
            )
        return total

    def apply_smoothed_gradients(self, gradients, variables, masks=None):
        """u <- momentum u + g; the optimizer steps along u (guide Sec. 9).

        `masks` (one 0/1 scalar per variable) freezes variables outright,
        velocity included (the layers not being trained in greedy stacking)."""
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        smoothed = []
        masks = [None] * len(variables) if masks is None else masks
        for gradient, velocity, mask in zip(gradients, self.velocities, masks):
            gradient = tf.zeros_like(velocity) if gradient is None else gradient / replicas
            if self.momentum:
                gradient = self.momentum * velocity + gradient
            if mask is not None:
                gradient = mask * gradient
            if self.momentum:
                velocity.assign(gradient)
            smoothed.append(gradient)
        self.optimizer.apply_gradients(zip(smoothed, variables))

    def train_step(self, data):
        x, _ = self.unpack(data)
        flat = self._flat(self.validate_input(x))
        self._track_data_mean(flat)
        gradients, positive_energy, reconstruction = self.contrastive_gradients(flat, self._next_seed())
        self.apply_smoothed_gradients(gradients, self.trainable_variables)
        self.log_z.assign(float("nan"))  # the stored estimate is stale now
        return self._update_metrics(flat, positive_energy, reconstruction)

    def contrastive_gradients(self, flat, seed):
        """The CD-k / PCD gradient of the surrogate loss (module docstring) by autodiff.

        -> (gradients aligned with `trainable_variables`, F of the data [n],
        the reconstruction of the data for the metric [n, V])."""
        negative = self.negative_phase(flat, seed)
        batch = tf.shape(flat)[0]
        with tf.GradientTape() as tape:
            distribution = self.distribution()
            # Data and negatives in one stack: one product each way instead of
            # two half-height ones.
            energies = distribution.flat_free_energy(tf.concat([flat, negative], 0))
            positive_energy = energies[:batch]
            # CD-k: d/dtheta of this is -(<dE/dtheta>_data - <dE/dtheta>_negatives) (Hinton 2002, eq. 5).
            loss = tf.reduce_mean(positive_energy) - tf.reduce_mean(energies[batch:])
            loss = self.cd_loss_scale * loss + self.penalties(flat)
        # Before the update, like the loss: under XLA, flat @ W is then shared
        # with the first Gibbs sweep of CD-k (not with the stacked free energy).
        reconstruction = self.reconstruction(flat)
        return tape.gradient(loss, self.trainable_variables), positive_energy, reconstruction

    def reconstruction(self, flat):
        """Mean-field one-step reconstruction E[v | h = p(h|v)] (override). [n, V] -> [n, V]."""
        raise NotImplementedError

    def _update_metrics(self, flat, free_energy, reconstruction=None):
        """Tracks the free energy and the squared error of `reconstruction`
        (default: `self.reconstruction(flat)`) on a batch."""
        self._free_energy_tracker.update_state(free_energy)
        reconstruction = self.reconstruction(flat) if reconstruction is None else reconstruction
        self._reconstruction_tracker.update_state(tf.reduce_sum(tf.square(flat - reconstruction), -1))
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, _ = self.unpack(data)
        flat = self._flat(self.validate_input(x))
        return self._update_metrics(flat, self.distribution().flat_free_energy(flat))

    # ------------------------------------------------------------- evaluation
    def evaluate_nll(self, dataset, verbose=1, ais_runs=100, ais_betas=10000, seed=0):
        """Test NLL with log Z from AIS (Salakhutdinov & Murray 2008).

        Returns:
          dict: `nll_nats`, `bits_per_dim` (data space), `model_space_nll_nats`,
          `log_z`, `log_z_stderr` (the NLL's standard error: log Z is its only
          estimated term), `log_z_exact` when the model is enumerable,
          `ais_runs`, `ais_betas`, `num_examples`.
        """
        self._ensure_built()
        log_z, stderr = self.log_partition("ais", num_runs=ais_runs, num_betas=ais_betas, seed=seed, verbose=verbose)
        totals = self._dataset_nll(dataset)
        results = {
            "nll_nats": totals["data_nll"],
            "bits_per_dim": totals["data_nll"] / (self.num_dims * math.log(2.0)),
            "model_space_nll_nats": totals["nll"],
            "log_z": log_z,
            "log_z_stderr": stderr,
            "ais_runs": int(ais_runs),
            "ais_betas": int(ais_betas),
            "num_examples": totals["count"],
        }
        if self.enumerable:
            results["log_z_exact"] = float(self._exact_log_normalizer())
        return results

    def _dataset_nll(self, dataset):
        nll = data_nll = count = 0.0
        for batch in dataset:
            x, _ = self.unpack(batch)
            x = self.validate_input(x)
            log_prob = self.log_prob(x)
            nll += float(tf.reduce_sum(-log_prob))
            data_nll += float(tf.reduce_sum(-self.data_transform.data_space_log_prob(log_prob, x)))
            count += int(x.shape[0])
        if not count:
            raise ValueError("expected a non-empty evaluation dataset")
        return {"nll": nll / count, "data_nll": data_nll / count, "count": int(count)}

    # ----------------------------------------------------------------- export
    def export_signatures(self):
        """`log_prob` (with the stored log Z; estimated first if unset), `sample`
        (Gibbs, `sampling_steps` sweeps, seeded) and `features` (p(h|v))."""
        if math.isnan(float(tf.convert_to_tensor(self.log_z))):
            self.log_partition("auto")
        event = [None, *self.event_shape]
        steps = self.sampling_steps
        return {
            "log_prob": (
                lambda x: {"log_prob": self.distribution(log_normalizer=self.log_z).log_prob(x)},
                [tf.TensorSpec(event, tf.float32, name="x")],
            ),
            "sample": (
                lambda n, seed: {"samples": self.distribution(num_steps=steps).sample(n, seed=as_seed(seed))},
                [tf.TensorSpec([], tf.int32, name="n"), tf.TensorSpec([], tf.int32, name="seed")],
            ),
            "features": (
                lambda x: {"features": self.features(x)},
                [tf.TensorSpec(event, tf.float32, name="x")],
            ),
        }


def _bernoulli_initializer(shape, dtype=None):
    return tf.cast(tf.random.uniform(shape) < 0.5, dtype or tf.float32)


def _positive_int(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"expected {what} as a positive int, got {value!r}")
    return int(value)
