"""Permutation-invariant set functions f({x_1..x_n}) = rho(pool_i phi(x_i)).

References:
  Zaheer et al., "Deep Sets", NeurIPS 2017, Theorem 2 (invariant form) and
  eq. 4 (permutation-equivariant layer).
"""

import keras
import tensorflow as tf

__all__ = ["PermutationEquivariant", "DeepSets", "deepsets_discriminator", "deepsets_encoder"]

_POOLS = ("mean", "sum", "max")


def _pool(x, pool, axis):
    if pool == "mean":
        return tf.reduce_mean(x, axis=axis)
    if pool == "sum":
        return tf.reduce_sum(x, axis=axis)
    return tf.reduce_max(x, axis=axis)


class PermutationEquivariant(keras.layers.Layer):
    """y_i = act(x_i Λ + b - pool_j(x_j) Γ) (Zaheer et al. 2017, eq. 4 with a pool).

    Permuting the points permutes the outputs the same way.
    Arguments:
      units: output features per point.
      pool: "mean", "sum" or "max" over the points.
      activation: Keras activation.
    Shapes: [batch, n, d] -> [batch, n, units].
    """

    def __init__(self, units, pool="max", activation="relu", **kwargs):
        super().__init__(**kwargs)
        if pool not in _POOLS:
            raise ValueError(f"expected pool in {_POOLS}, got {pool!r}")
        self.units, self.pool, self.activation = int(units), pool, keras.activations.get(activation)
        self.point = keras.layers.Dense(self.units, name="lambda")
        self.context = keras.layers.Dense(self.units, use_bias=False, name="gamma")

    def build(self, input_shape):
        self.point.build((None, input_shape[-1]))
        self.context.build((None, input_shape[-1]))
        self.built = True

    def call(self, x):
        pooled = _pool(x, self.pool, axis=-2)[..., None, :]
        return self.activation(self.point(x) - self.context(pooled))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)


class DeepSets(keras.layers.Layer):
    """f(X) = rho(pool_i phi(x_i)) over the points of a set (Zaheer et al. 2017, Thm. 2).

    phi is a stack of permutation-equivariant layers, so f is exactly
    invariant to permuting the points (up to float rounding of the pool).

    Arguments:
      phi_units: widths of the equivariant layers.
      rho_units: widths of the MLP after pooling.
      output_units: size of f(X).
      pool: "mean" (default), "sum" or "max" for the invariant pooling.
    Shapes: [batch, n, d] -> [batch, output_units].
    """

    def __init__(self, phi_units=(64, 64), rho_units=(64,), output_units=1, pool="mean", **kwargs):
        super().__init__(**kwargs)
        if pool not in _POOLS:
            raise ValueError(f"expected pool in {_POOLS}, got {pool!r}")
        self.pool = pool
        self.phi = [PermutationEquivariant(u, pool="max", activation="elu", name=f"phi_{i}") for i, u in enumerate(phi_units)]
        self.rho = [keras.layers.Dense(int(u), activation="elu", name=f"rho_{i}") for i, u in enumerate(rho_units)]
        self.head = keras.layers.Dense(int(output_units), name="head")

    def build(self, input_shape):
        width = input_shape[-1]
        for layer in self.phi:
            layer.build((None, None, width))
            width = layer.units
        for layer in self.rho:
            layer.build((None, width))
            width = layer.units
        self.head.build((None, width))
        self.built = True

    def call(self, x):
        for layer in self.phi:
            x = layer(x)
        h = _pool(x, self.pool, axis=-2)
        for layer in self.rho:
            h = layer(h)
        return self.head(h)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.head.units)


def deepsets_discriminator(set_shape, phi_units=(64, 64), rho_units=(64,), pool="mean", name="discriminator"):
    """A Keras model D: [batch, n, d] -> [batch, 1], invariant to the order of the n points."""
    inputs = keras.Input(tuple(int(s) for s in set_shape), name="points")
    outputs = DeepSets(phi_units, rho_units, 1, pool=pool, name="deepsets")(inputs)
    return keras.Model(inputs, outputs, name=name)


def deepsets_encoder(point_dim, output_units, phi_units=(64, 64), rho_units=(64,), pool="max", name="encoder"):
    """A Keras model E: [batch, n, point_dim] -> [batch, output_units] for sets of any size n.

    Max pooling (the default, as PointNet, Qi et al. 2017) is invariant to the
    order of the points with no rounding at all: max does not depend on the
    order of its arguments, unlike a float sum or mean.
    """
    inputs = keras.Input((None, int(point_dim)), name="points")
    outputs = DeepSets(phi_units, rho_units, int(output_units), pool=pool, name="deepsets")(inputs)
    return keras.Model(inputs, outputs, name=name)
