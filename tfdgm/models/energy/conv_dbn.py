"""The convolutional deep belief net: greedily stacked convolutional RBMs with probabilistic max-pooling."""

import keras
import numpy as np
import tensorflow as tf

from tfdgm.distributions.conv_rbm import (
    MAX_ENUMERATED_STATES,
    ConvRBMDistribution,
    hidden_shape,
    sample_hidden_given_pooling,
)
from tfdgm import rng
from tfdgm.distributions.gibbs import run_chain, split_seed
from tfdgm.models.base import as_seed
from tfdgm.models.energy.base import EnergyModel
from tfdgm.models.energy.conv_rbm import (
    ConvRBM,
    _as_size,
    contrastive_gradients,
    default_learning_rate,
    initial_hidden_bias,
)
from tfdgm.models.energy.dbn import LayerStack

__all__ = ["ConvDBN"]


def _per_layer(value, num_layers, what, convert):
    values = list(value) if isinstance(value, (list, tuple)) else [value] * num_layers
    if len(values) != num_layers:
        raise ValueError(f"expected {what} as one value or {num_layers} (one per layer), got {value!r}")
    return [convert(v) for v in values]


class ConvDBN(LayerStack, EnergyModel):
    """Convolutional DBN (Lee et al. 2009, Sec. 3.4): a stack of `ConvRBM` layers.

    Layer 1 models the images; layer l + 1 models the pooling-unit
    posteriors P(p_l = 1 | below) of layer l as binary visibles (probabilities
    passed up, mean field). Training is greedy inside one `fit`: the epochs are
    split over the layers (`epochs_per_layer`, or evenly) by the `LayerSchedule`
    callback shared with `DBN`, and only the layer being trained moves (CD-k on
    its free energy divided by its hidden positions, the paper's sparsity term
    on its group biases, weight decay on its filters).

    A layer whose filters are as large as the pooled maps below it (1 x 1
    hidden maps, `pool_size` 1) is a dense RBM over every unit below, with one
    visible bias per unit (`is_dense`): as the top layer it is the DBN's
    associative memory (Hinton, Osindero & Teh 2006, Sec. 4), whose hidden
    units see the whole image and so can hold its global shape, which
    convolutional layers with small filters do not (their samples are local
    texture).

    Sampling (`sample`): block Gibbs in the top ConvRBM over the pooling units
    of the layer below (from the top RBM's base rates, or from the pooling
    units of given images, `start`), then a sampled down pass: in each lower
    layer the detection units are drawn given the pooling units (an on-block
    gets exactly one unit on, an off-block none), refined by `down_steps`
    Gibbs sweeps of that layer's RBM with its pooling units clamped, and the
    layer's visibles are drawn from p(v | h); the images returned are the
    mean E[v | h] of the first layer (grey levels, not a binary draw). A
    ConvDBN has no tractable likelihood here (`log_prob` raises);
    `log_partition` refers to the top RBM.

    References:
      Lee, Grosse, Ranganath & Ng, "Convolutional deep belief networks for
      scalable unsupervised learning of hierarchical representations", ICML
      2009 (Sec. 3.4-3.5; natural images: 24 bases of 10 x 10, then 100 of
      10 x 10, pooling 2, sparsity regularization in every layer).
      Hinton, Osindero & Teh, "A fast learning algorithm for deep belief
      nets", Neural Computation 2006 (greedy stacking; the undirected top
      layer as an associative memory, Sec. 4).

    Arguments:
      image_shape: (H, W, C) (alias `event_shape`).
      num_filters: groups K_l per layer, e.g. `(24, 40)`.
      filter_size: one per layer (int or (h, w)); each layer's hidden maps
        must be multiples of its pool size.
      pool_size: C_l per layer.
      visible: "binary" or "gaussian" (first layer; higher layers are binary).
      epochs_per_layer: epochs of each lower layer (the top trains for the
        rest); None splits the `fit` epochs evenly.
      down_steps: clamped Gibbs sweeps per lower layer in the down pass.
      sparsity_target: one value or one per layer (None disables).
      learning_rate: the CD step, one value or one per layer (a dense top
        layer over hundreds of units needs a smaller step than the
        per-position step of a convolutional one); by default the first
        layer's is chosen by its visibles (`default_learning_rate`) and the
        binary layers above it take the binary default.
      initial_filter_scale: standard deviation of every layer's filters at start.
      other arguments: see `ConvRBM` / `EnergyModel` (PCD is not supported).
    """

    data_kind = "binary"

    #: `compile()` leaves XLA off: the step compiles (`jit_compile=True`), but
    #: XLA's CPU convolutions run it many times slower than TensorFlow's own.
    supports_xla = False

    def __init__(self, image_shape=None, num_filters=(24, 40), filter_size=(9, 5), pool_size=(2, 2),
                 visible="binary", epochs_per_layer=None, down_steps=5, cd_steps=1, sparsity_target=0.02,
                 sparsity_cost=1.0, learning_rate=None, momentum=0.5, weight_decay=1e-3, initial_filter_scale=0.1,
                 event_shape=None, **kwargs):
        shape = image_shape if image_shape is not None else event_shape
        shape = (28, 28, 1) if shape is None else tuple(int(d) for d in shape)
        if len(shape) != 3:
            raise ValueError(f"expected image_shape (height, width, channels), got {shape!r}")
        if visible not in ("binary", "gaussian"):
            raise ValueError(f"expected visible 'binary' or 'gaussian', got {visible!r}")
        if kwargs.get("persistent"):
            raise ValueError("ConvDBN trains each layer by CD-k; persistent=True is not supported")
        widths = _per_layer(num_filters, len(num_filters) if isinstance(num_filters, (list, tuple)) else 1,
                            "num_filters", int)
        if not widths or min(widths) < 1:
            raise ValueError(f"expected num_filters as positive ints, got {num_filters!r}")
        num_layers = len(widths)
        if learning_rate is None:  # by the first layer's visibles; the layers above it are binary
            learning_rate = default_learning_rate(visible)
            if learning_rate != default_learning_rate("binary") and num_layers > 1:
                learning_rate = [learning_rate] + [default_learning_rate("binary")] * (num_layers - 1)
        rates = _per_layer(learning_rate, num_layers, "learning_rate", float)
        if min(rates) <= 0:
            raise ValueError(f"expected positive learning rates, got {learning_rate!r}")
        targets = _per_layer(sparsity_target, num_layers, "sparsity_target",
                             lambda t: None if t is None else float(t))
        for target in targets:
            if target is not None and not 0.0 < target < 1.0:
                raise ValueError(f"expected sparsity_target in (0, 1) or None, got {sparsity_target!r}")
        super().__init__(event_shape=shape, num_hidden=widths, cd_steps=cd_steps, sparsity_target=None,
                         sparsity_cost=sparsity_cost, learning_rate=rates[0], momentum=momentum,
                         weight_decay=weight_decay, **kwargs)
        self.sparsity_target = sparsity_target if not isinstance(sparsity_target, tuple) else list(sparsity_target)
        self.sparsity_targets = targets
        self.learning_rates = rates
        self.learning_rate_config = list(rates) if isinstance(learning_rate, (list, tuple)) else rates[0]
        self.initial_filter_scale = float(initial_filter_scale)
        self.num_filters = widths
        self.filter_sizes = _per_layer(filter_size, num_layers, "filter_size", lambda f: _as_size(f, "filter_size"))
        self.pool_sizes = _per_layer(pool_size, num_layers, "pool_size", lambda c: _as_size(c, "pool_size")[0])
        self.visible = visible
        self.epochs_per_layer = None if epochs_per_layer is None else int(epochs_per_layer)
        self.down_steps = int(down_steps)
        if self.down_steps < 0:
            raise ValueError(f"expected down_steps >= 0, got {down_steps!r}")
        self.input_shapes, self.hidden_shapes = [], []
        current = shape
        for layer in range(num_layers):
            hidden = hidden_shape(current, self.filter_sizes[layer], self.pool_sizes[layer], widths[layer])
            self.input_shapes.append(current)
            self.hidden_shapes.append(hidden)
            pool = self.pool_sizes[layer]
            current = (hidden[0] // pool, hidden[1] // pool, widths[layer])
        self.pooled_shapes = self.input_shapes[1:] + [current]
        self._down_sample_function = None

    @classmethod
    def data_kind_for(cls, params=None):
        """Binary data for binary visibles, real values for Gaussian ones."""
        return "continuous" if (params or {}).get("visible", "binary") == "gaussian" else "binary"

    def hyperparameters(self):
        config = super().hyperparameters()
        del config["num_hidden"], config["persistent"], config["num_chains"]
        return {**config, "num_filters": list(self.num_filters), "filter_size": [list(f) for f in self.filter_sizes],
                "pool_size": list(self.pool_sizes), "visible": self.visible,
                "epochs_per_layer": self.epochs_per_layer, "down_steps": self.down_steps,
                "initial_filter_scale": self.initial_filter_scale,
                "sparsity_target": self.sparsity_target, "learning_rate": self.learning_rate_config}

    @classmethod
    def default_hyperparameters(cls, info):
        """28 x 28 images: 24 bases of 9 x 9 then 40 of 5 x 5, pooling 2 each
        (20 -> 10 -> 6 -> 3), then a dense top RBM of 400 hidden units over the
        3 x 3 x 40 pooled units (3 x 3 filters, no pooling, no sparsity
        target), whose samples hold garment shapes where a convolutional top
        layer's held texture. Digits 8 x 8: 24 bases of 3 x 3 without pooling
        (6 x 6 maps; pooling them by 2 leaves a 3 x 3 grid, too coarse to tell
        the digits apart: the pooled features fell below the pixels), then
        40 of 3 x 3 pooled by 2 (4 -> 2), sparsity target 0.05 in both (a
        dense top over the 2 x 2 x 40 pooled units learned hidden units that
        do not depend on the input: those units vary too little between
        digits)."""
        if int(info.event_shape[0]) >= 20:
            return {"num_filters": [24, 40, 400], "filter_size": [9, 5, 3], "pool_size": [2, 2, 1],
                    "sparsity_target": [0.02, 0.02, None]}
        return {"num_filters": [24, 40], "filter_size": [3, 3], "pool_size": [1, 2], "sparsity_target": [0.05, 0.05]}

    @classmethod
    def default_preprocess(cls, info, params=None):
        return ConvRBM.default_preprocess(info, params=params)

    # ---------------------------------------------------------------- weights
    def build(self, input_shape=None):
        self.layer_filters_, self.hidden_biases, self.visible_biases = [], [], []
        for layer, (shape, groups) in enumerate(zip(self.input_shapes, self.num_filters)):
            filter_h, filter_w = self.filter_sizes[layer]
            self.layer_filters_.append(self.add_weight(
                name=f"filters_{layer + 1}", shape=(filter_h, filter_w, shape[2], groups),
                initializer=keras.initializers.RandomNormal(stddev=self.initial_filter_scale)))
            start = initial_hidden_bias(self.sparsity_targets[layer], self.pool_sizes[layer])
            self.hidden_biases.append(self.add_weight(name=f"hidden_bias_{layer + 1}", shape=(groups,),
                                                      initializer=keras.initializers.Constant(start)))
            self.visible_biases.append(self.add_weight(
                name=f"visible_bias_{layer + 1}", shape=shape if self.is_dense(layer) else (shape[2],),
                initializer="zeros"))
        self.stage = self.add_weight(name="stage", shape=(), initializer="zeros", trainable=False)
        top_size = int(np.prod(self.input_shapes[-1]))
        self.top_input_mean = self.add_weight(name="top_input_mean", shape=(top_size,),
                                              initializer=keras.initializers.Constant(0.5), trainable=False)
        self.top_input_count = self.add_weight(name="top_input_count", shape=(), initializer="zeros",
                                               trainable=False)
        self.layer_activity = [
            None if target is None else self.add_weight(
                name=f"hidden_activity_{layer + 1}", shape=(groups,),
                initializer=keras.initializers.Constant(target), trainable=False)
            for layer, (target, groups) in enumerate(zip(self.sparsity_targets, self.num_filters))
        ]
        self._build_energy_state(num_hidden_for_sparsity=0)
        self.built = True

    def is_dense(self, layer):
        """Whether layer `layer`'s filters span its whole input (1 x 1 hidden
        maps): a dense RBM over every unit below, with one visible bias per unit."""
        return tuple(self.hidden_shapes[self._layer_index(layer)][:2]) == (1, 1)

    def _layer_index(self, layer):
        if not -self.num_layers <= layer < self.num_layers:
            raise ValueError(f"expected layer in [-{self.num_layers}, {self.num_layers}), got {layer}")
        return layer % self.num_layers

    def _layer_variables(self, layer):
        return [self.layer_filters_[layer], self.hidden_biases[layer], self.visible_biases[layer]]

    def set_stage_for_epoch(self, epoch, total_epochs):
        """The layer trained in `epoch` (0-based) of `total_epochs` (greedy)."""
        self.stage.assign(float(self.greedy_stage(epoch, total_epochs)))

    # ---------------------------------------------------------------- layers
    def layer_distribution(self, layer, log_normalizer=None, num_steps=None):
        """The `ConvRBMDistribution` of one layer (list indexing: 0 first, -1 top)."""
        layer = self._layer_index(layer)
        initial_logits = None
        if layer == 0 and self.visible == "binary":
            initial_logits = self.base_logits()
        elif layer > 0:
            mean = tf.clip_by_value(self.top_input_mean, 1e-3, 1 - 1e-3) if layer == self.num_layers - 1 else None
            initial_logits = None if mean is None else tf.math.log(mean) - tf.math.log1p(-mean)
        return ConvRBMDistribution(
            self.layer_filters_[layer], self.hidden_biases[layer], self.visible_biases[layer],
            self.input_shapes[layer], pool_size=self.pool_sizes[layer],
            visible=self.visible if layer == 0 else "binary", log_normalizer=log_normalizer,
            num_steps=self.sampling_steps if num_steps is None else num_steps, initial_logits=initial_logits,
        )

    def distribution(self, log_normalizer=None, num_steps=None):
        """The top layer's `ConvRBMDistribution` (over the pooling units below it)."""
        return self.layer_distribution(-1, log_normalizer=log_normalizer, num_steps=num_steps)

    def _up(self, images, layers):
        """Pooling-unit posteriors of the first `layers` layers (mean field). -> list."""
        pooled, x = [], images
        for layer in range(layers):
            x = self.layer_distribution(layer).pooling_probs(x)
            pooled.append(x)
        return pooled

    def features(self, v, layer=-1):
        """P(p_l = 1 | v) of layer `layer` by a mean-field up pass (probabilities
        fed upwards). v: [n, H, W, C] -> [n, *pooled_shape of that layer]."""
        self._ensure_built()
        layer = self._layer_index(layer)
        return self._up(self.validate_input(v, "v"), layer + 1)[-1]

    def hidden_probs(self, v, layer=-1):
        """Detection-unit posteriors P(h_l = 1 | below) of layer `layer`. -> [n, H'_l, W'_l, K_l]."""
        self._ensure_built()
        layer = self._layer_index(layer)
        below = self._up(self.validate_input(v, "v"), layer)
        x = below[-1] if below else self.validate_input(v, "v")
        return self.layer_distribution(layer).hidden_probs(x)

    def layer_filters(self, layer):
        """Filters of layer `layer`: [filter_h, filter_w, C_in, K] (list indexing)."""
        self._ensure_built()
        return tf.convert_to_tensor(self.layer_filters_[self._layer_index(layer)])

    def pictures(self):
        """`filters_layer1` (the first layer's filters) and `filters_layer2`
        (the second layer's as weighted combinations of the first's)."""
        from tfdgm.visualize import conv_filter_grid, second_layer_receptive_fields

        if self.event_shape[2] not in (1, 3):
            return {}
        first = self.layer_filters(0).numpy()
        pictures = {"filters_layer1": conv_filter_grid(first)}
        if self.num_layers > 1:
            fields = second_layer_receptive_fields(first, self.layer_filters(1).numpy(), self.pool_sizes[0])
            pictures["filters_layer2"] = conv_filter_grid(fields)
        return pictures

    def free_energy(self, v):
        """Not defined for a DBN (a directed stack under an RBM); raises."""
        raise ValueError("a ConvDBN has no free energy over v; use layer_distribution(l).free_energy for one layer")

    def log_prob(self, v):
        raise ValueError("a ConvDBN has no tractable log_prob (no variational bound is implemented for it); "
                         "use a ConvRBM for likelihoods")

    def call(self, v, training=False):
        return self.features(v)

    @property
    def enumerable(self):
        shape, pool = self.hidden_shapes[-1], self.pool_sizes[-1]
        blocks = int(np.prod(shape)) // pool**2
        return (pool**2 + 1) ** min(blocks, 64) <= MAX_ENUMERATED_STATES or 2 ** min(
            int(np.prod(self.input_shapes[-1])), 64) <= MAX_ENUMERATED_STATES

    def _exact_log_normalizer(self):
        return self.distribution().exact_log_normalizer()

    def _annealing_path(self):
        """AIS for the top ConvRBM, from the base rates of its input."""
        return self.distribution().annealing_path()

    # --------------------------------------------------------------- sampling
    def _down(self, layer, pooling, seed, mean=False):
        """Visibles of `layer` given its pooling units (see the class docstring);
        `mean`: E[v | h] at the last hidden draw instead of a draw of v."""
        distribution = self.layer_distribution(layer)
        pool = self.pool_sizes[layer]
        start_seed, chain_seed, visible_seed = tf.unstack(split_seed(seed, 3))
        n = tf.shape(pooling)[0]
        h = sample_hidden_given_pooling(tf.zeros(tf.concat([[n], self.hidden_shapes[layer]], 0)), pooling, pool,
                                        start_seed)

        def sweep(h, step_seed):
            v_seed, h_seed = tf.unstack(split_seed(step_seed, 2))
            v = distribution.sample_visible(h, v_seed)
            return sample_hidden_given_pooling(distribution.hidden_input(v), pooling, pool, h_seed)

        h = run_chain(sweep, h, self.down_steps, chain_seed)
        return distribution.visible_mean(h) if mean else distribution.sample_visible(h, visible_seed)

    def _sample(self, n, num_steps, seed, start=None):
        seed = as_seed(seed)
        top_seed, down_seed = tf.unstack(split_seed(seed, 2))
        top = self.layer_distribution(-1, num_steps=num_steps)
        if start is None:
            x = top.sample(n, seed=top_seed)
        else:  # the pooling units below the top, drawn from their posterior given the images
            start_seed, chain_seed = tf.unstack(split_seed(top_seed, 2))
            below = self._up(start, self.num_layers - 1)
            x = below[-1] if below else start
            x = tf.reshape(x, [tf.shape(x)[0], -1])
            if below:
                x = tf.cast(rng.uniform(tf.shape(x), start_seed) < x, tf.float32)
            x = tf.reshape(run_chain(top.gibbs_step, x, num_steps, chain_seed), [-1, *self.input_shapes[-1]])
        seeds = tf.unstack(split_seed(down_seed, max(2, self.num_layers)))
        for layer in range(self.num_layers - 2, -1, -1):
            x = self._down(layer, x, seeds[layer], mean=layer == 0)
        return x

    def sample(self, n, *, seed=None, num_steps=None, start=None):
        """`num_steps` Gibbs sweeps in the top ConvRBM (default `sampling_steps`),
        then the sampled down pass, returning the first layer's E[v | h] (a
        one-layer stack returns its chain's binary or Gaussian visibles).

        Arguments:
          n: number of samples (ignored with `start`, one per image).
          seed: int or stateless `[2]` seed; a fixed seed repeats.
          num_steps: top-layer Gibbs sweeps.
          start: optional images [m, H, W, C]: the top chain starts at a draw
            of the pooling units below the top given each image (mean-field up
            pass) instead of at the top RBM's base rates.
        Returns:
          [n (or m), H, W, C].
        """
        self._ensure_built()
        steps = self.sampling_steps if num_steps is None else int(num_steps)
        if start is not None:
            start = self.validate_input(start, "start")
            return tf.function(self._sample)(tf.constant(int(start.shape[0])), tf.constant(steps), as_seed(seed),
                                             start)
        if self._down_sample_function is None:
            self._down_sample_function = tf.function(self._sample)
        return self._down_sample_function(tf.constant(int(n)), tf.constant(steps), as_seed(seed))

    # --------------------------------------------------------------- training
    def reconstruction(self, flat):
        distribution = self.layer_distribution(0)
        return tf.reshape(distribution.visible_mean(distribution.hidden_probs(flat)), [-1, self.num_dims])

    def _layer_step(self, layer, images, seed):
        """CD-k gradients of layer `layer` on the pooling posteriors from below."""
        x = images
        for below in range(layer):
            x = self.layer_distribution(below).pooling_probs(x)
        flat = tf.reshape(x, [tf.shape(x)[0], -1])
        if layer == self.num_layers - 1:
            batch = tf.cast(tf.shape(flat)[0], tf.float32)
            count = self.top_input_count + batch
            self.top_input_mean.assign_add((tf.reduce_sum(flat, 0) - batch * self.top_input_mean) / count)
            self.top_input_count.assign(count)
        distribution = self.layer_distribution(layer)
        activity = self.layer_activity[layer]
        gradients, q, stats = contrastive_gradients(distribution, flat, seed, self.cd_steps, self.weight_decay,
                                                None if activity is None else self.sparsity_targets[layer],
                                                self.sparsity_cost)
        if q is not None:
            activity.assign(q)
        ratio = self.learning_rates[layer] / self.learning_rates[0]  # the optimizer steps at the first layer's rate
        if ratio != 1.0:
            gradients = [ratio * gradient for gradient in gradients]
        return self._full_gradients(layer, gradients), tf.reduce_mean(stats.free_energy)

    def train_step(self, data):
        x, _ = self.unpack(data)
        images = self.validate_input(x)
        return self._greedy_train_step(images, self._flat(images))

    def test_step(self, data):
        x, _ = self.unpack(data)
        flat = self._flat(self.validate_input(x))
        return self._update_metrics(flat, self.layer_distribution(0).flat_free_energy(flat))

    # ------------------------------------------------------------- evaluation
    def evaluation(self, dataset, verbose=1, **options):
        """No likelihood: the first layer's mean free energy and one-step
        reconstruction error on `dataset` (`likelihood: none` says so)."""
        options = {k: v for k, v in options.items() if v is not None}
        if options:
            raise ValueError(f"ConvDBN reports no likelihood and takes no evaluation options, got {sorted(options)}")
        results = self.evaluate(dataset, verbose=verbose, return_dict=True)
        return {"free_energy_layer1": float(results["free_energy"]),
                "reconstruction_error": float(results["reconstruction_error"]), "likelihood": "none"}

    serving_default = "sample"  # no tractable log-likelihood to serve

    def export_signatures(self):
        """`sample` (seeded: top Gibbs for `sampling_steps`, then the down pass)
        and `features` (pooling posteriors of the top layer)."""
        event = [None, *self.event_shape]
        steps = self.sampling_steps
        return {
            "sample": (
                lambda n, seed: {"samples": self._sample(n, steps, seed)},
                [tf.TensorSpec([], tf.int32, name="n"), tf.TensorSpec([], tf.int32, name="seed")],
            ),
            "features": (
                lambda x: {"features": self.features(x)},
                [tf.TensorSpec(event, tf.float32, name="x")],
            ),
        }
