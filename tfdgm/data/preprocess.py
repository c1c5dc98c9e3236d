"""Preprocessing from data space to model space, with the log-Jacobian that keeps bits/dim in data space."""

import dataclasses
import json
import math

import tensorflow as tf
import tensorflow_probability as tfp

from tfdgm.data.errors import DatasetError
from tfdgm.data.steps import STEP_TYPES, Binarize, Dequantize, Logit, Scale, parse_step

__all__ = ["Binarize", "Dequantize", "Scale", "Logit", "Preprocessing", "parse_preprocessing"]

tfb = tfp.bijectors


class Preprocessing:
    """A pipeline T from data space x to model space y = T(x), and the Jacobian of T.

    Random steps (Binarize, Dequantize) come first; the deterministic steps (Scale,
    Logit) form a TFP bijector. A model's density p_y on model space gives the data-space
    log-density log p_x(x) = log p_y(T(x)) + log|det dT/dx|, and bits/dim =
    -log p_x(x) / (D ln 2), D = number of data dimensions. Rules: Binarize is the only
    step when present; Dequantize comes first; Logit needs data in [0, 1].

    Arguments:
      steps: sequence of Binarize, Dequantize, Scale and Logit, applied in order.
      num_levels: number of integer levels of the data (256 for 8-bit images), None for
        continuous data.
      event_ndims: number of trailing event axes of x (3 for images, 1 for vectors);
        None = all axes but the first.

    Attributes:
      model_range: (low, high) interval of the model-space values (None if unknown),
        e.g. (0, 1) after "dequantize,scale"; useful to clip samples before `inverse`.

    Example:
      >>> p = parse_preprocessing("dequantize,scale,logit:0.05", dataset_info("fashion_mnist"))
      >>> y = p(x)                                  # x: [batch, 28, 28, 1] in 0..255
      >>> bpd = p.bits_per_dim(model.log_prob(y), y)   # bits/dim of the dequantized data
    """

    def __init__(self, steps=(), num_levels=None, event_ndims=None):
        self.steps = tuple(steps)
        self.num_levels = None if num_levels is None else int(num_levels)
        self.event_ndims = None if event_ndims is None else int(event_ndims)
        if self.num_levels is not None and self.num_levels < 2:
            raise DatasetError(f"num_levels: expected an integer >= 2 or None, got {num_levels!r}")
        for step in self.steps:
            if not isinstance(step, tuple(STEP_TYPES.values())):
                raise DatasetError(f"preprocessing step: expected Binarize, Dequantize, Scale or Logit, "
                                   f"got {step!r}")
        self._source_ranges, self.model_range = self._check_order()

    def _check_order(self):
        """Validates the step order; returns the source range of each step and the final range."""
        levels = self.num_levels
        interval = None if levels is None else (0.0, float(levels - 1))
        sources = []
        for position, step in enumerate(self.steps):
            if isinstance(step, (Binarize, Dequantize)) and levels is None:
                raise DatasetError(f"{type(step).__name__} needs discrete data with num_levels, got "
                                   f"continuous data (num_levels=None); pass the dataset's DatasetInfo "
                                   f"to parse_preprocessing(spec, info) or num_levels= to Preprocessing")
            if isinstance(step, Binarize) and len(self.steps) != 1:
                raise DatasetError(f"Binarize must be the only step, got {self.to_spec()!r}")
            if isinstance(step, Dequantize) and position != 0:
                raise DatasetError(f"Dequantize must be the first step (it acts on integer levels), "
                                   f"got {self.to_spec()!r}")
            source = step.data_range if isinstance(step, Scale) and step.data_range else interval
            sources.append(source)
            if isinstance(step, Binarize):
                interval = (0.0, 1.0)
            elif isinstance(step, Dequantize):
                interval = (0.0, float(levels))
            elif isinstance(step, Scale):
                if source is None:
                    raise DatasetError("Scale on continuous data (num_levels=None) needs data_range=(a, b), "
                                       "e.g. 'scale:-1:1:A:B', or the dataset's DatasetInfo in "
                                       "parse_preprocessing(spec, info); got no data range")
                interval = (step.low, step.high)
            elif isinstance(step, Logit):
                if interval != (0.0, 1.0):
                    raise DatasetError(f"Logit expects data in [0, 1] (e.g. 'dequantize,scale,logit'), "
                                       f"got data in {interval} from {self.to_spec()!r}")
                edge = math.log(step.alpha) - math.log1p(-step.alpha)
                interval = (edge, -edge)
        return tuple(sources), interval

    @property
    def is_binary(self):
        """True when the model sees binarized data in {0, 1}."""
        return any(isinstance(step, Binarize) for step in self.steps)

    @property
    def is_random(self):
        """True when a step draws noise (dequantization, static or dynamic binarization)."""
        return any(step.is_random for step in self.steps)

    def for_evaluation(self):
        """The pipeline to evaluate with: dynamic binarization becomes static
        (same seed), so a test set is the same binary data every time it is
        scored. Dequantization noise is kept (the usual practice: the
        continuous NLL is then a Monte Carlo estimate of the bound)."""
        steps = [
            dataclasses.replace(step, mode="static")
            if isinstance(step, Binarize) and step.mode == "dynamic"
            else step
            for step in self.steps
        ]
        return Preprocessing(steps, num_levels=self.num_levels, event_ndims=self.event_ndims)

    def bijector(self):
        """The deterministic part of T (Scale, Logit) as a TFP bijector from data to model space.

        A fresh `tfb.Chain` of scalar bijectors on each call (TFP bijectors cache
        tensors, which must not cross tf.function graphs); `tfb.Identity` if none.
        """
        parts = []
        for step, (a, b) in zip(self.steps, self._source_ranges):
            if isinstance(step, Scale):
                factor = (step.high - step.low) / (b - a)
                parts.append(tfb.Chain([tfb.Shift(step.low - factor * a), tfb.Scale(factor)], name="scale"))
            elif isinstance(step, Logit):
                parts.append(tfb.Chain([tfb.Invert(tfb.Sigmoid()), tfb.Shift(step.alpha),
                                        tfb.Scale(1.0 - 2.0 * step.alpha)], name="logit"))
        if not parts:
            return tfb.Identity(name="preprocessing")
        return tfb.Chain(parts[::-1], name="preprocessing")  # tfb.Chain applies its last bijector first

    def __call__(self, x, index=None, seed=None):
        """y = T(x): data space to model space, usable inside `tf.data.Dataset.map`.

        Arguments:
          x: [*event_shape] or [batch, *event_shape], any real dtype, in data space.
          index: example index, scalar or [batch] int (needed by static binarization:
            its sample is a function of (Binarize.seed, index)).
          seed: [2] int stateless seed of the fresh noise (dequantization, dynamic
            binarization); None draws one from TF's global generator.

        Returns:
          y: float32, shape of x.
        """
        x = tf.cast(x, tf.float32)
        for position, step in enumerate(self.steps):
            if isinstance(step, Binarize):
                intensity = x / float(self.num_levels - 1)
                if step.mode == "threshold":
                    return tf.cast(intensity >= step.threshold, tf.float32)
                if step.mode == "static":
                    noise = self._static_uniform(tf.shape(x), index, step.seed)
                else:
                    noise = self._fresh_uniform(tf.shape(x), seed, position)
                return tf.cast(noise < intensity, tf.float32)
            if isinstance(step, Dequantize):
                x = x + self._fresh_uniform(tf.shape(x), seed, position)
        return self.bijector().forward(x)

    @staticmethod
    def _fresh_uniform(shape, seed, position):
        if seed is None:
            seed = tf.random.uniform([2], maxval=tf.int32.max, dtype=tf.int32)
        seed = tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), position)
        return tf.random.stateless_uniform(shape, seed)

    @staticmethod
    def _static_uniform(shape, index, step_seed):
        if index is None:
            raise DatasetError("static binarization needs the example index (index=...), got None")
        index = tf.cast(index, tf.int64)
        base = tf.constant([step_seed, 0x5EED], tf.int64)

        def one_example(i, example_shape):
            example_seed = tf.random.experimental.stateless_fold_in(base, i)
            return tf.random.stateless_uniform(example_shape, example_seed)

        if index.shape.rank == 0:
            return one_example(index, shape)
        return tf.map_fn(lambda i: one_example(i, shape[1:]), index, fn_output_signature=tf.float32)

    def inverse(self, y):
        """Model space back to data space, x = T^{-1}(y), for the deterministic steps.

        Dequantization noise stays (floor to get levels); binarized data stay binary.

        Arguments:
          y: [batch, *event_shape] float32 in model space.
        """
        return self.bijector().inverse(tf.convert_to_tensor(y, tf.float32))

    def _event_ndims(self, y):
        return y.shape.rank - 1 if self.event_ndims is None else self.event_ndims

    def log_det_jacobian(self, y):
        """log|det dT/dx| at x = T^{-1}(y), computed from the model-space y.

        Equals -bijector().inverse_log_det_jacobian(y, event_ndims); 0 for the random
        steps (see Binarize, Dequantize).

        Arguments:
          y: [batch, *event_shape] float32 in model space.

        Returns:
          [batch] float32, nats.
        """
        y = tf.convert_to_tensor(y, tf.float32)
        event_ndims = self._event_ndims(y)
        log_det = -self.bijector().inverse_log_det_jacobian(y, event_ndims=event_ndims)
        return tf.broadcast_to(log_det, tf.shape(y)[: y.shape.rank - event_ndims])

    def data_space_log_prob(self, model_log_prob, y):
        """log p_x(x) = log p_y(y) + log|det dT/dx|, nats.

        Arguments:
          model_log_prob: [batch] log-density of y under the model, nats.
          y: [batch, *event_shape] the model-space points it was evaluated at.
        """
        model_log_prob = tf.convert_to_tensor(model_log_prob)
        return model_log_prob + tf.cast(self.log_det_jacobian(y), model_log_prob.dtype)

    def bits_per_dim(self, model_log_prob, y):
        """-log p_x(x) / (D ln 2), D = number of data dimensions: bits/dim in data space.

        Arguments:
          model_log_prob: [batch] log-density of y under the model, nats.
          y: [batch, *event_shape] the model-space points it was evaluated at.

        Returns:
          [batch] bits per dimension.
        """
        y = tf.convert_to_tensor(y, tf.float32)
        log_prob = self.data_space_log_prob(model_log_prob, y)
        num_dims = tf.reduce_prod(tf.shape(y)[y.shape.rank - self._event_ndims(y):])
        return -log_prob / (tf.cast(num_dims, log_prob.dtype) * math.log(2.0))

    def to_spec(self):
        """The string spec of the steps, e.g. 'dequantize,scale,logit' ('none' if no step)."""
        return ",".join(step.to_spec() for step in self.steps) or "none"

    def get_config(self):
        """JSON-serializable dict; `Preprocessing.from_config(p.get_config()) == p`."""
        steps = [{"name": step.name, **dataclasses.asdict(step)} for step in self.steps]
        for step in steps:
            if step.get("data_range") is not None:
                step["data_range"] = list(step["data_range"])
        return {"steps": steps, "num_levels": self.num_levels, "event_ndims": self.event_ndims}

    @classmethod
    def from_config(cls, config):
        """Inverse of `get_config`."""
        steps = []
        for step in config.get("steps", ()):
            step = dict(step)
            name = step.pop("name", None)
            if name not in STEP_TYPES:
                raise DatasetError(f"preprocessing config: expected step names {sorted(STEP_TYPES)}, "
                                   f"got {name!r}")
            steps.append(STEP_TYPES[name](**step))
        return cls(steps, num_levels=config.get("num_levels"), event_ndims=config.get("event_ndims"))

    def __eq__(self, other):
        return isinstance(other, Preprocessing) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash(json.dumps(self.get_config(), sort_keys=True))

    def __repr__(self):
        return (f"Preprocessing({self.to_spec()!r}, num_levels={self.num_levels}, "
                f"event_ndims={self.event_ndims})")


def parse_preprocessing(spec, info=None):
    """Build a Preprocessing from a spec, bound to a dataset's num_levels and event rank.

    Arguments:
      spec: None or "none" (identity), a Preprocessing or its `get_config()` dict (which
        keeps num_levels, unlike the string), a step, a list of steps or step strings,
        or a string such as "binarize", "binarize:dynamic", "binarize:static",
        "dequantize,scale", "dequantize,scale:-1:1", "dequantize,scale,logit:0.05",
        "scale:-1:1:A:B" (source range [A, B] for continuous data).
      info: DatasetInfo supplying num_levels and event_shape (or None).

    Raises:
      DatasetError: unknown step or bad arguments (the message lists the valid steps),
        Binarize/Dequantize on continuous data, a step order the pipeline rejects, or a
        Preprocessing built for other num_levels / event rank than `info`.
    """
    num_levels = getattr(info, "num_levels", None)
    event_ndims = None if info is None else len(info.event_shape)
    if isinstance(spec, dict):
        spec = Preprocessing.from_config(spec)
    if isinstance(spec, Preprocessing):
        if info is None:
            return spec
        for field, wanted in (("num_levels", num_levels), ("event_ndims", event_ndims)):
            if getattr(spec, field) not in (None, wanted):
                raise DatasetError(f"preprocessing {spec!r} was built for {field}={getattr(spec, field)}, "
                                   f"dataset {getattr(info, 'name', '?')!r} has {field}={wanted}")
        return Preprocessing(spec.steps, num_levels=num_levels, event_ndims=event_ndims)
    if spec is None:
        items = []
    elif isinstance(spec, str):
        items = [] if spec.strip().lower() in ("", "none") else spec.split(",")
    elif isinstance(spec, tuple(STEP_TYPES.values())):
        items = [spec]
    elif isinstance(spec, (list, tuple)):
        items = [part for item in spec for part in (item.split(",") if isinstance(item, str) else [item])]
    else:
        raise DatasetError(f"preprocessing: expected None, a spec string, a step, a list of steps, a "
                           f"Preprocessing or its config dict, got {type(spec).__name__}")
    steps = [parse_step(item, spec) if isinstance(item, str) else item for item in items]
    return Preprocessing(steps, num_levels=num_levels, event_ndims=event_ndims)
