"""The one check every tfdgm bijector and flow goes through (STYLE.md):
round trip, log-det against the autodiff Jacobian, finite outputs."""

import numpy as np
import tensorflow as tf


def assert_bijector_correct(bijector, x, event_ndims, atol=1e-4, rtol=1e-4):
    """Checks a bijector on `x: [batch, *event_shape]` (small event sizes).

    1. inverse(forward(x)) == x and forward(inverse(y)) == y;
    2. forward_log_det_jacobian(x) == log|det d forward / dx| from
       `tf.GradientTape.batch_jacobian` on the flattened event, per example;
    3. inverse_log_det_jacobian(y) == -forward_log_det_jacobian(x);
    4. every output is finite.
    """
    x = tf.convert_to_tensor(x, tf.float32)
    batch = x.shape[0]
    event_shape = x.shape[1:]
    y = bijector.forward(x)
    assert np.all(np.isfinite(y.numpy())), "forward produced non-finite values"
    np.testing.assert_allclose(bijector.inverse(y).numpy(), x.numpy(), atol=atol, rtol=rtol)
    np.testing.assert_allclose(bijector.forward(bijector.inverse(y)).numpy(), y.numpy(), atol=atol, rtol=rtol)

    flat = tf.reshape(x, [batch, -1])
    with tf.GradientTape() as tape:
        tape.watch(flat)
        out = tf.reshape(bijector.forward(tf.reshape(flat, [batch, *event_shape])), [batch, -1])
    jacobian = tape.batch_jacobian(out, flat)
    _, expected = np.linalg.slogdet(jacobian.numpy().astype(np.float64))
    forward_ldj = bijector.forward_log_det_jacobian(x, event_ndims=event_ndims).numpy()
    forward_ldj = np.broadcast_to(forward_ldj, [batch])
    np.testing.assert_allclose(forward_ldj, expected, atol=10 * atol, rtol=10 * rtol)
    inverse_ldj = np.broadcast_to(bijector.inverse_log_det_jacobian(y, event_ndims=event_ndims).numpy(), [batch])
    np.testing.assert_allclose(inverse_ldj, -forward_ldj, atol=10 * atol, rtol=10 * rtol)
    assert np.all(np.isfinite(forward_ldj)), "log-det is not finite"
