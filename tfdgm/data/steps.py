"""Preprocessing steps (Binarize, Dequantize, Scale, Logit) and the string spec of one step."""

import dataclasses
from typing import ClassVar, Optional, Tuple

from tfdgm.data.errors import DatasetError

__all__ = ["Binarize", "Dequantize", "Scale", "Logit", "STEP_TYPES", "SPEC_GRAMMAR", "parse_step"]

_BINARIZE_MODES = ("threshold", "static", "dynamic")
SPEC_GRAMMAR = ("binarize[:threshold[:T]|:static[:SEED]|:dynamic], dequantize, "
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

    alpha keeps s away from 0 and 1. This is the symmetric form of Papamakarios et al.
    (their appendix; RealNVP's Sec. 4.1 writes alpha + (1 - alpha) x). Log-Jacobian per
    dimension: log(1 - 2 alpha) - log(s) - log(1 - s).

    References:
      Dinh, Sohl-Dickstein and Bengio (2016), Density estimation using Real NVP, Sec. 4.1.
      Papamakarios, Pavlakou and Murray (2017), Masked autoregressive flow for density estimation.

    Arguments:
      alpha: in (0, 0.5); MAF uses 1e-6 on MNIST and 0.05 on CIFAR-10.
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


STEP_TYPES = {cls.name: cls for cls in (Binarize, Dequantize, Scale, Logit)}


def parse_step(text, spec):
    """One step from its spec text, e.g. "scale:-1:1"; `spec` is the whole spec, for messages."""
    name, *args = [part.strip() for part in text.strip().split(":")]
    name = name.lower()
    if name not in STEP_TYPES:
        raise DatasetError(f"preprocessing spec {spec!r}: unknown step {name!r}; "
                           f"valid steps: {SPEC_GRAMMAR}")
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
                       f"valid steps: {SPEC_GRAMMAR}")
