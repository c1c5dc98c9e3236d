"""The deep belief net: greedy layer-wise stacking of binary RBMs."""

import keras
import numpy as np
import tensorflow as tf

from tfdgm.distributions.dbn import DBNDistribution
from tfdgm.distributions.gibbs import run_chain
from tfdgm.distributions.rbm import rbm_free_energy, rbm_gibbs_sweep
from tfdgm.models.energy.base import EXACT_LIMIT, EnergyModel

__all__ = ["DBN", "LayerStack", "LayerSchedule"]


class LayerStack:
    """A stack of layers trained in stages (DBN, DBM): widths v, h1, ..., hL,
    and `fit` with a `LayerSchedule` callback that sets the stage of each
    epoch from the model's `set_stage_for_epoch`."""

    def fit(self, x=None, y=None, callbacks=None, **kwargs):
        callbacks = list(callbacks or [])
        if not any(isinstance(c, LayerSchedule) for c in callbacks):
            callbacks.insert(0, LayerSchedule())
        return super().fit(x, y, callbacks=callbacks, **kwargs)

    @property
    def num_layers(self):
        return len(self.num_hidden)

    def greedy_stage(self, epoch, total_epochs):
        """The layer trained greedily in `epoch` (0-based) of `total_epochs`:
        `epochs_per_layer` each for the lower layers (the top takes the rest),
        or the epochs split evenly when that is None."""
        epochs_per_layer = getattr(self, "epochs_per_layer", None)
        if epochs_per_layer is not None:
            layer = epoch // epochs_per_layer
        else:
            layer = epoch * self.num_layers // max(total_epochs, 1)
        return min(layer, self.num_layers - 1)

    @property
    def sizes(self):
        return [self.num_dims, *self.num_hidden]

    def _full_gradients(self, layer, gradients):
        """`gradients` of layer `layer` padded with zeros for every other layer's variables."""
        full = []
        for other in range(self.num_layers):
            full += gradients if other == layer else [tf.zeros_like(v) for v in self._layer_variables(other)]
        return full

    def _greedy_train_step(self, layer_input, flat):
        """One CD update of the layer the current `stage` trains (`_layer_step(layer,
        layer_input, seed)` -> (gradients of every layer, free energy)); the other
        layers' smoothed gradients are masked to zero. `flat`: [n, V] data."""
        self._track_data_mean(flat)
        seed = self._next_seed()
        stage = tf.cast(self.stage, tf.int32)
        branches = [lambda layer=layer: self._layer_step(layer, layer_input, seed) for layer in range(self.num_layers)]
        gradients, free_energy = tf.switch_case(stage, branches)
        variables, masks = [], []
        for layer in range(self.num_layers):
            for variable in self._layer_variables(layer):
                variables.append(variable)
                masks.append(tf.cast(tf.equal(stage, layer), tf.float32))
        self.apply_smoothed_gradients(gradients, variables, masks)
        self.log_z.assign(float("nan"))
        self._free_energy_tracker.update_state(free_energy)
        self._reconstruction_tracker.update_state(tf.reduce_sum(tf.square(flat - self.reconstruction(flat)), -1))
        return {m.name: m.result() for m in self.metrics}


class LayerSchedule(keras.callbacks.Callback):
    """Sets a staged model's training stage at each epoch start (greedy
    layer-wise training inside one `fit`, resumable: the stage is a function of
    the epoch, which `BackupAndRestore` restores)."""

    def on_epoch_begin(self, epoch, logs=None):
        self.model.set_stage_for_epoch(epoch, self.params.get("epochs") or epoch + 1)


def _as_widths(num_hidden):
    widths = [num_hidden] if isinstance(num_hidden, (int, np.integer)) else list(num_hidden)
    if not widths or not all(isinstance(w, (int, np.integer)) and w > 0 for w in widths):
        raise ValueError(f"expected num_hidden as a list of positive ints, got {num_hidden!r}")
    return [int(w) for w in widths]


class DBN(LayerStack, EnergyModel):
    """Deep belief net (Hinton, Osindero & Teh 2006).

    A stack of binary RBMs trained greedily: RBM l models the recognition
    probabilities q(h_{l-1}|v) of the layers below (guide Sec. 3.4: pass
    probabilities, not samples, upwards), by CD-k (or PCD with per-layer
    chains). Within one `fit` the epochs are split over the layers
    (`epochs_per_layer`, or evenly): a `LayerSchedule` callback sets the layer
    being trained, and only that layer's weights move. Sampling runs Gibbs in
    the top RBM, then one stochastic down pass; `log_prob` is the variational
    lower bound of Salakhutdinov & Murray 2008 (eq. 20) with log Z of the top
    RBM (its `distribution()` is a `DBNDistribution`).

    References:
      Hinton, Osindero & Teh, "A fast learning algorithm for deep belief
      nets", Neural Computation 2006.
      Salakhutdinov & Murray, "On the quantitative analysis of deep belief
      networks", ICML 2008.

    Arguments:
      event_shape: shape of one binary example.
      num_hidden: widths of the hidden layers, e.g. `[500, 500]`.
      epochs_per_layer: epochs of each lower layer (the top layer trains for
        the rest); None splits the `fit` epochs evenly.
      num_bound_samples: samples of q per example in `log_prob`.
      other arguments: see `EnergyModel` (they apply to every layer).
    """

    data_kind = "binary"

    def __init__(self, event_shape=(6,), num_hidden=(16, 16), epochs_per_layer=None, num_bound_samples=10,
                 **kwargs):
        super().__init__(event_shape=event_shape, num_hidden=_as_widths(num_hidden), **kwargs)
        self.epochs_per_layer = None if epochs_per_layer is None else int(epochs_per_layer)
        self.num_bound_samples = int(num_bound_samples)

    def hyperparameters(self):
        return {**super().hyperparameters(), "epochs_per_layer": self.epochs_per_layer,
                "num_bound_samples": self.num_bound_samples}

    @classmethod
    def default_hyperparameters(cls, info):
        return {"num_hidden": [500, 500] if int(np.prod(info.event_shape)) > 100 else [64, 64]}

    @property
    def enumerable(self):
        return min(self.sizes[-2:]) <= EXACT_LIMIT

    def build(self, input_shape=None):
        self.layer_weights, self.visible_biases, self.hidden_biases = [], [], []
        for layer, (rows, cols) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            self.layer_weights.append(self.add_weight(
                name=f"weights_{layer + 1}", shape=(rows, cols),
                initializer=keras.initializers.RandomNormal(stddev=0.01)))
            self.visible_biases.append(self.add_weight(name=f"visible_bias_{layer + 1}", shape=(rows,),
                                                       initializer="zeros"))
            self.hidden_biases.append(self.add_weight(name=f"hidden_bias_{layer + 1}", shape=(cols,),
                                                      initializer="zeros"))
        self.stage = self.add_weight(name="stage", shape=(), initializer="zeros", trainable=False)
        self.top_input_mean = self.add_weight(name="top_input_mean", shape=(self.sizes[-2],),
                                              initializer=keras.initializers.Constant(0.5), trainable=False)
        self.top_input_count = self.add_weight(name="top_input_count", shape=(), initializer="zeros",
                                               trainable=False)
        self._build_energy_state(num_hidden_for_sparsity=0)
        self.layer_chains = []
        if self.persistent:
            self.layer_chains = [
                self.add_weight(name=f"persistent_chains_{layer + 1}", shape=(self.num_chains, rows),
                                initializer=keras.initializers.Constant(0.0), trainable=False)
                for layer, rows in enumerate(self.sizes[:-1])
            ]
        self.built = True

    def _layer_variables(self, layer):
        return [self.layer_weights[layer], self.visible_biases[layer], self.hidden_biases[layer]]

    def set_stage_for_epoch(self, epoch, total_epochs):
        """The layer trained in `epoch` (0-based) of `total_epochs`."""
        self.stage.assign(float(self.greedy_stage(epoch, total_epochs)))

    # ---------------------------------------------------------------- model
    def distribution(self, log_normalizer=None, num_steps=None):
        mean = tf.clip_by_value(self.top_input_mean, 1e-3, 1 - 1e-3)
        return DBNDistribution(
            self.layer_weights, self.visible_biases, self.hidden_biases, event_shape=self.event_shape,
            log_normalizer=log_normalizer, num_steps=self.sampling_steps if num_steps is None else num_steps,
            top_initial_logits=tf.math.log(mean) - tf.math.log1p(-mean), num_bound_samples=self.num_bound_samples,
        )

    def features(self, v):
        flat = self._flat(self.validate_input(v, "v"))
        return self.distribution().up_pass(flat)[-1]

    def free_energy(self, v):
        """Not defined for a DBN (a directed stack); raises."""
        raise ValueError("a DBN has no free energy over v; use log_prob (a lower bound) or "
                         "distribution().top.free_energy for the top RBM")

    def call(self, v, training=False):
        return self.features(v)

    def _exact_log_normalizer(self):
        """log Z of the top RBM (the only normalizer of a DBN's bound)."""
        return self.distribution().top.exact_log_normalizer()

    def _annealing_path(self):
        """AIS for the top RBM, from the base rates of its input."""
        return self.distribution().top.annealing_path()

    def log_prob(self, v):
        """The variational LOWER BOUND on log p(v) (S&M 2008, eq. 20), estimated
        with `num_bound_samples` fixed-seed samples of q per example. -> [batch]."""
        self._ensure_built()
        v = self.validate_input(v, "v")
        return self.distribution(log_normalizer=self._current_log_z()).log_prob(v)

    def sample(self, n, *, seed=None, num_steps=None):
        """Gibbs in the top RBM for `num_steps` sweeps, then a down pass. -> [n, *event_shape]."""
        return super().sample(n, num_steps=num_steps, seed=seed)

    # ------------------------------------------------------------- training
    def reconstruction(self, flat):
        h = tf.sigmoid(self.hidden_biases[0] + flat @ self.layer_weights[0])
        return tf.sigmoid(self.visible_biases[0] + h @ tf.transpose(self.layer_weights[0]))

    def _layer_step(self, layer, flat, seed):
        """CD-k (or PCD) gradients of RBM `layer` on the probabilities from below."""
        x = flat
        for below in range(layer):
            x = tf.sigmoid(self.hidden_biases[below] + x @ self.layer_weights[below])
        weights, visible_bias, hidden_bias = self._layer_variables(layer)
        if layer == self.num_layers - 1:
            batch = tf.cast(tf.shape(x)[0], tf.float32)
            count = self.top_input_count + batch
            self.top_input_mean.assign_add((tf.reduce_sum(x, 0) - batch * self.top_input_mean) / count)
            self.top_input_count.assign(count)
        start = self.layer_chains[layer] if self.persistent else x
        negative = run_chain(lambda v, s: rbm_gibbs_sweep(v, weights, visible_bias, hidden_bias, s),
                             tf.convert_to_tensor(start), self.cd_steps, seed)
        if self.persistent:
            self.layer_chains[layer].assign(negative)
        negative = tf.stop_gradient(negative)
        variables = self._layer_variables(layer)
        with tf.GradientTape() as tape:
            positive = rbm_free_energy(x, weights, visible_bias, hidden_bias)
            loss = tf.reduce_mean(positive) - tf.reduce_mean(rbm_free_energy(negative, weights, visible_bias,
                                                                             hidden_bias))
            loss += 0.5 * self.weight_decay * tf.reduce_sum(tf.square(weights))
        return self._full_gradients(layer, tape.gradient(loss, variables)), tf.reduce_mean(positive)

    def train_step(self, data):
        x, _ = self.unpack(data)
        flat = self._flat(self.validate_input(x))
        return self._greedy_train_step(flat, flat)

    def test_step(self, data):
        x, _ = self.unpack(data)
        flat = self._flat(self.validate_input(x))
        free_energy = rbm_free_energy(flat, *self._layer_variables(0))
        return self._update_metrics(flat, free_energy)

    def evaluate_nll(self, dataset, verbose=1, ais_runs=100, ais_betas=10000, seed=0):
        """Test NLL bound: -(variational lower bound) with log Z_top by AIS, so
        `nll_nats` is an UPPER bound on the true NLL (in expectation)."""
        results = super().evaluate_nll(dataset, verbose=verbose, ais_runs=ais_runs, ais_betas=ais_betas, seed=seed)
        results["nll_is_upper_bound"] = True
        return results

    def export_signatures(self):
        signatures = super().export_signatures()
        signatures["log_prob"] = (
            lambda x: {"log_prob": self.distribution(log_normalizer=self.log_z).log_prob(x)},
            signatures["log_prob"][1],
        )
        return signatures

