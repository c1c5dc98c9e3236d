"""The data domain a model's likelihood is defined on, and the check of data against it.

A model answers for data of one kind: "binary" (values in {0, 1}), "counts"
(non-negative integers), "levels" (integers in [0, num_levels)) or
"continuous" (finite reals). The kind is declared once per model class by its
`data_kind` attribute; where the likelihood is a constructor argument (MADE,
NADE, PixelCNN, VAE, ...) its `likelihood` name decides, and where another
hyper-parameter does (ConvRBM's `visible`), `data_kind_for(params)` on the
class or a per-instance `data_kind`. The domain applies to what the model
sees: `fit` and `log_prob` take model-space data (the `data_transform` only
maps densities back to the original data space), so "binarize:static" data
reach a binary model as {0, 1} and "dequantize,scale" data a continuous one.

`GenerativeModel.validate_input` calls `check` on concrete values only
(NumPy arrays, eager tensors): traced and XLA-compiled train steps get no ops.
"""

import numpy as np
import tensorflow as tf

__all__ = ["Domain", "domain_of", "check"]

#: The data kind of each likelihood name used by tfdgm's models.
LIKELIHOOD_KINDS = {
    "bernoulli": "binary",
    "gaussian": "continuous",
    "gaussian_mixture": "continuous",
    "gaussian_shared_scale": "continuous",
    "gaussian_fixed": "continuous",
    "mvn_tril": "continuous",
    "categorical": "levels",
    "categorical256": "levels",
    "logistic_mixture": "levels",
}

_SYNONYMS = {"categorical": "levels"}  # WaveNet's and GatedPixelCNN's `data_kind`


class Domain:
    """A data domain: `kind` in ("binary", "counts", "levels", "continuous"),
    and `num_levels` for "levels"."""

    KINDS = ("binary", "counts", "levels", "continuous")

    def __init__(self, kind, num_levels=None):
        kind = _SYNONYMS.get(kind, kind)
        if kind not in self.KINDS:
            raise ValueError(f"expected a data kind in {self.KINDS}, got {kind!r}")
        if kind == "levels" and (num_levels is None or int(num_levels) < 2):
            raise ValueError(f"expected num_levels >= 2 for integer levels, got {num_levels!r}")
        self.kind = kind
        self.num_levels = int(num_levels) if kind == "levels" else None

    def describe(self):
        """The domain in words, e.g. "binary data in {0, 1}"."""
        return {
            "binary": "binary data in {0, 1}",
            "counts": "counts (non-negative integers)",
            "levels": f"integer levels in [0, {self.num_levels})",
            "continuous": "finite real data",
        }[self.kind]

    def violation(self, x):
        """What in `x` (a NumPy array or eager tensor) lies outside the domain,
        in words, or None when every value is inside."""
        x = tf.convert_to_tensor(x)
        if x.dtype == tf.bool:
            x = tf.cast(x, tf.uint8)
        if tf.size(x) == 0:
            return None
        if x.dtype.is_floating:
            finite = tf.math.is_finite(x)
            num_bad = int(tf.size(x)) - int(tf.reduce_sum(tf.cast(finite, tf.int64)))
            if num_bad:
                return f"{num_bad} NaN/inf values"
        if self.kind == "continuous":
            return None
        low, high = float(tf.reduce_min(x)), float(tf.reduce_max(x))
        span = f"values in [{_number(low)}, {_number(high)}]"
        if self.kind == "binary":
            outside = not bool(tf.reduce_all((x == 0) | (x == 1)))
            return span if outside else None
        if x.dtype.is_floating:
            fractional = tf.boolean_mask(x, tf.not_equal(x, tf.round(x)))
            if tf.size(fractional) > 0:
                return f"non-integer values (e.g. {_number(float(fractional[0]))})"
        if low < 0 or (self.kind == "levels" and high >= self.num_levels):
            return span
        return None

    def __repr__(self):
        return f"Domain({self.kind!r}" + (f", num_levels={self.num_levels})" if self.num_levels else ")")


def domain_of(model):
    """The data domain of `model` (a `GenerativeModel`): from its `likelihood`
    name, else a per-instance `data_kind`, else `data_kind_for(hyperparameters())`."""
    likelihood = getattr(model, "likelihood", None)
    if isinstance(likelihood, str) and likelihood in LIKELIHOOD_KINDS:  # MADE, NADE, PixelCNN, VAE, ...
        kind = LIKELIHOOD_KINDS[likelihood]
    elif "data_kind" in vars(model):  # set per instance (ConvRBM's visible units)
        kind = model.data_kind
    elif hasattr(type(model), "data_kind_for"):
        kind = type(model).data_kind_for(model.hyperparameters())
    else:
        kind = model.data_kind
    kind = _SYNONYMS.get(kind, kind)
    num_levels = getattr(model, "num_levels", None) if kind == "levels" else None
    if kind == "levels" and num_levels is None:  # a likelihood with a fixed number of levels
        num_levels = 256
    return Domain(kind, num_levels)


def check(model, x, argument="x"):
    """Raises a `ValueError` naming the model, its domain and what `x` holds
    when a concrete `x` lies outside `model`'s data domain; symbolic tensors
    (inside `tf.function` / XLA) pass unchecked."""
    if not _is_concrete(x):
        return
    domain = domain_of(model)
    found = domain.violation(x)
    if found is not None:
        raise ValueError(f"{type(model).__name__} models {domain.describe()}; got {argument} with {found}")


def _is_concrete(x):
    if isinstance(x, np.ndarray):
        return True
    return tf.is_tensor(x) and not isinstance(x, tf.SparseTensor) and hasattr(x, "numpy") and tf.executing_eagerly()


def _number(value):
    return f"{value:.4g}"
