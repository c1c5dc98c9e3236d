"""Flows conditioned on context vectors, p(x | c) for any real c [F] per
example (conditional density estimation; Papamakarios et al. 2017, Sec. 3.4):
the `context_shape` argument, context checks, and the `log_prob(x, context)`,
`sample(n, context=...)`, `fit((x, context))` and export plumbing shared by
MAF, RealNVP and Glow."""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfdgm.models.base import as_seed

tfd = tfp.distributions

__all__ = ["ContextConditional", "parse_context_shape"]


def parse_context_shape(model_name, context_shape, num_classes=None):
    """Validates `context_shape` ((F,), [F] or F; None: no context). -> (F,) or None."""
    if context_shape is None:
        return None
    if num_classes is not None:
        raise ValueError(f"{model_name}: expected either num_classes (class labels) or context_shape (real "
                         f"context vectors), got both: num_classes={num_classes!r}, context_shape={context_shape!r}; "
                         "pass one-hot labels as a context vector to condition on both")
    shape = (context_shape,) if isinstance(context_shape, (int, np.integer)) else context_shape
    try:
        shape = tuple(shape)
    except TypeError:
        shape = None
    if (shape is None or len(shape) != 1 or isinstance(shape[0], bool)
            or not isinstance(shape[0], (int, np.integer)) or shape[0] < 1):
        raise ValueError(f"{model_name}: expected context_shape (F,) with a positive int F (one real "
                         f"vector per example), got {context_shape!r}")
    return (int(shape[0]),)


class ContextConditional:
    """Mixin of flows with an optional `context_shape` (F,): every method that
    takes `context` accepts one context [F] for the whole batch or one per
    example [batch, F]; a missing, misshapen or non-finite context raises a
    `ValueError` naming `context_shape`. Models call `_init_context` in
    `__init__` and `prepare_context` where their conditioners take c."""

    context_shape = None

    def _init_context(self, context_shape, num_classes=None):
        self.context_shape = parse_context_shape(type(self).__name__, context_shape, num_classes)
        self.context_size = None if self.context_shape is None else self.context_shape[0]

    def _expected_context(self):
        return (f"a context of shape [batch, {self.context_size}] or [{self.context_size}] "
                f"(context_shape={self.context_shape})")

    def prepare_context(self, context, batch_size=None):
        """Checks a context and returns it as float32 [N, F] (N = batch_size
        when given: one context is repeated). Unconditional / class-label
        models get `context` back unchanged."""
        if self.context_shape is None:
            return context
        name = type(self).__name__
        if context is None:
            raise ValueError(f"{name}: expected {self._expected_context()}, got None")
        if isinstance(context, np.ndarray) and context.dtype.kind not in "biuf":
            raise ValueError(f"{name}: expected {self._expected_context()} of a numeric dtype, got dtype {context.dtype}")
        context = tf.convert_to_tensor(context)
        if not (context.dtype.is_floating or context.dtype.is_integer):
            raise ValueError(f"{name}: expected {self._expected_context()} of a numeric dtype, "
                             f"got dtype {context.dtype.name}")
        context = tf.cast(context, tf.float32)
        shape = context.shape
        if shape.rank == 1 and shape[0] in (None, self.context_size):
            context = context[None]
        elif not (shape.rank == 2 and shape[1] in (None, self.context_size)):
            raise ValueError(f"{name}: expected {self._expected_context()}, got shape {shape.as_list()}")
        if tf.executing_eagerly():
            values = context.numpy()
            if values.shape[-1] != self.context_size:
                raise ValueError(f"{name}: expected {self._expected_context()}, got shape {list(values.shape)}")
            if not np.all(np.isfinite(values)):
                raise ValueError(f"{name}: expected a finite context (context_shape={self.context_shape}), "
                                 f"got {int(np.sum(~np.isfinite(values)))} NaN/inf values")
            if batch_size is not None and values.shape[0] not in (1, int(batch_size)):
                raise ValueError(f"{name}: expected one context or one per example ({int(batch_size)}), "
                                 f"got {values.shape[0]} contexts")
        if batch_size is not None:
            context = tf.broadcast_to(context, tf.stack([tf.cast(batch_size, tf.int32), self.context_size]))
        return context

    # ------------------------------------------------------------- the API
    def base_distribution(self, context=None, temperature=1.0):
        """N(0, T² I), with batch shape [N] for a context [N, F]."""
        if self.context_shape is None:
            return super().base_distribution(context, temperature)
        context = self.prepare_context(context)
        shape = tf.concat([tf.shape(context)[:1], self.latent_shape], 0)
        return tfd.Independent(tfd.Normal(tf.zeros(shape), temperature * tf.ones(shape)),
                               reinterpreted_batch_ndims=len(self.latent_shape))

    def log_prob(self, x, context=None):
        """log p(x | context) in nats; context [F] or [batch, F]. -> [batch]."""
        if self.context_shape is None:
            return super().log_prob(x, context)
        self._ensure_built()
        x = self.validate_input(x)
        return self.distribution(self.prepare_context(context, tf.shape(x)[0])).log_prob(x)

    def sample(self, n, *, seed=None, context=None, temperature=1.0):
        """x ~ p(x | context): context [F] (for all n) or [n, F]. -> [n, *event_shape]."""
        if self.context_shape is None:
            return super().sample(n, seed=seed, context=context, temperature=temperature)
        self._ensure_built()
        context = self.prepare_context(context, n)
        return self.distribution(context, temperature).sample(seed=as_seed(seed))

    def encode(self, x, context=None):
        if self.context_shape is None:
            return super().encode(x, context)
        self._ensure_built()
        x = self.validate_input(x)
        return self.bijector(self.prepare_context(context, tf.shape(x)[0])).inverse(x)

    def decode(self, z, context=None):
        if self.context_shape is None:
            return super().decode(z, context)
        self._ensure_built()
        z = tf.convert_to_tensor(z, tf.float32)
        return self.bijector(self.prepare_context(context, tf.shape(z)[0])).forward(z)

    def call(self, x, training=False, context=None):
        if self.context_shape is None:
            return super().call(x, training=training)
        return self.log_prob(x, context)

    # ------------------------------------------------------------ training
    def unpack(self, data):
        """(x, context) from `fit(x, context)`, `fit((x, context))` or a dataset of (x, context)."""
        x, context = super().unpack(data)
        if self.context_shape is not None and context is None and isinstance(x, (tuple, list)) and len(x) == 2:
            x, context = x
        return x, context

    def fit(self, x=None, y=None, **kwargs):
        """`fit(x, context)`, `fit((x, context))` or `fit(dataset of (x, context))`
        for a conditional model: arrays are checked before training."""
        if self.context_shape is not None:
            name = type(self).__name__
            if isinstance(x, tf.data.Dataset):
                spec = x.element_spec
                if not (isinstance(spec, tuple) and len(spec) >= 2):
                    raise ValueError(f"{name}: expected a dataset of (x, context) pairs with "
                                     f"{self._expected_context()}, got elements {spec}")
            else:
                data, context = (x, y) if y is not None or not isinstance(x, (tuple, list)) or len(x) != 2 else x
                if context is None:
                    raise ValueError(f"{name}: expected fit((x, context)) or fit(x, context) with "
                                     f"{self._expected_context()}, got no context")
                if isinstance(data, np.ndarray) and isinstance(context, np.ndarray):
                    if context.ndim != 2 or context.shape != (len(data), self.context_size):
                        raise ValueError(f"{name}: expected a context of shape [{len(data)}, {self.context_size}] "
                                         f"(context_shape={self.context_shape}), got {list(context.shape)}")
                    self.prepare_context(context)
                    if np.asarray(data).dtype.kind == "f" and not np.all(np.isfinite(data)):
                        raise ValueError(f"expected finite training data, got "
                                         f"{int(np.sum(~np.isfinite(data)))} NaN/inf values")
                    self.validate_input(data[:1])
        return super().fit(x, y, **kwargs)

    # -------------------------------------------------------------- export
    @property
    def _default_save_signature(self):
        # Keras traces `call(x)` for a SavedModel's default signature; a
        # conditional flow has no density without its context (the export's
        # signatures take it explicitly).
        return None if self.context_shape is not None else super()._default_save_signature

    def export_signatures(self):
        """`log_prob(x, context)`, `sample(n, seed, context)` (context [1, F]
        for all n, or [n, F]), `encode(x, context)`, `decode(z, context)`."""
        if self.context_shape is None:
            return super().export_signatures()
        event = tf.TensorSpec([None, *self.event_shape], tf.float32, name="x")
        latent = tf.TensorSpec([None, *self.latent_shape], tf.float32, name="z")

        def context_spec():
            return tf.TensorSpec([None, self.context_size], tf.float32, name="context")

        return {
            "log_prob": (lambda x, context: {"log_prob": self.log_prob(x, context)}, [event, context_spec()]),
            "sample": (
                lambda n, seed, context: {"samples": self.sample(n, seed=seed, context=context)},
                [tf.TensorSpec([], tf.int32, name="n"), tf.TensorSpec([], tf.int32, name="seed"), context_spec()],
            ),
            "encode": (lambda x, context: {"z": self.encode(x, context)}, [event, context_spec()]),
            "decode": (lambda z, context: {"x": self.decode(z, context)}, [latent, context_spec()]),
        }
