"""The model protocols every tfdgm family builds on.

`GenerativeModel` holds what all families share (event shape, input checks,
the data-space transform for bits/dim, seeded sampling, replica-aware gradient
steps, export signatures). The explicit-density protocol `DensityModel`
(`tfdgm.models.density`) and the latent, energy-based and adversarial bases
build on it; how its train step is run (XLA, steps per compiled call) is
`tfdgm.models.execution`.

Keras 3 layers own every trainable weight; TFP objects (distributions,
bijectors) are built from those weights inside `distribution()` / `call`, on
every call, and are never stored on the model. Two consequences (docs/architecture.md,
"Known pitfalls", measured on TF 2.21 / Keras 3.15 / TFP 0.25):

* a TFP object kept on the model (or a `tf_keras` layer such as
  `tfb.AutoregressiveNetwork`) is invisible to `model.trainable_variables`;
* when Keras 3 meets an unbuilt model inside the first `fit` step it builds it
  by tracing `call` in a scratch graph (`Layer._maybe_build` ->
  `backend.compute_output_spec`). TFP bijectors cache tensors per input
  (`tfb.Bijector._cache`), so a bijector that survives that trace leaks a
  scratch-graph tensor into the real step: `InaccessibleTensorError: ...
  defined in FuncGraph(name=scratch_graph)`. tfdgm avoids it twice over:
  (1) every model implements `build(input_shape)` from shapes alone, so Keras
  never traces `call` to build it, and (2) bijectors are rebuilt per call, so
  no cache outlives the graph it was made in. `fit` on a freshly constructed
  model therefore just works (tested in tests/models/test_base.py).
"""

import math

import keras
import numpy as np
import tensorflow as tf

from tfdgm.data.arrays import array_batches, without_autotune
from tfdgm.distribute import reducible_logs
from tfdgm.models import domains
from tfdgm.models.execution import steps_per_call, xla_by_default
from tfdgm.precision import scaled_gradients
from tfdgm.rng import as_seed

__all__ = ["GenerativeModel", "as_seed"]


class GenerativeModel(keras.Model):
    """Base of every tfdgm model.

    Arguments:
      event_shape: shape of one example, e.g. `(2,)` or `(28, 28, 1)`.
      data_transform: the preprocessing that maps data space to model space
        (a `tfdgm.data.Preprocessing`, a spec string such as
        `"dequantize,scale,logit"`, or None for the identity). It is used only
        to report densities and bits/dim in the original data space.
      name: Keras model name.
    """

    #: One of "density", "latent", "energy", "adversarial"; selects the
    #: export signatures and the CLI's evaluation.
    family = None
    #: Whether the train step can be XLA-compiled (`jit_compile=True`).
    supports_xla = True
    #: The export signature TF Serving answers a request that names none
    #: with (`tfdgm.export.save` writes it as `serving_default`).
    serving_default = "log_prob"
    #: Class-conditional models: the number of classes (their labels are the
    #: context); None for models without class labels.
    num_classes = None
    #: Models conditioned on real vectors: the context's shape (F,); else None.
    context_shape = None

    def __init__(self, event_shape=(2,), data_transform=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        event_shape = tuple(int(d) for d in _as_shape(event_shape, "event_shape"))
        self.event_shape = event_shape
        self.event_ndims = len(event_shape)
        self.num_dims = int(np.prod(event_shape))
        from tfdgm.data.preprocess import parse_preprocessing  # local: data imports models lazily

        self.data_transform = parse_preprocessing(data_transform)

    # --------------------------------------------------------------- protocol
    # Every hook the CLI, run directories, callbacks and export call is
    # declared here with a default (docs/architecture.md, "The protocol"):
    # callers never probe a model with `hasattr` or its family's name.

    @property
    def conditioning(self):
        """What the second element of a `fit` batch is: None (ignored),
        "labels" (class labels) or "context" (context vectors)."""
        if self.context_shape is not None:
            return "context"
        return "labels" if self.num_classes is not None else None

    def sample(self, n, *, seed=None, **options):
        """Draws `n` examples in model space: -> [n, *event_shape].

        Arguments:
          n: number of samples.
          seed: int (stateless: the same seed gives the same samples) or None.
          **options: the family's sampling options, keyword-only (`context`,
            `temperature` for flows, `num_steps` for Gibbs chains, `mean` for
            latent models, ...).
        """
        raise NotImplementedError(f"{type(self).__name__} must implement sample()")

    def encode(self, x, **options):
        """x -> its latent code z (one tensor; flows: f^{-1}(x); latent
        models: the posterior mean; GANs with an encoder: Q(x))."""
        raise ValueError(f"{type(self).__name__} has no latent space to encode into")

    def decode(self, z, **options):
        """A latent code z -> the model-space example it stands for."""
        raise ValueError(f"{type(self).__name__} has no latent space to decode from")

    def interpolate(self, start=None, end=None, *, num_steps=8, method="linear", seed=None, **options):
        """Decoded points on a latent path, endpoints included: -> [num_steps, *event_shape].

        Arguments:
          start, end: examples [*event_shape] or [1, *event_shape] (encoded
            with `encode`) for models with an encoder; latent codes for
            generators without one; None draws the end from the prior with `seed`.
          num_steps: points on the path (>= 2).
          method: "linear" or "spherical" (slerp, `tfdgm.models.latent_tools`).
        """
        raise ValueError(f"{type(self).__name__} has no latent space to interpolate in")

    def make_optimizer(self, learning_rate=None, *, epochs=None, steps_per_epoch=None, player=None):
        """The optimizer `compile()` and the CLI use by default (override per family).

        Default: Adam at `learning_rate` (1e-3 when None). `epochs` and
        `steps_per_epoch` describe the training, for families whose step
        follows a schedule (energy models with persistent chains); `player`
        names one of several optimizers ("generator", "discriminator" for GANs).
        """
        return keras.optimizers.Adam(1e-3 if learning_rate is None else learning_rate)

    def sample_grid_options(self, n):
        """`sample` options for a picture of `n` samples: a class-conditional
        model draws sample i from class i mod num_classes (rows of classes)."""
        if self.num_classes is None:
            return {}
        return {"context": np.arange(n) % self.num_classes}

    def pictures(self):
        """Pictures of the parameters, {name: uint8 [H, W] or [H, W, 3]}
        (e.g. learned filters); a run writes them as NAME.png. Default: none."""
        return {}

    def figures(self, examples=None, *, seed=0):
        """Model-space batches shown as data, {name: [m, *event_shape]}
        (reconstructions, interpolations); `examples` is a batch of data.
        A run writes them as NAME.png in data space. Default: none."""
        return {}

    def dataset_figures(self, load_examples):
        """Pictures that need many test examples, {name: uint8 picture}.
        `load_examples(n) -> (x, labels or None)` is called only if needed. Default: none."""
        return {}

    def text_reports(self, vocabulary=None):
        """Text files of a run, {file name: text} (e.g. topics' top words for
        data with a `vocabulary`). Default: none."""
        return {}

    # ------------------------------------------------------------------ config
    @classmethod
    def default_hyperparameters(cls, info):
        """Hyper-parameters suited to a dataset (`tfdgm.data.DatasetInfo`);
        the CLI uses them unless `--param` overrides (override)."""
        return {}

    #: "binary", "continuous" or "counts": the data the model's default likelihood is for.
    data_kind = "continuous"

    @classmethod
    def data_kind_for(cls, params=None):
        """The data kind the model with hyper-parameters `params` models
        (override where the likelihood decides, as in the VAE)."""
        return cls.data_kind

    @classmethod
    def default_preprocess(cls, info, params=None):
        """The preprocessing spec used when none is given (override).

        Binary models binarize discrete data (once, with a fixed seed);
        continuous ones dequantize it and scale it to [0, 1]; continuous data
        is left as it is.
        Raises:
          ValueError: a binary model on continuous data.
        """
        return cls.preprocess_for_kind(cls.data_kind_for(params), info)

    @classmethod
    def preprocess_for_kind(cls, kind, info):
        """The default preprocessing spec for data of `kind` ("binary",
        "continuous", "counts" or "levels": integer levels kept as they are)."""
        if kind in ("counts", "levels"):
            return None  # modelled as they are
        if info.num_levels is None:
            if kind == "binary":
                raise ValueError(
                    f"{cls.__name__} models binary data, but dataset {info.name!r} is "
                    "continuous; choose a dataset with discrete levels (e.g. digits, fashion_mnist)"
                )
            return None
        return "binarize:static" if kind == "binary" else "dequantize,scale"

    def hyperparameters(self):
        """The constructor arguments beyond `event_shape` (override)."""
        return {}

    def get_config(self):
        return {
            "event_shape": list(self.event_shape),
            "data_transform": self.data_transform.get_config(),
            "name": self.name,
            **self.hyperparameters(),
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def compile_from_config(self, config):
        """Recompiles a model restored by `keras.models.load_model`.

        Keras skips this step for models whose `compile` is overridden (all
        tfdgm models), which would leave a loaded model without its optimizer
        state; the optimizer is built here so the saved slots load into it.
        """
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.build_optimizer_state()

    def _own_saved_state(self):
        return (self._trainable_variables + self._non_trainable_variables
                + [generator.state for generator in self._seed_generators])

    # Keras' `Layer.save_own_variables` leaves out `SeedGenerator` states, so a
    # reloaded model would restart the random stream of its train steps (GAN
    # noise, Gibbs chains, posterior samples); these two save them as well.
    def save_own_variables(self, store):
        for i, variable in enumerate(self._own_saved_state()):
            store[f"{i}"] = variable

    def load_own_variables(self, store):
        state = self._own_saved_state()
        weights_only = len(self._trainable_variables + self._non_trainable_variables)
        if len(store.keys()) == weights_only < len(state):  # written without seed states
            state = state[:weights_only]
        if len(store.keys()) != len(state):
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: expected {len(state)} saved variables "
                f"(weights and seed states), the file has {len(store.keys())}"
            )
        for i, variable in enumerate(state):
            variable.assign(store[f"{i}"])

    def build_optimizer_state(self):
        """Creates the optimizer's variables for the variables its steps update
        (override when a family uses several optimizers or a subset)."""
        with tf.init_scope():
            self.optimizer.build(self.trainable_variables)

    # ------------------------------------------------------------ input checks
    def validate_input(self, x, argument="x"):
        """Checks `x: [batch, *event_shape]` and, when its values are concrete
        (NumPy, eager), that they lie in the model's data domain
        (`tfdgm.models.domains`); returns it as float32.

        Raises:
          ValueError: naming the expected shape/dtype/domain and what was given.
        """
        if isinstance(x, np.ndarray) and x.dtype.kind not in "biuf":
            raise ValueError(
                f"{type(self).__name__}: expected {argument} of a numeric dtype, "
                f"got dtype {x.dtype}"
            )
        if isinstance(x, (tf.Tensor, tf.Variable)) and not (
            x.dtype.is_floating or x.dtype.is_integer or x.dtype == tf.bool
        ):
            raise ValueError(
                f"{type(self).__name__}: expected {argument} of a numeric dtype, "
                f"got dtype {x.dtype.name}"
            )
        x = tf.convert_to_tensor(x)
        if x.dtype != tf.float32:
            x = tf.cast(x, tf.float32)
        shape = x.shape
        expected = "[batch, " + ", ".join(str(d) for d in self.event_shape) + "]"
        if shape.rank is not None:
            if shape.rank != self.event_ndims + 1 or any(
                got is not None and got != want
                for got, want in zip(shape[1:], self.event_shape)
            ):
                raise ValueError(
                    f"{type(self).__name__}: expected {argument} of shape {expected}, "
                    f"got shape {list(shape)}"
                )
        domains.check(self, x, argument)  # concrete values only: no ops in traced (XLA) steps
        return x

    # --------------------------------------------------------------- training
    #: Train steps per compiled call that `fit` picks when `compile` was not
    #: given `steps_per_execution` (see `choose_steps_per_execution`).
    auto_steps_per_execution = 10

    def compile(self, optimizer="adam", jit_compile=None, steps_per_execution=None, **kwargs):
        """`keras.Model.compile` with XLA on by default where the model allows,
        and several train steps per compiled call where Keras' conventions allow.

        XLA: `tfdgm.models.execution.xla_by_default` (on where `supports_xla`;
        `TFDGM_JIT_COMPILE=0` turns the default off, for debugging or toy runs
        whose XLA compile time exceeds their training time).

        `steps_per_execution=None` (the default) lets each `fit`, `evaluate`
        and `predict` call choose (`choose_steps_per_execution`): several steps
        per call unless a callback has batch-level hooks; an int is used as
        Keras uses it.
        """
        if jit_compile is None:
            jit_compile = xla_by_default(self)
        auto = steps_per_execution is None or steps_per_execution == "auto"
        super().compile(optimizer=optimizer, jit_compile=jit_compile,
                        steps_per_execution=1 if auto else steps_per_execution, **kwargs)
        self._steps_per_execution_is_auto = auto
        if auto:  # saved as "not given", so a reloaded model chooses again
            self._compile_config.config["steps_per_execution"] = None

    def choose_steps_per_execution(self, callbacks=None, steps=()):
        """Sets the steps per compiled call of the next `fit` / `evaluate` /
        `predict` when `compile` was not given `steps_per_execution`.

        The count: `tfdgm.models.execution.steps_per_call`.
        """
        if not getattr(self, "_steps_per_execution_is_auto", False):
            return
        chosen = steps_per_call(self, callbacks, steps)
        if chosen != self.steps_per_execution:
            self.steps_per_execution = chosen
            self.train_function = self.test_function = self.predict_function = None

    def _ensure_built(self):
        """Builds the weights from `event_shape` alone (never by tracing `call`)."""
        if not self.built:
            self.build((None, *self.event_shape))

    def evaluate(self, x=None, y=None, **kwargs):
        self._ensure_built()
        if not kwargs.get("_use_cached_eval_dataset"):  # inside fit: fit has chosen
            self.choose_steps_per_execution(kwargs.get("callbacks"), (kwargs.get("steps"),))
        return super().evaluate(x, y, **kwargs)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        self.choose_steps_per_execution(callbacks, (steps,))
        return super().predict(x, batch_size=batch_size, verbose=verbose, steps=steps, callbacks=callbacks)

    def fit(self, x=None, y=None, **kwargs):
        """`keras.Model.fit`, refusing empty, non-numeric or non-finite arrays,
        and data outside the model's domain (`tfdgm.models.domains`): the
        whole of a NumPy array, the first batch of a `tf.data.Dataset` (drawn
        once more, so a dataset reshuffled per iteration starts one order on).

        The model is built from its event shape before the first step, so
        Keras never builds it by tracing `call` in a scratch graph (and
        `make_train_function` builds the optimizer's state before the step is
        traced, so it is traced once, not twice). A
        `tf.data.Dataset` is taken as shuffled already (`tfdgm.data.load(...,
        shuffle=True)`): `shuffle` defaults to False for it, where Keras'
        default True only warns that it ignores it. One NumPy array is batched
        as Keras batches it (a new order per epoch when `shuffle`), by
        `tfdgm.data.arrays.array_batches`, whose end never waits for tf.data's
        autotuning thread. Steps per compiled call: `choose_steps_per_execution`."""
        if isinstance(x, np.ndarray):
            if x.dtype.kind not in "biuf":
                raise ValueError(f"expected numeric training data, got dtype {x.dtype}")
            if x.shape[0] == 0:
                raise ValueError("expected at least one training example, got an empty array")
            if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
                raise ValueError(
                    f"expected finite training data, got {int(np.sum(~np.isfinite(x)))} NaN/inf values"
                )
            domains.check(self, x, "training data")
            self.validate_input(x[:1])
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)
            # Its first batch, eagerly: the shape and the data domain (autotuning
            # off: the probe's iterator then never waits for its thread at deletion).
            for batch in without_autotune(x.take(1)):
                self.validate_input(self.unpack(batch)[0])
        elif self._batches_arrays_itself(x, y, kwargs):
            # The same batches as Keras makes of an array, in a pipeline whose
            # end does not wait for tf.data's autotuning (`tfdgm.data.arrays`).
            x = array_batches(x, kwargs.pop("batch_size", None) or 32, kwargs.pop("shuffle", True))
            kwargs["shuffle"] = False
        self._ensure_built()
        self.choose_steps_per_execution(
            kwargs.get("callbacks"), (kwargs.get("steps_per_epoch"), kwargs.get("validation_steps")))
        return super().fit(x, y, **kwargs)

    def _batches_arrays_itself(self, x, y, kwargs):
        """Whether `fit` turns the array `x` into batches itself: one NumPy
        array and no option that Keras' own array handling is needed for."""
        return (
            isinstance(x, np.ndarray) and y is None and kwargs.get("shuffle", True) in (True, False)
            and not any(kwargs.get(key) for key in (
                "sample_weight", "class_weight", "validation_split", "steps_per_epoch"))
            and self.distribute_strategy.num_replicas_in_sync == 1
        )

    def make_train_function(self, force=False):
        # Keras 3.15 cannot reduce scalar logs over several workers
        # (`tfdgm.distribute.reducible_logs`); the step is wrapped for it.
        if self.train_function is None or force:
            if self.built and getattr(self, "optimizer", None) is not None:
                # Slots created inside the first trace make tf.function trace
                # the step a second time (once creating variables, once without).
                with self.distribute_strategy.scope():
                    self.build_optimizer_state()
            self.train_function = self._make_function(reducible_logs(self.train_step))
        return self.train_function

    def make_test_function(self, force=False):
        if self.test_function is None or force:
            self.test_function = self._make_function(reducible_logs(self.test_step))
        return self.test_function

    def apply_gradients(self, tape, loss, variables=None, optimizer=None):
        """One optimizer step on `loss`, averaged correctly across replicas.

        Under `tf.distribute` the per-replica gradients are summed, so the
        per-replica gradients of the mean loss are divided by the number of
        replicas (Keras' own `train_step` scales the loss instead; the loss
        here may come from outside the tape's scope, so the gradients are).
        With `mixed_float16` the optimizer is a `LossScaleOptimizer`: the
        gradients are taken of the scaled loss (`tfdgm.precision`).
        """
        variables = self.trainable_variables if variables is None else variables
        optimizer = self.optimizer if optimizer is None else optimizer
        gradients = scaled_gradients(tape, loss, variables, optimizer)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas > 1:
            gradients = [None if g is None else g / replicas for g in gradients]
        optimizer.apply_gradients(zip(gradients, variables))

    @staticmethod
    def unpack(data):
        """Splits a `fit` batch into `(x, context)`; labels become context."""
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        return x, y

    # ------------------------------------------------------------- evaluation
    def evaluation(self, dataset, verbose=1, **options):
        """The test metrics `tfdgm evaluate` reports (a dict of numbers).

        Likelihood families report `evaluate_nll`; models without a
        likelihood (GANs) override this with their sample-quality metrics.
        """
        return self.evaluate_nll(dataset, verbose=verbose, **options)

    def evaluate_nll(self, dataset, verbose=1, **options):
        """Test negative log-likelihood on a dataset of model-space batches.

        The default reads the `nll` and `bits_per_dim` metrics of `evaluate`
        (exact for explicit densities). Families whose likelihood needs an
        estimator (importance sampling, AIS) override this and accept their
        options (e.g. `num_samples`, `ais_runs`, `ais_betas`).
        Returns:
          dict with `nll_nats` and `bits_per_dim` (original data space) and
          `model_space_nll_nats`, plus any estimator details.
        """
        if options:
            raise ValueError(
                f"{type(self).__name__} takes no evaluation options, got {sorted(options)}"
            )
        results = self.evaluate(dataset, verbose=verbose, return_dict=True)
        bits_per_dim = float(results["bits_per_dim"])
        return {
            "nll_nats": bits_per_dim * self.num_dims * math.log(2.0),
            "bits_per_dim": bits_per_dim,
            "model_space_nll_nats": float(results["nll"]),
        }

    # ----------------------------------------------------------------- export
    def export_signatures(self):
        """`{name: (fn, input_signature)}` for `tfdgm.export.save` (override)."""
        return {}


def _as_shape(shape, argument):
    if isinstance(shape, int):
        shape = (shape,)
    try:
        shape = tuple(shape)
    except TypeError:
        raise ValueError(f"expected {argument} as a tuple of positive ints, got {shape!r}") from None
    if not shape or not all(isinstance(d, (int, np.integer)) and d > 0 for d in shape):
        raise ValueError(f"expected {argument} as a tuple of positive ints, got {shape!r}")
    return shape
