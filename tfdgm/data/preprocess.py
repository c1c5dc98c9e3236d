"""Preprocessing from data space to model space, with the log-Jacobian that keeps bits/dim in data space."""

import dataclasses
import json
import math
from typing import ClassVar, Optional, Tuple

import tensorflow as tf
import tensorflow_probability as tfp

from tfdgm.data.errors import DatasetError

__all__ = ["Binarize", "Dequantize", "Scale", "Logit", "Preprocessing", "parse_preprocessing"]

tfb = tfp.bijectors

_BINARIZE_MODES = ("threshold", "static", "dynamic")
_SPEC_GRAMMAR = ("binarize[:threshold[:T]|:static[:SEED]|:dynamic], dequantize, "
                 "scale[:LOW:HIGH[:A:B]], logit[:ALPHA]; joined by commas, "
                 "e.g. 'dequantize,scale,logit:0.05'")


def _number(value):
    """Shortest text that parses back to the same float: 1.0 -> '1', 0.05 -> '0.05'."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


@dataclasses.dataclass(frozen=True)
class Binarize:
    """Binary data: intensity = x / (num_levels - 1), then a threshold or a Bernoulli sample.

    Modes: "threshold" gives 1[intensity >= threshold]; "static" draws one
    Bernoulli(intensity) sample per example that is a fixed function of (seed, example
    index), the same in every epoch and run (as the static binarized MNIST of
    Larochelle and Murray 2011); "dynamic" draws a fresh sample each time an example is
    read (Salakhutdinov and Murray 2008). Log-Jacobian 0: the model is then a
    distribution over the binarized data, and bits/dim are bits/dim of binarized data,
    not comparable with bits/dim of the grey levels.

    References:
      Salakhutdinov and Murray (2008), On the quantitative analysis of deep belief networks.
      Larochelle and Murray (2011), The neural autoregressive distribution estimator.

    Arguments:
      mode: "threshold", "static" or "dynamic".
      threshold: intensity at or above which a pixel is 1 (mode "threshold" only).
      seed: integer seed of the static sample (mode "static" only).
    """

    mode: str = "threshold"
    threshold: float = 0.5
    seed: int = 0
    name: ClassVar[str] = "binarize"

    def __post_init__(self):
        if self.mode not in _BINARIZE_MODES:
            raise DatasetError(f"Binarize mode: expected one of {_BINARIZE_MODES}, got {self.mode!r}")
        if not 0.0 < float(self.threshold) <= 1.0:
            raise DatasetError(f"Binarize threshold: expected a number in (0, 1], got {self.threshold!r}")
        if int(self.seed) != self.seed:
            raise DatasetError(f"Binarize seed: expected an integer, got {self.seed!r}")
        object.__setattr__(self, "threshold", float(self.threshold))
        object.__setattr__(self, "seed", int(self.seed))

    @property
    def is_random(self):
        return self.mode != "threshold"

    def to_spec(self):
        if self.mode == "threshold":
            return "binarize" if self.threshold == 0.5 else f"binarize:threshold:{_number(self.threshold)}"
        if self.mode == "static":
            return "binarize:static" if self.seed == 0 else f"binarize:static:{self.seed}"
        return "binarize:dynamic"


@dataclasses.dataclass(frozen=True)
class Dequantize:
    """Uniform dequantization y = x + u, u ~ U[0, 1)^D, of integer levels 0..num_levels-1.

    The discrete data become a continuous density on [0, num_levels)^D. Log-Jacobian 0.
    For a continuous model density p, E_u[log p(x + u)] <= log P(x) with
    P(x) = integral of p over the unit cube [x, x + 1), so the data-space bits/dim of a
    dequantized model upper-bound (in expectation) its discrete bits/dim.

    References:
      Uria, Murray and Larochelle (2013), RNADE, Sec. 4.
      Theis, van den Oord and Bethge (2016), A note on the evaluation of generative models, Sec. 3.1.
    """

    name: ClassVar[str] = "dequantize"

    @property
    def is_random(self):
        return True

    def to_spec(self):
        return "dequantize"


@dataclasses.dataclass(frozen=True)
class Scale:
    """Affine map of a data range [a, b] onto [low, high]: y = low + (x - a) (high - low) / (b - a).

    The source range is `data_range` if given, else the range of the data reaching
    this step: [0, num_levels) after Dequantize (so the dequantized cube [0, 256)^D
    maps onto [0, 1)^D), [0, num_levels - 1] for integer levels that were not
    dequantized (so the top level maps to exactly `high`), the output range of the
    previous Scale or Logit. Continuous data (num_levels None) need `data_range`.
    Log-Jacobian: D log((high - low) / (b - a)).

    Arguments:
      low, high: target interval, low < high.
      data_range: optional source interval (a, b), a < b.
    """

    low: float = 0.0
    high: float = 1.0
    data_range: Optional[Tuple[float, float]] = None
    name: ClassVar[str] = "scale"

    def __post_init__(self):
        object.__setattr__(self, "low", float(self.low))
        object.__setattr__(self, "high", float(self.high))
        if not self.low < self.high:
            raise DatasetError(f"Scale: expected low < high, got low={self.low}, high={self.high}")
        if self.data_range is not None:
            a, b = (float(v) for v in self.data_range)
            if not a < b:
                raise DatasetError(f"Scale data_range: expected (a, b) with a < b, got {self.data_range!r}")
            object.__setattr__(self, "data_range", (a, b))

    @property
    def is_random(self):
        return False

    def to_spec(self):
        if self.data_range is not None:
            return "scale:" + ":".join(_number(v) for v in (self.low, self.high, *self.data_range))
        if (self.low, self.high) == (0.0, 1.0):
            return "scale"
        return f"scale:{_number(self.low)}:{_number(self.high)}"


@dataclasses.dataclass(frozen=True)
class Logit:
    """RealNVP's logit transform of x in [0, 1]: y = logit(s), s = alpha + (1 - 2 alpha) x.

    alpha keeps s away from 0 and 1. Log-Jacobian per dimension:
    log(1 - 2 alpha) - log(s) - log(1 - s).

    References:
      Dinh, Sohl-Dickstein and Bengio (2017), Density estimation using Real NVP, Sec. 4.1.

    Arguments:
      alpha: in (0, 0.5); RealNVP uses 0.05 on CIFAR-10, 1e-6 on MNIST-like data.
    """

    alpha: float = 0.05
    name: ClassVar[str] = "logit"

    def __post_init__(self):
        if not 0.0 < float(self.alpha) < 0.5:
            raise DatasetError(f"Logit alpha: expected a number in (0, 0.5), got {self.alpha!r}")
        object.__setattr__(self, "alpha", float(self.alpha))

    @property
    def is_random(self):
        return False

    def to_spec(self):
        return "logit" if self.alpha == 0.05 else f"logit:{_number(self.alpha)}"


_STEP_TYPES = {cls.name: cls for cls in (Binarize, Dequantize, Scale, Logit)}


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
            if not isinstance(step, tuple(_STEP_TYPES.values())):
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
                                       "e.g. 'scale:-1:1:A:B'; got no data range")
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
            if name not in _STEP_TYPES:
                raise DatasetError(f"preprocessing config: expected step names {sorted(_STEP_TYPES)}, "
                                   f"got {name!r}")
            steps.append(_STEP_TYPES[name](**step))
        return cls(steps, num_levels=config.get("num_levels"), event_ndims=config.get("event_ndims"))

    def __eq__(self, other):
        return isinstance(other, Preprocessing) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash(json.dumps(self.get_config(), sort_keys=True))

    def __repr__(self):
        return (f"Preprocessing({self.to_spec()!r}, num_levels={self.num_levels}, "
                f"event_ndims={self.event_ndims})")


def _parse_step(text, spec):
    name, *args = [part.strip() for part in text.strip().split(":")]
    name = name.lower()
    if name not in _STEP_TYPES:
        raise DatasetError(f"preprocessing spec {spec!r}: unknown step {name!r}; "
                           f"valid steps: {_SPEC_GRAMMAR}")
    try:
        if name == "binarize":
            if not args:
                return Binarize()
            mode, *rest = args
            if mode == "threshold" and len(rest) <= 1:
                return Binarize("threshold", *(float(v) for v in rest))
            if mode == "static" and len(rest) <= 1:
                return Binarize("static", seed=int(rest[0]) if rest else 0)
            if mode == "dynamic" and not rest:
                return Binarize("dynamic")
        elif name == "dequantize" and not args:
            return Dequantize()
        elif name == "scale" and len(args) in (0, 2, 4):
            values = [float(v) for v in args]
            return Scale(*values[:2], data_range=tuple(values[2:]) or None)
        elif name == "logit" and len(args) <= 1:
            return Logit(*(float(v) for v in args))
    except ValueError as error:  # DatasetError is a ValueError too: keep its message
        if isinstance(error, DatasetError):
            raise
    raise DatasetError(f"preprocessing spec {spec!r}: cannot parse step {text.strip()!r}; "
                       f"valid steps: {_SPEC_GRAMMAR}")


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
    elif isinstance(spec, tuple(_STEP_TYPES.values())):
        items = [spec]
    elif isinstance(spec, (list, tuple)):
        items = [part for item in spec for part in (item.split(",") if isinstance(item, str) else [item])]
    else:
        raise DatasetError(f"preprocessing: expected None, a spec string, a step, a list of steps, a "
                           f"Preprocessing or its config dict, got {type(spec).__name__}")
    steps = [_parse_step(item, spec) if isinstance(item, str) else item for item in items]
    return Preprocessing(steps, num_levels=num_levels, event_ndims=event_ndims)
