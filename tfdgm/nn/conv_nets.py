"""Convolutional encoder and decoder trunks for image VAEs (shapes built eagerly).

The encoder halves the resolution twice with stride-2 convolutions and ends in
a dense feature vector; the decoder mirrors it with transposed convolutions
and returns per-pixel features [batch, H, W, filters] that a distribution
layer maps to per-pixel parameters (Kingma & Welling 2014 use MLPs; the
convolutional form is the usual one for images, e.g. Salimans et al. 2015).
"""

import keras

__all__ = ["ConvEncoder", "ConvDecoder"]


def _check_image_shape(event_shape, name):
    if len(event_shape) != 3 or event_shape[0] % 4 or event_shape[1] % 4:
        raise ValueError(
            f"{name}: expected an image event_shape (H, W, C) with H and W divisible by 4, "
            f"got {tuple(event_shape)}"
        )


class ConvEncoder(keras.layers.Layer):
    """x: [batch, H, W, C] -> features [batch, dense_units].

    Arguments:
      event_shape: (H, W, C), H and W divisible by 4.
      filters: channels of the two stride-2 convolutions.
      dense_units: width of the final dense layer.
      activation: Keras activation.
    """

    def __init__(self, event_shape, filters=(32, 64), dense_units=256, activation="relu", **kwargs):
        super().__init__(**kwargs)
        _check_image_shape(event_shape, "ConvEncoder")
        self.event_shape = tuple(event_shape)
        self.convs = [
            keras.layers.Conv2D(f, 3, strides=2, padding="same", activation=activation, name=f"conv_{i}")
            for i, f in enumerate(filters)
        ]
        self.flatten = keras.layers.Flatten()
        self.dense = keras.layers.Dense(dense_units, activation=activation, name="dense")
        self.dense_units = dense_units

    def build(self, input_shape):
        shape = (None, *self.event_shape)
        for conv in self.convs:
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
        flat = 1
        for d in shape[1:]:
            flat *= d
        self.dense.build((None, flat))
        self.built = True

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dense_units)

    def call(self, x):
        for conv in self.convs:
            x = conv(x)
        return self.dense(self.flatten(x))


class ConvDecoder(keras.layers.Layer):
    """z: [batch, latent_dim] -> per-pixel features [batch, H, W, filters[-1]].

    Arguments:
      event_shape: (H, W, C) of the images, H and W divisible by 4.
      filters: channels of the two stride-2 transposed convolutions.
      activation: Keras activation.
    """

    def __init__(self, event_shape, filters=(64, 32), activation="relu", **kwargs):
        super().__init__(**kwargs)
        _check_image_shape(event_shape, "ConvDecoder")
        self.event_shape = tuple(event_shape)
        height, width = self.event_shape[0] // 4, self.event_shape[1] // 4
        self.start_shape = (height, width, filters[0])
        self.dense = keras.layers.Dense(height * width * filters[0], activation=activation, name="dense")
        self.deconvs = [
            keras.layers.Conv2DTranspose(f, 3, strides=2, padding="same", activation=activation, name=f"deconv_{i}")
            for i, f in enumerate(filters)
        ]
        self.output_channels = filters[-1]

    def build(self, input_shape):
        self.dense.build((None, input_shape[-1]))
        shape = (None, *self.start_shape)
        for deconv in self.deconvs:
            deconv.build(shape)
            shape = deconv.compute_output_shape(shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.event_shape[:2], self.output_channels)

    def call(self, z):
        x = keras.ops.reshape(self.dense(z), (-1, *self.start_shape))
        for deconv in self.deconvs:
            x = deconv(x)
        return x
