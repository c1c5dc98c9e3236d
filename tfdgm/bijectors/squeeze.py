"""The squeeze operation (Dinh et al. 2016, Sec. 3.6): space-to-depth as a
volume-preserving, shape-changing bijector."""

import tensorflow as tf

from tfdgm.bijectors.base import Bijector

__all__ = ["Squeeze", "squeeze_shape"]


def squeeze_shape(event_shape, factor=2):
    """[H, W, C] -> [H/f, W/f, f*f*C]; ValueError unless f divides H and W."""
    if len(event_shape) != 3:
        raise ValueError(f"squeeze expects an image event shape [H, W, C], got {list(event_shape)}")
    h, w, c = (int(d) for d in event_shape)
    if h % factor or w % factor:
        raise ValueError(f"squeeze by {factor} needs H and W divisible by {factor}, got {h}x{w}")
    return [h // factor, w // factor, c * factor * factor]


class Squeeze(Bijector):
    """Space-to-depth: each f x f x C block becomes a 1 x 1 x f²C pixel.

        forward: [..., H, W, C] -> [..., H/f, W/f, f²C],   log|det| = 0.

    It is a permutation of the entries. In a latent -> data chain, the data
    side's squeeze is `tfb.Invert(Squeeze())` (its inverse squeezes x).

    References:
      Dinh, Sohl-Dickstein & Bengio, "Density estimation using Real NVP",
      ICLR 2017, https://arxiv.org/abs/1605.08803, Sec. 3.6.

    Arguments:
      factor: f (2 in the paper).
    """

    def __init__(self, factor=2, validate_args=False, name="squeeze"):
        parameters = dict(locals())
        self._factor = int(factor)
        super().__init__(forward_min_event_ndims=3, is_constant_jacobian=True,
                         validate_args=validate_args, parameters=parameters, name=name)

    def forward_and_log_det(self, x):
        f = self._factor
        h, w, c = squeeze_shape(x.shape[-3:], f)
        batch = tf.shape(x)[:-3]
        x = tf.reshape(x, [-1, h, f, w, f, c // (f * f)])
        x = tf.transpose(x, [0, 1, 3, 2, 4, 5])
        return tf.reshape(x, tf.concat([batch, [h, w, c]], axis=0)), tf.zeros([], x.dtype)

    def inverse_and_log_det(self, y):
        f = self._factor
        h, w, c = (int(d) for d in y.shape[-3:])
        if c % (f * f):
            raise ValueError(f"unsqueeze by {f} needs channels divisible by {f * f}, got {c}")
        batch = tf.shape(y)[:-3]
        y = tf.reshape(y, [-1, h, w, f, f, c // (f * f)])
        y = tf.transpose(y, [0, 1, 3, 2, 4, 5])
        return (tf.reshape(y, tf.concat([batch, [h * f, w * f, c // (f * f)]], axis=0)),
                tf.zeros([], y.dtype))

    def _forward_event_shape(self, input_shape):
        shape = tf.TensorShape(input_shape)
        if shape.rank is None or not shape[-3:].is_fully_defined():
            return tf.TensorShape(None)
        return shape[:-3].concatenate(squeeze_shape(shape[-3:], self._factor))

    def _inverse_event_shape(self, output_shape):
        shape = tf.TensorShape(output_shape)
        if shape.rank is None or not shape[-3:].is_fully_defined():
            return tf.TensorShape(None)
        h, w, c = shape[-3:]
        f = self._factor
        return shape[:-3].concatenate([h * f, w * f, c // (f * f)])

    def _forward_event_shape_tensor(self, input_shape):
        f = self._factor
        return tf.concat([input_shape[:-3], [input_shape[-3] // f, input_shape[-2] // f,
                                              input_shape[-1] * f * f]], axis=0)

    def _inverse_event_shape_tensor(self, output_shape):
        f = self._factor
        return tf.concat([output_shape[:-3], [output_shape[-3] * f, output_shape[-2] * f,
                                               output_shape[-1] // (f * f)]], axis=0)
