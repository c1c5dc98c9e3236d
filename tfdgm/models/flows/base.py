"""The flow protocol: a base density pushed through a `tfb.Chain` of bijectors.

Every flow is `TransformedDistribution(base, Chain([...]))` with the chain
mapping latent z to data x (so `log_prob` runs the inverse, `sample` the
forward). Keras 3 layers own the weights; `bijector()` builds the chain from
them on each call (see `tfdgm.models.base` for why it is never cached).
"""

import tensorflow as tf
import tensorflow_probability as tfp

from tfdgm.models.base import as_seed
from tfdgm.models.density import DensityModel
from tfdgm.models.latent_tools import apply_attribute, attribute_vector, interpolate

tfd = tfp.distributions
tfb = tfp.bijectors

__all__ = ["FlowModel"]


class FlowModel(DensityModel):
    """Base of invertible models: `bijector()`, `encode`, `decode`, latent tools.

    Subclasses implement `build(input_shape)` and `bijector(context=None)`
    (a `tfb.Chain` from latent to data space); they may override
    `base_distribution(context=None)` (default: standard Normal over
    `event_shape`) and `latent_shape` when z is shaped differently from x.
    """

    @property
    def latent_shape(self):
        return self.event_shape

    def bijector(self, context=None):
        """The latent -> data `tfb.Chain` built from the current weights (override)."""
        raise NotImplementedError(f"{type(self).__name__} must implement bijector()")

    def base_distribution(self, context=None, temperature=1.0):
        """p(z); `temperature` scales its standard deviation (Glow, Sec. 5.2)."""
        shape = self.latent_shape
        return tfd.Independent(
            tfd.Normal(tf.zeros(shape), temperature * tf.ones(shape)),
            reinterpreted_batch_ndims=len(shape),
        )

    def distribution(self, context=None, temperature=1.0):
        return tfd.TransformedDistribution(
            self.base_distribution(context, temperature), self.bijector(context)
        )

    def sample(self, n, *, seed=None, context=None, temperature=1.0):
        """x = f(z), z ~ N(0, temperature^2 I): -> [n, *event_shape]."""
        self._ensure_built()
        return self.distribution(context, temperature).sample(n, seed=as_seed(seed))

    def encode(self, x, context=None):
        """z = f^{-1}(x): [batch, *event_shape] -> [batch, *latent_shape]."""
        self._ensure_built()
        return self.bijector(context).inverse(self.validate_input(x))

    def decode(self, z, context=None):
        """x = f(z): [batch, *latent_shape] -> [batch, *event_shape]."""
        self._ensure_built()
        return self.bijector(context).forward(tf.convert_to_tensor(z, tf.float32))

    def interpolate(self, start=None, end=None, *, num_steps=8, method="linear", seed=None, context=None):
        """Decoded points between the latents of two inputs ([1, *event_shape]
        or [*event_shape] each; None: a latent drawn from p(z) with `seed`).
        -> [num_steps, *event_shape] (see `GenerativeModel.interpolate`)."""
        self._ensure_built()
        drawn = None
        if start is None or end is None:
            drawn = self.base_distribution(context).sample(2, seed=as_seed(seed))
        ends = [drawn[index] if x is None else
                self.encode(tf.reshape(tf.cast(x, tf.float32), [1, *self.event_shape]), context)[0]
                for index, x in enumerate((start, end))]
        return self.decode(interpolate(ends[0], ends[1], num_steps, method), context)

    def attribute_vector(self, x_with, x_without, context=None):
        """Mean latent with an attribute minus mean latent without it."""
        return attribute_vector(self.encode(x_with, context), self.encode(x_without, context))

    def apply_attribute(self, x, vector, strength=1.0, context=None):
        """decode(encode(x) + strength * vector): e.g. strength < 0 removes it."""
        return self.decode(apply_attribute(self.encode(x, context), vector, strength), context)

    def export_signatures(self):
        signatures = super().export_signatures()
        latent = [None, *self.latent_shape]
        event = [None, *self.event_shape]
        signatures["encode"] = (
            lambda x: {"z": self.encode(x)},
            [tf.TensorSpec(event, tf.float32, name="x")],
        )
        signatures["decode"] = (
            lambda z: {"x": self.decode(z)},
            [tf.TensorSpec(latent, tf.float32, name="z")],
        )
        return signatures
