"""Coupling networks: the shift / log-scale functions of coupling bijectors.

Every network ends in a zero-initialized layer, so the coupling it drives
starts as the identity map (Kingma & Dhariwal 2018, Sec. 3.3), and builds its
sublayers from shapes alone (`build(input_shape)`), never by tracing `call`.
"""

import keras

__all__ = ["MLPCouplingNet", "ResNetCouplingNet", "GlowCouplingNet"]


class MLPCouplingNet(keras.layers.Layer):
    """Fully connected coupling network for vectors: D -> hidden_units -> output_units.

    References:
      Dinh et al., "NICE", 2014, Sec. 5.1 (rectified MLP coupling functions).

    Arguments:
      output_units: width of the output (D for additive, 2D for affine coupling).
      hidden_units: list of hidden widths.
      activation: hidden activation.

    Shapes: x: [batch, D] -> [batch, output_units].
    """

    def __init__(self, output_units, hidden_units=(128, 128), activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.output_units = int(output_units)
        self.hidden_units = [int(u) for u in hidden_units]
        self.hidden = [keras.layers.Dense(u, activation=activation) for u in self.hidden_units]
        self.out = keras.layers.Dense(self.output_units, kernel_initializer="zeros",
                                      bias_initializer="zeros")

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.hidden:
            layer.build(shape)
            shape = (shape[0], layer.units)
        self.out.build(shape)
        self.built = True

    def call(self, x):
        for layer in self.hidden:
            x = layer(x)
        return self.out(x)


class ResNetCouplingNet(keras.layers.Layer):
    """Residual convolutional coupling network (Dinh et al. 2016, Sec. 4.1).

    conv3x3 -> `num_blocks` x [relu, conv3x3, relu, conv3x3, + skip] -> relu ->
    zero-initialized conv3x3. (RealNVP also uses batch and weight
    normalization inside; they are left out so training and evaluation
    compute the same function.)

    References:
      Dinh, Sohl-Dickstein & Bengio, "Density estimation using Real NVP",
      ICLR 2017, https://arxiv.org/abs/1605.08803.
      He et al., "Deep residual learning for image recognition", CVPR 2016.

    Arguments:
      output_channels: channels out (C additive, 2C affine).
      hidden_channels: width of the residual blocks.
      num_blocks: number of residual blocks.

    Shapes: x: [batch, H, W, C] -> [batch, H, W, output_channels].
    """

    def __init__(self, output_channels, hidden_channels=64, num_blocks=2, **kwargs):
        super().__init__(**kwargs)
        self.output_channels = int(output_channels)
        self.hidden_channels = int(hidden_channels)
        self.num_blocks = int(num_blocks)
        conv = lambda: keras.layers.Conv2D(self.hidden_channels, 3, padding="same")  # noqa: E731
        self.conv_in = conv()
        self.block_convs = [(conv(), conv()) for _ in range(self.num_blocks)]
        self.conv_out = keras.layers.Conv2D(self.output_channels, 3, padding="same",
                                            kernel_initializer="zeros", bias_initializer="zeros")

    def build(self, input_shape):
        shape = tuple(input_shape)
        hidden = (*shape[:-1], self.hidden_channels)
        self.conv_in.build(shape)
        for first, second in self.block_convs:
            first.build(hidden)
            second.build(hidden)
        self.conv_out.build(hidden)
        self.built = True

    def call(self, x):
        h = self.conv_in(x)
        for first, second in self.block_convs:
            h = h + second(keras.activations.relu(first(keras.activations.relu(h))))
        return self.conv_out(keras.activations.relu(h))


class GlowCouplingNet(keras.layers.Layer):
    """Glow's coupling network NN() (Kingma & Dhariwal 2018, Sec. 3.3):
    conv3x3 -> relu -> conv1x1 -> relu -> zero-initialized conv3x3.

    The hidden convs are He-initialized (as TFP's `GlowDefaultNetwork`; the
    authors' code normalizes them with actnorm instead): Keras' Glorot
    default draws the first conv's weights ~10x smaller at width 400, and
    Glow on Fashion-MNIST (2 x 8 steps, Adam 1e-4) reached -515 nats after
    60 steps against -685 with He (benchmarks/README.md, Glow).

    References:
      Kingma & Dhariwal, "Glow: Generative Flow with Invertible 1x1
      Convolutions", NeurIPS 2018, https://arxiv.org/abs/1807.03039.

    Arguments:
      output_channels: channels out (2C for affine coupling).
      hidden_channels: width (512 in the paper).

    Shapes: x: [batch, H, W, C] -> [batch, H, W, output_channels].
    """

    def __init__(self, output_channels, hidden_channels=512, **kwargs):
        super().__init__(**kwargs)
        self.output_channels = int(output_channels)
        self.hidden_channels = int(hidden_channels)
        self.conv1 = keras.layers.Conv2D(self.hidden_channels, 3, padding="same", activation="relu",
                                         kernel_initializer="he_normal")
        self.conv2 = keras.layers.Conv2D(self.hidden_channels, 1, activation="relu",
                                         kernel_initializer="he_normal")
        self.conv_out = keras.layers.Conv2D(self.output_channels, 3, padding="same",
                                            kernel_initializer="zeros", bias_initializer="zeros")

    def build(self, input_shape):
        shape = tuple(input_shape)
        hidden = (*shape[:-1], self.hidden_channels)
        self.conv1.build(shape)
        self.conv2.build(hidden)
        self.conv_out.build(hidden)
        self.built = True

    def call(self, x):
        return self.conv_out(self.conv2(self.conv1(x)))
