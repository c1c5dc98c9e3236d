"""Context inputs of conditional flows p(x | c): broadcasting a context
vector against the flow's input, and coupling networks that take it.

A conditioner of a conditional flow is a function of the flow's own input
and of a context vector c [..., F]; the wrappers here feed c to any
coupling network: concatenated to a vector input (Winkler et al. 2019), or
as a learned projection broadcast over the pixels of an image input and
concatenated as extra channels (the conditioning of Glow's coupling
networks, Kingma & Dhariwal 2018, Sec. 5 / their `ycond` code path).

References:
  Papamakarios, Pavlakou & Murray, "Masked Autoregressive Flow for Density
  Estimation", NeurIPS 2017, https://arxiv.org/abs/1705.07057, Sec. 3.4.
  Winkler, Worrall, Hoogeboom & Welling, "Learning Likelihoods with
  Conditional Normalizing Flows", 2019, https://arxiv.org/abs/1912.00042.
  Kingma & Dhariwal, "Glow", NeurIPS 2018, https://arxiv.org/abs/1807.03039.
"""

import keras
import tensorflow as tf

__all__ = ["broadcast_context", "ContextCouplingNet"]


def broadcast_context(x, context, event_ndims=1):
    """Flattens x [*S1, *event] and context [*S2, F] to [N, *event] and
    [N, F] over their broadcast leading shape S (N = prod S). -> (x, context, S).

    Arguments:
      x: the flow's input, with `event_ndims` trailing event axes (static).
      context: [..., F] with a static F.
      event_ndims: rank of x's event.
    """
    event_shape = x.shape[x.shape.rank - event_ndims:]
    leading = tf.broadcast_dynamic_shape(tf.shape(x)[: tf.rank(x) - event_ndims], tf.shape(context)[:-1])
    context_size = context.shape[-1]
    x = tf.broadcast_to(x, tf.concat([leading, tf.shape(x)[tf.rank(x) - event_ndims:]], 0))
    x = tf.reshape(x, [-1, *event_shape])
    context = tf.broadcast_to(context, tf.concat([leading, [context_size]], 0))
    return x, tf.reshape(context, [-1, context_size]), leading


class ContextCouplingNet(keras.layers.Layer):
    """Runs a coupling network on (x, c): `network(concat[x, c])` for vectors
    x [N, D]; for images x [N, H, W, C], c passes through a Dense projection
    to `context_channels` channels, broadcast to every pixel and concatenated
    to x (Glow's conditioning of the coupling networks on y, Kingma &
    Dhariwal 2018, generalized from a one-hot y to any real c).

    Arguments:
      network: the coupling network (a Keras layer, built here on the
        widened input); its zero-initialized last layer keeps the coupling at
        the identity at initialization.
      context_size: F, the flattened context size.
      context_channels: width of the projection for image inputs.

    Shapes: x [N, *event], context [N, F] -> network(...) [N, ...].
    """

    def __init__(self, network, context_size, context_channels=8, **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.context_size = int(context_size)
        self.context_channels = int(context_channels)
        self.projection = None

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) == 4:
            self.projection = keras.layers.Dense(self.context_channels, name="context_projection",
                                                 dtype=self.dtype_policy)
            self.projection.build((None, self.context_size))
            self.network.build((*input_shape[:-1], input_shape[-1] + self.context_channels))
        else:
            self.network.build((*input_shape[:-1], input_shape[-1] + self.context_size))
        self.built = True

    def call(self, x, context):
        context = tf.cast(context, x.dtype)
        if x.shape.rank == 4:
            h = tf.cast(self.projection(context), x.dtype)[:, None, None, :]
            context = tf.broadcast_to(h, tf.concat([tf.shape(x)[:-1], [self.context_channels]], 0))
        # Cast: the wrapped network's inner layers follow the global dtype policy.
        return tf.cast(self.network(tf.concat([x, context], axis=-1)), x.dtype)

    def shift_and_log_scale(self, masked_x, context, event_ndims=1):
        """Broadcasts masked_x [..., *event] with context [..., F]; -> (shift,
        raw log-scale), each [*S, *event]."""
        flat_x, flat_context, leading = broadcast_context(masked_x, context, event_ndims)
        shift, raw_log_scale = tf.split(self(flat_x, flat_context), 2, axis=-1)
        shape = tf.concat([leading, tf.shape(flat_x)[1:]], 0)
        return tf.reshape(shift, shape), tf.reshape(raw_log_scale, shape)
