"""Planar flows (Rezende & Mohamed 2015): the bijector, with an exact inverse by a
scalar root-find, and Keras 3 layers owning its parameters (free, or produced
from a context for amortized posteriors).
"""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfdgm.bijectors.base import Bijector

tfb = tfp.bijectors

__all__ = ["Planar", "planar_u_hat", "identity_offset", "PlanarLayer", "AmortizedPlanar"]

_BISECTION_STEPS = 50
# softplus(log(e - 1)) = 1, so m(wᵀu) = wᵀu = log(e - 1) there and û = u.
_IDENTITY_WU = 0.5413248546129181


def identity_offset(u, w, event_ndims=1):
    """u + log(e-1) w / ||w||²: with u = 0 this gives û = 0, the identity map.

    (u = 0 itself does not: û = (log 2 - 1) w / ||w||² then.)
    """
    norm_sq = _dot(w, w, event_ndims) + 1e-12
    return u + _expand(_IDENTITY_WU / norm_sq, event_ndims) * w


def _dot(a, b, event_ndims):
    return tf.reduce_sum(a * b, axis=list(range(-event_ndims, 0)))


def _expand(t, event_ndims):
    return tf.reshape(t, tf.concat([tf.shape(t), tf.ones([event_ndims], tf.int32)], axis=0))


def planar_u_hat(u, w, event_ndims=1):
    """Rezende & Mohamed (2015), Appendix A: the û that keeps the map invertible.

        û = u + (m(wᵀu) - wᵀu) w / ||w||²,   m(a) = -1 + softplus(a),

    so wᵀû = m(wᵀu) > -1 (>= -1 in floating point) whatever u and w are.

    Arguments:
      u, w: [*param_batch, *event_shape].
      event_ndims: rank of the event.
    Returns:
      û, same shape as u.
    """
    wu = _dot(w, u, event_ndims)
    m = -1.0 + tf.nn.softplus(wu)
    norm_sq = _dot(w, w, event_ndims) + 1e-12
    u_hat = u + _expand((m - wu) / norm_sq, event_ndims) * w
    # One refinement pass: when u is large and nearly anti-parallel to w the
    # first update cancels catastrophically in float32; û is now small, so
    # a second projection fixes wᵀû = m to rounding.
    return u_hat + _expand((m - _dot(w, u_hat, event_ndims)) / norm_sq, event_ndims) * w


class Planar(Bijector):
    """The planar map f(z) = z + û h(wᵀz + b), h = tanh (Rezende & Mohamed 2015, eq. 10):

        log|det df/dz| = log|1 + h'(wᵀz + b) wᵀû|                 (eq. 11-12)

    with û from `planar_u_hat` (Appendix A), so wᵀû >= -1 and f is a
    bijection.

    Inverse (not in the paper): every point moves along û only, so with
    a = wᵀz + b and c = wᵀy + b, projecting y = f(z) on w gives the scalar
    equation

        g(a) = a + (wᵀû) tanh(a) - c = 0,

    where g is non-decreasing (g' = 1 + wᵀû (1 - tanh² a) >= 0) and its root
    lies in [c - |wᵀû|, c + |wᵀû|] because |tanh| <= 1. The root is found by
    50 bisection steps (a `tf.while_loop` of fixed length: XLA-friendly), then
    z = y - û tanh(a). One Newton step from the (gradient-stopped) root
    polishes it and carries the implicit-function gradient
    da/dθ = -(∂g/∂θ) / g', so the inverse is differentiable for training.

    References:
      Rezende & Mohamed, "Variational Inference with Normalizing Flows", ICML
      2015, https://arxiv.org/abs/1505.05770, Sec. 4.1 and Appendix A.

    Arguments:
      u, w: [*param_batch, *event_shape] (u unconstrained; û is computed).
      b: [*param_batch] bias.
      event_ndims: rank of the event (1 for vectors).
    """

    def __init__(self, u, w, b, event_ndims=1, validate_args=False, name="planar"):
        parameters = dict(locals())
        self._u = tf.convert_to_tensor(u, tf.float32)
        self._w = tf.convert_to_tensor(w, tf.float32)
        self._b = tf.convert_to_tensor(b, tf.float32)
        self._event_ndims = int(event_ndims)
        super().__init__(forward_min_event_ndims=self._event_ndims, validate_args=validate_args,
                         parameters=parameters, name=name)

    @property
    def u_hat(self):
        return planar_u_hat(self._u, self._w, self._event_ndims)

    def _pre_activation(self, z):
        return _dot(self._w, z, self._event_ndims) + self._b

    def _map_and_log_det(self, z, u_hat):
        """f(z) (eq. 10) and log|det df/dz| (eq. 11-12), sharing a and û."""
        h = tf.tanh(self._pre_activation(z))
        wu = _dot(self._w, u_hat, self._event_ndims)
        y = z + u_hat * _expand(h, self._event_ndims)
        return y, tf.math.log(tf.abs(1.0 + (1.0 - tf.square(h)) * wu))

    def forward_and_log_det(self, z):
        return self._map_and_log_det(z, self.u_hat)

    def inverse_and_log_det(self, y):
        u_hat = self.u_hat
        z = self._inverse_map(y, u_hat)
        return z, -self._map_and_log_det(z, u_hat)[1]

    def _inverse_map(self, y, u_hat):
        n = self._event_ndims
        wu = _dot(self._w, u_hat, n)
        c = self._pre_activation(y)
        shape = tf.broadcast_dynamic_shape(tf.shape(wu), tf.shape(c))
        wu, c = tf.broadcast_to(wu, shape), tf.broadcast_to(c, shape)

        def g(a, wu, c):
            return a + wu * tf.tanh(a) - c

        root = _bisect(tf.stop_gradient(wu), tf.stop_gradient(c), g)
        # One differentiable Newton step: value ~ unchanged, gradient = IFT.
        slope = 1.0 + wu * (1.0 - tf.square(tf.tanh(root)))
        a = root - g(root, wu, c) / tf.maximum(slope, 1e-6)
        return y - u_hat * _expand(tf.tanh(a), n)


def _bisect(wu, c, g):
    radius = tf.abs(wu)
    low, high = c - radius - 1e-3, c + radius + 1e-3

    def body(i, low, high):
        mid = 0.5 * (low + high)
        above = g(mid, wu, c) > 0.0
        return i + 1, tf.where(above, low, mid), tf.where(above, mid, high)

    _, low, high = tf.while_loop(lambda i, *_: i < _BISECTION_STEPS, body, (tf.constant(0), low, high),
                                 maximum_iterations=_BISECTION_STEPS)
    return 0.5 * (low + high)


class PlanarLayer(keras.layers.Layer):
    """Owns one planar map's free parameters u, w, b; `bijector()` builds `Planar`.

    The map's u is `identity_offset(u_0, w)` = u_0 + log(e-1) w/||w||², so
    the trainable u_0 = 0 gives û = 0: the layer starts at the identity,
    with w ~ N(0, 1/D) so that the gradient is non-zero there.

    Arguments:
      event_shape: shape of z, e.g. `(2,)`.
    """

    def __init__(self, event_shape, **kwargs):
        super().__init__(**kwargs)
        self.event_shape = tuple(int(d) for d in event_shape)

    def build(self, input_shape=None):
        size = 1
        for d in self.event_shape:
            size *= d
        self.u = self.add_weight(name="u", shape=self.event_shape, initializer="zeros")
        self.w = self.add_weight(name="w", shape=self.event_shape,
                                 initializer=keras.initializers.RandomNormal(stddev=size ** -0.5))
        self.b = self.add_weight(name="b", shape=(), initializer="zeros")
        self.built = True

    def bijector(self, context=None):
        n = len(self.event_shape)
        return Planar(identity_offset(self.u, self.w, n), self.w, self.b, event_ndims=n,
                      name=f"{self.name}_bijector")

    def call(self, z):
        return self.bijector().forward(z)


class AmortizedPlanar(keras.layers.Layer):
    """Maps a context (e.g. a VAE encoder's features) to `num_layers` planar maps.

    This is the flexible posterior of Rezende & Mohamed (2015, Sec. 4.1 and
    6): the encoder output h gives per-example (u_k, w_k, b_k), and
    q_K(z_K | x) = q_0(z_0 | x) - sum_k log|det df_k/dz|. Use it as

        flow = AmortizedPlanar(latent_dim=8, num_layers=4)
        chain = flow.bijector(h)                # h: [batch, features]
        z_K = chain.forward(z_0)                # z_0: [(samples,) batch, latent_dim]
        log_q = log_q0 - chain.forward_log_det_jacobian(z_0, event_ndims=1)

    The u heads are zero-initialized and offset like `PlanarLayer`'s, so
    every map starts at the identity; the w heads are random.

    Arguments:
      latent_dim: size of z.
      num_layers: number of planar maps K.
    """

    def __init__(self, latent_dim, num_layers=4, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        self.num_layers = int(num_layers)
        k, d = self.num_layers, self.latent_dim
        self.u_head = keras.layers.Dense(k * d, kernel_initializer="zeros")
        self.w_head = keras.layers.Dense(k * d, bias_initializer=keras.initializers.RandomNormal(
            stddev=d ** -0.5))
        self.b_head = keras.layers.Dense(k, kernel_initializer="zeros")

    def build(self, input_shape):
        for head in (self.u_head, self.w_head, self.b_head):
            head.build(input_shape)
        self.built = True

    def parameters(self, context):
        """context: [batch, features] -> (u, w: [K, batch, D], b: [K, batch])."""
        context = tf.convert_to_tensor(context, tf.float32)
        batch = tf.shape(context)[0]
        k, d = self.num_layers, self.latent_dim

        def per_layer(t, width):
            return tf.transpose(tf.reshape(t, [batch, k, width]), [1, 0, 2])

        u = per_layer(self.u_head(context), d)
        w = per_layer(self.w_head(context), d)
        b = tf.transpose(self.b_head(context))
        return u, w, b

    def bijector(self, context):
        """tfb.Chain of the K planar maps for this context (z_0 -> z_K)."""
        if context is None:
            raise ValueError("AmortizedPlanar: expected a context [batch, features], got None")
        u, w, b = self.parameters(context)
        maps = [Planar(identity_offset(u[i], w[i]), w[i], b[i], name=f"planar_{i}")
                for i in range(self.num_layers)]
        return tfb.Chain(list(reversed(maps)))

    def call(self, context):
        return self.parameters(context)
