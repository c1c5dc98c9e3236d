"""Players of adversarial models as Keras 3 models built from shapes alone:
DCGAN convolutional generator/discriminator, MLP players, and the small
residual translator and patch discriminator of CycleGAN.

References:
  Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep
  Convolutional Generative Adversarial Networks", ICLR 2016, Sec. 3 (the
  architecture guidelines: strided convolutions, batch norm, ReLU in G with a
  bounded output, LeakyReLU in D, no fully connected hidden layers).
  Zhu et al., ICCV 2017, Sec. 4 / Appendix 7.2 (ResNet translator, PatchGAN).
"""

import keras

__all__ = [
    "mlp_generator",
    "mlp_discriminator",
    "dcgan_generator",
    "dcgan_discriminator",
    "num_upsamplings",
    "resnet_translator",
    "patch_discriminator",
]


def _normalization(kind, name):
    if kind == "batch":
        return keras.layers.BatchNormalization(name=name)
    if kind == "layer":  # per-example: keeps the critic's gradient penalty per-example (Gulrajani et al. 2017, Sec. 4)
        return keras.layers.LayerNormalization(axis=[1, 2, 3], name=name)
    if kind is None or kind == "none":
        return None
    raise ValueError(f"expected normalization 'batch', 'layer' or None, got {kind!r}")


def mlp_generator(input_dim, output_dim, hidden_units=(128, 128), output_activation=None, name="generator"):
    """G: [batch, input_dim] -> [batch, output_dim], ReLU hidden layers (Goodfellow et al. 2014)."""
    inputs = keras.Input((int(input_dim),), name="noise")
    h = inputs
    for i, units in enumerate(hidden_units):
        h = keras.layers.Dense(int(units), activation="relu", name=f"dense_{i}")(h)
    outputs = keras.layers.Dense(int(output_dim), activation=output_activation, name="output")(h)
    return keras.Model(inputs, outputs, name=name)


def mlp_discriminator(input_dim, hidden_units=(128, 128), name="discriminator"):
    """D: [batch, input_dim] -> [batch, 1] logits/scores, LeakyReLU(0.2) hidden layers."""
    inputs = keras.Input((int(input_dim),), name="x")
    h = inputs
    for i, units in enumerate(hidden_units):
        h = keras.layers.Dense(int(units), name=f"dense_{i}")(h)
        h = keras.layers.LeakyReLU(0.2, name=f"leaky_relu_{i}")(h)
    outputs = keras.layers.Dense(1, name="output")(h)
    return keras.Model(inputs, outputs, name=name)


def num_upsamplings(image_shape, maximum=2):
    """How many stride-2 stages fit: the largest k <= maximum with H and W divisible by 2^k."""
    height, width = image_shape[0], image_shape[1]
    k = 0
    while k < maximum and height % 2 ** (k + 1) == 0 and width % 2 ** (k + 1) == 0:
        k += 1
    return k


def dcgan_generator(input_dim, image_shape, base_filters=64, output_activation=None, name="generator"):
    """DCGAN generator (Radford et al. 2016, Fig. 1, scaled to small images).

    z is projected to an (H/2^k, W/2^k, base_filters*2^k) tensor, then k
    stride-2 transposed convolutions with batch norm and ReLU double the size;
    a last 5x5 convolution gives the C output channels.

    Shapes: [batch, input_dim] -> [batch, H, W, C].
    """
    height, width, channels = (int(d) for d in image_shape)
    k = num_upsamplings(image_shape)
    start_h, start_w, filters = height // 2**k, width // 2**k, base_filters * 2**k
    inputs = keras.Input((int(input_dim),), name="noise")
    h = keras.layers.Dense(start_h * start_w * filters, use_bias=False, name="project")(inputs)
    h = keras.layers.BatchNormalization(name="project_bn")(h)
    h = keras.layers.ReLU()(h)
    h = keras.layers.Reshape((start_h, start_w, filters))(h)
    for i in range(k):
        filters //= 2
        h = keras.layers.Conv2DTranspose(filters, 5, strides=2, padding="same", use_bias=False, name=f"up_{i}")(h)
        h = keras.layers.BatchNormalization(name=f"up_{i}_bn")(h)
        h = keras.layers.ReLU()(h)
    outputs = keras.layers.Conv2D(channels, 5, padding="same", activation=output_activation, name="output")(h)
    return keras.Model(inputs, outputs, name=name)


def dcgan_discriminator(image_shape, base_filters=64, normalization="batch", name="discriminator"):
    """DCGAN discriminator: stride-2 5x5 convolutions with LeakyReLU(0.2), no
    normalization on the first (Radford et al. 2016, Sec. 3), then one logit.

    `normalization="layer"` (or None) for a WGAN-GP critic, whose penalty is
    per example and so must not mix examples through batch norm.
    Shapes: [batch, H, W, C] -> [batch, 1].
    """
    inputs = keras.Input(tuple(int(d) for d in image_shape), name="x")
    h = inputs
    k = max(num_upsamplings(image_shape), 1)
    for i in range(k):
        h = keras.layers.Conv2D(base_filters * 2**i, 5, strides=2, padding="same", name=f"down_{i}")(h)
        norm = _normalization(normalization, f"down_{i}_norm") if i > 0 else None
        if norm is not None:
            h = norm(h)
        h = keras.layers.LeakyReLU(0.2)(h)
    h = keras.layers.Flatten()(h)
    outputs = keras.layers.Dense(1, name="output")(h)
    return keras.Model(inputs, outputs, name=name)


def resnet_translator(image_shape, base_filters=32, num_residual_blocks=2, output_activation=None, name="translator"):
    """A small CycleGAN translator (after Zhu et al. 2017, Appendix 7.2): a 7x7
    convolution, one stride-2 down-sampling, residual blocks, one stride-2
    up-sampling and a 7x7 output convolution; instance-style normalization is
    replaced by layer norm over each example. H and W must be even.
    Shapes: [batch, H, W, C] -> [batch, H, W, C].
    """
    height, width, channels = (int(d) for d in image_shape)
    if height % 2 or width % 2:
        raise ValueError(f"resnet_translator: expected even image height and width, got {image_shape}")
    inputs = keras.Input((height, width, channels), name="x")
    h = keras.layers.Conv2D(base_filters, 7, padding="same", name="input_conv")(inputs)
    h = keras.layers.ReLU()(keras.layers.LayerNormalization(axis=[1, 2, 3])(h))
    h = keras.layers.Conv2D(2 * base_filters, 3, strides=2, padding="same", name="down")(h)
    h = keras.layers.ReLU()(keras.layers.LayerNormalization(axis=[1, 2, 3])(h))
    for i in range(num_residual_blocks):
        r = keras.layers.Conv2D(2 * base_filters, 3, padding="same", name=f"res_{i}_a")(h)
        r = keras.layers.ReLU()(keras.layers.LayerNormalization(axis=[1, 2, 3])(r))
        r = keras.layers.Conv2D(2 * base_filters, 3, padding="same", name=f"res_{i}_b")(r)
        h = keras.layers.Add()([h, keras.layers.LayerNormalization(axis=[1, 2, 3])(r)])
    h = keras.layers.Conv2DTranspose(base_filters, 3, strides=2, padding="same", name="up")(h)
    h = keras.layers.ReLU()(keras.layers.LayerNormalization(axis=[1, 2, 3])(h))
    outputs = keras.layers.Conv2D(channels, 7, padding="same", activation=output_activation, name="output")(h)
    return keras.Model(inputs, outputs, name=name)


def patch_discriminator(image_shape, base_filters=32, name="discriminator"):
    """A PatchGAN discriminator (Zhu et al. 2017, Sec. 4): two stride-2 4x4
    convolutions with LeakyReLU(0.2), then a 4x4 convolution to one logit per
    patch. Shapes: [batch, H, W, C] -> [batch, H/4, W/4, 1]."""
    inputs = keras.Input(tuple(int(d) for d in image_shape), name="x")
    h = keras.layers.Conv2D(base_filters, 4, strides=2, padding="same", name="down_0")(inputs)
    h = keras.layers.LeakyReLU(0.2)(h)
    h = keras.layers.Conv2D(2 * base_filters, 4, strides=2, padding="same", name="down_1")(h)
    h = keras.layers.LeakyReLU(0.2)(keras.layers.LayerNormalization(axis=[1, 2, 3])(h))
    outputs = keras.layers.Conv2D(1, 4, padding="same", name="patch_logits")(h)
    return keras.Model(inputs, outputs, name=name)
