"""Multilayer perceptrons that build from shapes alone (encoder/decoder trunks)."""

import keras

__all__ = ["MLP"]


class MLP(keras.layers.Layer):
    """A stack of `Dense` layers: features = act(W_L ... act(W_1 x + b_1) ... + b_L).

    With `hidden_units=()` it is the identity, so a distribution layer can sit
    directly on its input (a sigmoid belief net layer).

    Arguments:
      hidden_units: widths of the hidden layers, e.g. `[200, 200]`.
      activation: Keras activation of every layer (default "tanh", as in
        Burda et al. 2016, Sec. 5).
    Shapes:
      x: [batch, in_features] -> [batch, hidden_units[-1]] (or in_features).
    """

    def __init__(self, hidden_units=(), activation="tanh", **kwargs):
        super().__init__(**kwargs)
        self.hidden_units = [int(units) for units in hidden_units]
        self.activation = activation
        self.dense_layers = [
            keras.layers.Dense(units, activation=activation, name=f"dense_{i}")
            for i, units in enumerate(self.hidden_units)
        ]

    def build(self, input_shape):
        width = input_shape[-1]
        for layer in self.dense_layers:
            layer.build((None, width))
            width = layer.units
        self.built = True

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.hidden_units[-1] if self.hidden_units else input_shape[-1])

    def call(self, x):
        for layer in self.dense_layers:
            x = layer(x)
        return x
