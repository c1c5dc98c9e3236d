"""ZCA whitening of images: a Keras layer fitted by `adapt`, as `keras.layers.Normalization` is."""

import keras
import numpy as np
import tensorflow as tf

__all__ = ["ZCAWhitening"]


@keras.saving.register_keras_serializable(package="tfdgm")
class ZCAWhitening(keras.layers.Layer):
    """Zero-phase (ZCA) whitening: z = W (x - m(x) - mu) / s, W = C^(-1/2).

    The whitening Lee et al. (2009, Sec. 4) applied to natural images before a
    convolutional DBN with Gaussian visible units: it flattens the images'
    power spectrum, so what is left is edges and strokes, and of all whitening
    matrices the symmetric W = V diag(lambda + eps lambda_max)^(-1/2) V^T
    (C = V diag(lambda) V^T the pixel covariance) keeps each output pixel
    closest to its input pixel (Kessy, Lewin & Strimmer 2018, "Optimal
    whitening and decorrelation", Sec. 3), so whitened images are still images
    for a convolutional model. `epsilon` damps the directions of
    the smallest variance, which hold the noise; s scales the outputs to unit
    variance over all pixels, the scale of Gaussian visibles of unit variance
    (Lee et al. 2009, eq. 2). Keras has no ZCA layer since
    `ImageDataGenerator(zca_whitening=True)` went with Keras 2.

    Arguments:
      epsilon: the regularizer as a fraction of the largest eigenvalue of C (> 0).
      remove_image_mean: subtract each image's own mean m(x) first (its average
        brightness; not restored by `inverse`).

    Example:
      >>> white = ZCAWhitening()
      >>> white.adapt(x_train)            # [n, 28, 28, 1] grey levels
      >>> model = ConvDBN(visible="gaussian"); model.fit(white(x_train))

    `adapt` accumulates the covariance in float64 over arrays or a `tf.data`
    dataset of images (or of (images, ...) tuples); its eigendecomposition
    costs O(D^3) for D pixels per image, seconds for 28 x 28, so the layer is
    meant for small images (D up to a few thousand). The fitted state is
    four non-trainable weights (mu, W / s, its inverse and an adapted flag),
    saved with the layer in `.keras` files.
    """

    def __init__(self, epsilon=0.01, remove_image_mean=True, **kwargs):
        super().__init__(**kwargs)
        if not epsilon > 0:
            raise ValueError(f"expected epsilon > 0 (a fraction of the largest eigenvalue), got {epsilon!r}")
        self.epsilon = float(epsilon)
        self.remove_image_mean = bool(remove_image_mean)
        self.event_shape = None

    def build(self, input_shape):
        self.event_shape = tuple(int(d) for d in input_shape[1:])
        size = int(np.prod(self.event_shape))
        self.mean = self.add_weight(name="mean", shape=(size,), initializer="zeros", trainable=False)
        self.whitening = self.add_weight(name="whitening", shape=(size, size), initializer="zeros",
                                         trainable=False)
        self.unwhitening = self.add_weight(name="unwhitening", shape=(size, size), initializer="zeros",
                                           trainable=False)
        self.adapted = self.add_weight(name="adapted", shape=(), initializer="zeros", trainable=False)

    def adapt(self, data, batch_size=1000):
        """Fits mu, W and s to `data`: an array [n, *event_shape] or a `tf.data.Dataset`."""
        total, outer, count, shape = None, None, 0, None
        for batch in _batches(data, batch_size):
            if shape is None:
                shape = batch.shape[1:]
            elif batch.shape[1:] != shape:
                raise ValueError(f"expected every batch of shape [n, {', '.join(map(str, shape))}], "
                                 f"got {list(batch.shape)}")
            flat = self._centred(batch.reshape(len(batch), -1).astype(np.float64))
            total = flat.sum(0) if total is None else total + flat.sum(0)
            outer = flat.T @ flat if outer is None else outer + flat.T @ flat
            count += len(flat)
        if count < 2:
            raise ValueError(f"expected at least 2 examples to adapt to, got {count}")
        if self.built and tuple(shape) != self.event_shape:
            raise ValueError(f"expected images of shape {self.event_shape} (the layer is built), got {tuple(shape)}")
        if not self.built:
            self.build((None, *shape))
        mean = total / count
        covariance = (outer - count * np.outer(mean, mean)) / (count - 1)
        values, vectors = np.linalg.eigh(covariance)
        values = np.maximum(values, 0.0) + self.epsilon * max(values.max(), 1e-30)
        whitening = (vectors / np.sqrt(values)) @ vectors.T
        scale = np.sqrt(np.trace(whitening @ covariance @ whitening) / len(mean))  # the whitened pixels' std
        self.mean.assign(mean.astype(np.float32))
        self.whitening.assign((whitening / scale).astype(np.float32))
        self.unwhitening.assign(((vectors * np.sqrt(values)) @ vectors.T * scale).astype(np.float32))
        self.adapted.assign(1.0)

    def _centred(self, flat):
        return flat - flat.mean(1, keepdims=True) if self.remove_image_mean else flat

    def _check(self, x):
        if not self.built or not float(self.adapted.numpy() if tf.executing_eagerly() else 1.0):
            raise ValueError("ZCAWhitening is not adapted: call `adapt(training_images)` first")
        if tuple(x.shape[1:]) != self.event_shape:
            raise ValueError(f"expected images of shape [n, {', '.join(map(str, self.event_shape))}], "
                             f"got {list(x.shape)}")

    def call(self, x):
        """x: [n, *event_shape] -> whitened z of the same shape."""
        x = tf.convert_to_tensor(x, self.compute_dtype)
        self._check(x)
        flat = tf.reshape(x, [-1, self.mean.shape[0]])
        if self.remove_image_mean:
            flat = flat - tf.reduce_mean(flat, 1, keepdims=True)
        return tf.reshape(tf.matmul(flat - self.mean, self.whitening), tf.shape(x))

    def inverse(self, z):
        """Whitened z -> images x - m(x) (the removed image means are not restored)."""
        z = tf.convert_to_tensor(z, self.compute_dtype)
        self._check(z)
        flat = tf.matmul(tf.reshape(z, [-1, self.mean.shape[0]]), self.unwhitening) + self.mean
        return tf.reshape(flat, tf.shape(z))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon, "remove_image_mean": self.remove_image_mean}


def _batches(data, batch_size):
    """numpy batches of images from an array or a dataset of images or (images, ...) tuples."""
    if isinstance(data, tf.data.Dataset):
        for element in data.as_numpy_iterator():
            batch = element[0] if isinstance(element, tuple) else element
            yield np.asarray(batch)
        return
    array = np.asarray(data)
    if array.ndim < 2:
        raise ValueError(f"expected images [n, *event_shape], got an array of shape {list(array.shape)}")
    for start in range(0, len(array), batch_size):
        yield array[start:start + batch_size]
