"""Invertible 1x1 convolution with an LU-decomposed weight (Kingma & Dhariwal
2018, Sec. 3.2): the bijector and the Keras 3 layer owning P, L, U, s.
"""

import keras
import numpy as np
import scipy.linalg
import tensorflow as tf

from tfdgm.bijectors.base import Bijector

__all__ = ["InvertibleConv1x1", "InvertibleConv1x1Layer"]


class InvertibleConv1x1(Bijector):
    """y = W x at every pixel, W = P L (U + diag(s)) (Glow, eq. 10):

        log|det d forward/dx| = (H * W) * sum(log|s|).

    P is a fixed permutation, L unit lower-triangular, U strictly upper-
    triangular, s = sign * exp(log_s). The inverse applies W^{-1} = (U +
    diag(s))^{-1} L^{-1} P^T, formed once per call from two triangular solves
    on the C x C identity, so both directions are one [N, C] x [C, C] matmul
    (TFP's `tfb.ScaleMatvecLU` instead solves an LU system per pixel in the
    inverse, which is the direction training uses). Works on any `[..., C]`
    (vectors: a learned LU-parameterized linear map, Glow's step for
    non-image data).

    References:
      Kingma & Dhariwal, "Glow: Generative Flow with Invertible 1x1
      Convolutions", NeurIPS 2018, https://arxiv.org/abs/1807.03039, Sec. 3.2.

    Arguments:
      permutation: [C, C] permutation matrix P.
      lower: [C, C]; its strictly lower part is used (unit diagonal implied).
      upper: [C, C]; its strictly upper part is used.
      log_s, sign_s: [C]; diag(s) = sign_s * exp(log_s).
    """

    def __init__(self, permutation, lower, upper, log_s, sign_s, validate_args=False,
                 name="invertible_conv_1x1"):
        parameters = dict(locals())
        self._permutation = tf.convert_to_tensor(permutation, tf.float32)
        self._lower = tf.convert_to_tensor(lower, tf.float32)
        self._upper = tf.convert_to_tensor(upper, tf.float32)
        self._log_s = tf.convert_to_tensor(log_s, tf.float32)
        self._sign_s = tf.convert_to_tensor(sign_s, tf.float32)
        super().__init__(forward_min_event_ndims=1, validate_args=validate_args,
                         parameters=parameters, name=name)

    def _factors(self):
        c = self._log_s.shape[0]
        eye = tf.eye(c)
        lower = tf.linalg.band_part(self._lower, -1, 0) * (1.0 - eye) + eye
        upper = tf.linalg.band_part(self._upper, 0, -1) * (1.0 - eye) + tf.linalg.diag(
            self._sign_s * tf.exp(self._log_s))
        return lower, upper

    def weight(self):
        """W = P L (U + diag(s)): [C, C]."""
        lower, upper = self._factors()
        return self._permutation @ lower @ upper

    def inverse_weight(self):
        """W^{-1} = (U + diag(s))^{-1} L^{-1} P^T: [C, C]."""
        lower, upper = self._factors()
        eye = tf.eye(self._log_s.shape[0])
        lower_inv = tf.linalg.triangular_solve(lower, eye, lower=True)
        upper_inv = tf.linalg.triangular_solve(upper, eye, lower=False)
        return upper_inv @ lower_inv @ tf.transpose(self._permutation)

    def _log_det(self, x):
        return tf.broadcast_to(tf.reduce_sum(self._log_s), tf.shape(x)[:-1])

    def forward_and_log_det(self, x):
        return tf.tensordot(x, self.weight(), [[-1], [1]]), self._log_det(x)

    def inverse_and_log_det(self, y):
        return tf.tensordot(y, self.inverse_weight(), [[-1], [1]]), -self._log_det(y)


class InvertibleConv1x1Layer(keras.layers.Layer):
    """Owns the LU factors of a 1x1 convolution; `bijector()` builds it.

    Initialized (Glow, Sec. 3.2) from a random rotation W0 = P L U, so the
    layer starts volume-preserving; P and sign(s) stay fixed, L, U and
    log|s| are trained.

    Arguments:
      channels: C.
    """

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)

    def build(self, input_shape=None):
        c = self.channels
        rotation = keras.ops.convert_to_numpy(keras.initializers.Orthogonal()((c, c))).astype(np.float64)
        p, lower, upper = scipy.linalg.lu(rotation)
        s = np.diag(upper)
        constant = lambda v: keras.initializers.Constant(np.asarray(v, np.float32))  # noqa: E731
        self.permutation = self.add_weight(name="permutation", shape=(c, c), initializer=constant(p),
                                           trainable=False)
        self.lower = self.add_weight(name="lower", shape=(c, c), initializer=constant(np.tril(lower, -1)))
        self.upper = self.add_weight(name="upper", shape=(c, c), initializer=constant(np.triu(upper, 1)))
        self.log_s = self.add_weight(name="log_s", shape=(c,), initializer=constant(np.log(np.abs(s))))
        self.sign_s = self.add_weight(name="sign_s", shape=(c,), initializer=constant(np.sign(s)),
                                      trainable=False)
        self.built = True

    def bijector(self, context=None):
        return InvertibleConv1x1(self.permutation, self.lower, self.upper, self.log_s, self.sign_s,
                                 name=f"{self.name}_bijector")

    def call(self, x):
        return self.bijector().inverse(x)
