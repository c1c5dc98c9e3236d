"""Distribution layers: Keras 3 layers that own the weights mapping features to
the parameters of a TFP distribution, and build that distribution on each call.

The weights and the mathematics never mix: `layer(features)` returns a
parameter tensor, `layer.make_distribution(params)` the `tfd.Distribution`
(batch shape = the leading dimensions of `params`, event shape =
`layer.event_shape`), and `layer.distribution(features)` both. Layers used for
latent variables also draw reparameterized samples from explicit noise
(`sample_from_noise`), so that a sample is a differentiable function of the
parameters (Kingma & Welling 2014, Sec. 2.4; Rezende et al. 2014, Sec. 3) and
a fixed noise tensor gives a fixed sample.

Input features are either flat, `[batch, num_features]`, or, for images,
per-pixel, `[batch, H, W, num_features]` when `event_shape = (H, W, C)`
(the output of `tfdgm.nn.ConvDecoder`).

References:
  Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014
  (https://arxiv.org/abs/1312.6114), Appendix C (Bernoulli and Gaussian MLPs).
  Rezende, Mohamed & Wierstra, "Stochastic Backpropagation and Approximate
  Inference in Deep Generative Models", ICML 2014 (https://arxiv.org/abs/1401.4082).
  Salimans et al., "PixelCNN++", ICLR 2017 (discretized logistic mixture).
  van den Oord et al., "Pixel Recurrent Neural Networks", ICML 2016, Sec. 5.3
  (256-way softmax over pixel values).
"""

import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfdgm.distributions.discretized_logistic import DiscretizedLogisticMixture

tfd = tfp.distributions
tfb = tfp.bijectors

__all__ = [
    "DistributionLayer",
    "BernoulliLayer",
    "NormalLayer",
    "FlatParamsLayer",
    "MultivariateNormalTriLLayer",
    "DiscretizedLogisticMixtureLayer",
    "CategoricalLayer",
    "LIKELIHOODS",
    "make_likelihood_layer",
]

_SOFTPLUS_ONE = math.log(math.e - 1.0)  # softplus(_SOFTPLUS_ONE) = 1


class DistributionLayer(keras.layers.Layer):
    """Base: a `Dense` projection of the features to `params_per_dim` numbers per
    event dimension (or `num_params` in total), then `make_distribution`.

    Subclasses set `params_per_dim` and implement `make_distribution(params)`
    (and `sample_from_noise` / `noise_kind` when used for latents).

    Arguments:
      event_shape: shape of one draw, e.g. `(784,)` or `(28, 28, 1)`.
    Shapes:
      features: [batch, F] or [batch, H, W, F] -> params [batch, *event_shape, P].
    """

    params_per_dim = 1
    #: "normal" or "uniform": the noise `sample_from_noise` transforms.
    noise_kind = None

    def __init__(self, event_shape, **kwargs):
        super().__init__(**kwargs)
        self.event_shape = tuple(int(d) for d in np.atleast_1d(event_shape))
        self.event_ndims = len(self.event_shape)
        self.num_dims = int(np.prod(self.event_shape))
        self.projection = None

    def _projection_units(self, spatial):
        per_dim = self.params_per_dim
        return self.event_shape[-1] * per_dim if spatial else self.num_dims * per_dim

    def _is_spatial(self, features_shape):
        return (
            len(features_shape) == self.event_ndims + 1
            and self.event_ndims > 1
            and tuple(features_shape[1:-1]) == self.event_shape[:-1]
        )

    def build(self, features_shape):
        if len(features_shape) != 2 and not self._is_spatial(features_shape):
            raise ValueError(
                f"{type(self).__name__}: expected features of shape [batch, F] or "
                f"[batch, {', '.join(map(str, self.event_shape[:-1]))}, F], got {list(features_shape)}"
            )
        self._spatial = len(features_shape) != 2
        self.projection = keras.layers.Dense(self._projection_units(self._spatial), name="projection")
        self.projection.build((None, features_shape[-1]))
        self.built = True

    def compute_output_shape(self, features_shape):
        return (features_shape[0], *self.event_shape, self.params_per_dim)

    def call(self, features):
        params = self.projection(features)
        leading = tf.shape(params)[:1]
        return tf.reshape(params, tf.concat([leading, self.event_shape, [self.params_per_dim]], 0))

    def _independent(self, base):
        return tfd.Independent(base, reinterpreted_batch_ndims=self.event_ndims)

    def make_distribution(self, params):
        """params: [*batch, *event_shape, P] -> tfd.Distribution (override)."""
        raise NotImplementedError

    def distribution(self, features):
        """The distribution whose parameters the features determine."""
        return self.make_distribution(self(features))

    def mean(self, params):
        """E[x]: [*batch, *event_shape] (the picture to show for a decoder)."""
        return self.make_distribution(params).mean()

    def sample_from_noise(self, params, noise):
        """A sample as a deterministic function of `noise` ([*batch, *event_shape])."""
        raise NotImplementedError(f"{type(self).__name__} draws no latent samples from noise")

    def sample_and_log_prob(self, params, noise):
        """(sample, log-density of that sample) from noise; -> ([*batch, *event], [*batch])."""
        sample = self.sample_from_noise(params, noise)
        return sample, self.make_distribution(params).log_prob(sample)

    def get_config(self):
        return {**super().get_config(), "event_shape": list(self.event_shape)}


class BernoulliLayer(DistributionLayer):
    """Independent Bernoulli: p(x) = prod_i sigma(l_i)^x_i (1 - sigma(l_i))^(1 - x_i).

    The decoder of binary data (Kingma & Welling 2014, Appendix C.1) and the
    stochastic binary units of a Helmholtz machine / sigmoid belief net.
    Samples from uniform noise u: x_i = [u_i < sigma(l_i)] (not differentiable;
    the models that use it train by wake-sleep or score functions).
    """

    noise_kind = "uniform"

    def make_distribution(self, params):
        return self._independent(tfd.Bernoulli(logits=params[..., 0], dtype=tf.float32))

    def mean(self, params):
        return tf.sigmoid(params[..., 0])

    def sample_from_noise(self, params, noise):
        return tf.cast(noise < tf.sigmoid(params[..., 0]), tf.float32)


class NormalLayer(DistributionLayer):
    """Independent Normal N(x; mu(h), diag sigma(h)^2).

    Arguments:
      event_shape: shape of one draw.
      scale: "amortized" (sigma = softplus(.) + min_scale computed from the
        features; Kingma & Welling 2014, Appendix C.2), "shared" (one learned
        sigma per dimension, not depending on the features), or a positive
        float (a fixed sigma: the squared-error likelihood).
      min_scale: floor of a learned sigma, keeping the density bounded.
    Reparameterized: x = mu + sigma * eps, eps ~ N(0, I).
    """

    noise_kind = "normal"

    def __init__(self, event_shape, scale="amortized", min_scale=1e-3, **kwargs):
        super().__init__(event_shape, **kwargs)
        if not (scale in ("amortized", "shared") or (isinstance(scale, (int, float)) and scale > 0)):
            raise ValueError(f'NormalLayer: expected scale "amortized", "shared" or a positive float, got {scale!r}')
        self.scale = scale
        self.min_scale = float(min_scale)
        self.params_per_dim = 2 if scale == "amortized" else 1

    def build(self, features_shape):
        super().build(features_shape)
        if self.scale == "shared":
            self.raw_scale = self.add_weight(name="raw_scale", shape=self.event_shape, initializer="zeros")

    def _loc_scale(self, params):
        loc = params[..., 0]
        if self.scale == "amortized":
            scale = tf.nn.softplus(params[..., 1] + _SOFTPLUS_ONE) + self.min_scale
        elif self.scale == "shared":
            scale = tf.nn.softplus(self.raw_scale + _SOFTPLUS_ONE) + self.min_scale
            scale = tf.broadcast_to(scale, tf.shape(loc))
        else:
            scale = tf.fill(tf.shape(loc), float(self.scale))
        return loc, scale

    def make_distribution(self, params):
        return self._independent(tfd.Normal(*self._loc_scale(params)))

    def mean(self, params):
        return params[..., 0]

    def sample_from_noise(self, params, noise):
        loc, scale = self._loc_scale(params)
        return loc + scale * noise

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "min_scale": self.min_scale}


class FlatParamsLayer(DistributionLayer):
    """A distribution layer whose parameters are one flat vector per example
    (`num_params` of them, set by the subclass) projected from flat features."""

    def build(self, features_shape):
        if len(features_shape) != 2:
            raise ValueError(f"{type(self).__name__}: expected features [batch, F], got {list(features_shape)}")
        self._spatial = False
        self.projection = keras.layers.Dense(self.num_params, name="projection")
        self.projection.build((None, features_shape[-1]))
        self.built = True

    def compute_output_shape(self, features_shape):
        return (features_shape[0], self.num_params)

    def call(self, features):
        return self.projection(features)


class MultivariateNormalTriLLayer(FlatParamsLayer):
    """Full-covariance Normal N(x; mu(h), L(h) L(h)^T), L lower-triangular with a
    positive diagonal (`tfb.FillScaleTriL`: softplus diagonal + 1e-5).

    Flat events only (`event_shape = (D,)`); D + D(D+1)/2 parameters.
    Reparameterized: x = mu + L eps (Rezende et al. 2014, Sec. 3; a full-rank
    Gaussian posterior). TFP has no analytic KL from it to an independent
    Normal prior, so a VAE using it as posterior estimates the KL by Monte Carlo.
    """

    noise_kind = "normal"

    def __init__(self, event_shape, **kwargs):
        super().__init__(event_shape, **kwargs)
        if self.event_ndims != 1:
            raise ValueError(f"MultivariateNormalTriLLayer: expected a flat event_shape (D,), got {self.event_shape}")
        dim = self.event_shape[0]
        self.num_params = dim + dim * (dim + 1) // 2

    def _loc_tril(self, params):
        dim = self.event_shape[0]
        raw = params[..., dim:]
        tril = tfb.FillScaleTriL(diag_shift=1e-5).forward(raw)
        return params[..., :dim], tril

    def make_distribution(self, params):
        loc, tril = self._loc_tril(params)
        return tfd.MultivariateNormalTriL(loc=loc, scale_tril=tril)

    def mean(self, params):
        return params[..., : self.event_shape[0]]

    def sample_from_noise(self, params, noise):
        loc, tril = self._loc_tril(params)
        return loc + tf.linalg.matvec(tril, noise)


class DiscretizedLogisticMixtureLayer(DistributionLayer):
    """Per-dimension mixture of discretized logistics over levels {0, ..., L-1}
    (Salimans et al. 2017, eq. 2; see `DiscretizedLogisticMixture`).

    The data are the integer levels themselves (preprocessing `none`). Locations
    mu = (L-1)/2 (1 + a) and scales s = (L-1)/2 exp(clip(b, -7, 5)) are set in
    the [-1, 1] units of PixelCNN++, mapped to level units.

    Arguments:
      event_shape: shape of one example.
      num_components: mixture components M per dimension.
      num_levels: L (256 for 8-bit images).
    """

    def __init__(self, event_shape, num_components=5, num_levels=256, **kwargs):
        super().__init__(event_shape, **kwargs)
        self.num_components = int(num_components)
        self.num_levels = int(num_levels)
        self.params_per_dim = 3 * self.num_components

    def make_distribution(self, params):
        logits, raw_loc, raw_log_scale = tf.split(params, 3, axis=-1)
        half = (self.num_levels - 1) / 2.0
        loc = half * (1.0 + raw_loc)
        scale = half * tf.exp(tf.clip_by_value(raw_log_scale, -7.0, 5.0))
        return self._independent(DiscretizedLogisticMixture(logits, loc, scale, self.num_levels))

    def get_config(self):
        return {**super().get_config(), "num_components": self.num_components, "num_levels": self.num_levels}


class CategoricalLayer(DistributionLayer):
    """An independent L-way softmax per dimension over the levels {0, ..., L-1}
    (van den Oord et al. 2016, Sec. 5.3: the 256-way pixel softmax).

    The data are the integer levels (preprocessing `none`). Memory grows as
    L per dimension and per importance sample.

    Arguments:
      event_shape: shape of one example.
      num_levels: L (256 for 8-bit images).
    """

    def __init__(self, event_shape, num_levels=256, **kwargs):
        super().__init__(event_shape, **kwargs)
        self.num_levels = int(num_levels)
        self.params_per_dim = self.num_levels

    def make_distribution(self, params):
        return self._independent(tfd.Categorical(logits=params, dtype=tf.float32))

    def mean(self, params):
        levels = tf.range(self.num_levels, dtype=tf.float32)
        return tf.reduce_sum(tf.nn.softmax(params, axis=-1) * levels, axis=-1)

    def get_config(self):
        return {**super().get_config(), "num_levels": self.num_levels}


#: likelihood name -> (layer class, keyword arguments, data kind).
LIKELIHOODS = {
    "bernoulli": (BernoulliLayer, {}, "binary"),
    "gaussian": (NormalLayer, {"scale": "amortized"}, "continuous"),
    "gaussian_shared_scale": (NormalLayer, {"scale": "shared"}, "continuous"),
    "gaussian_fixed": (NormalLayer, {"scale": 1.0}, "continuous"),
    "mvn_tril": (MultivariateNormalTriLLayer, {}, "continuous"),
    "logistic_mixture": (DiscretizedLogisticMixtureLayer, {}, "levels"),
    "categorical256": (CategoricalLayer, {"num_levels": 256}, "levels"),
}


def make_likelihood_layer(likelihood, event_shape, name="likelihood", **kwargs):
    """The distribution layer for a likelihood name (see `LIKELIHOODS`).

    Raises:
      ValueError: naming the known likelihoods.
    """
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"unknown likelihood {likelihood!r}; expected one of: {', '.join(LIKELIHOODS)}")
    layer_class, defaults, _ = LIKELIHOODS[likelihood]
    try:
        return layer_class(event_shape, name=name, **{**defaults, **kwargs})
    except (TypeError, ValueError) as error:
        raise ValueError(f"bad options for likelihood {likelihood!r}: {error}") from None
