"""The one check every tfdgm bijector and flow goes through (STYLE.md):
round trip, log-det against the autodiff Jacobian, finite outputs."""

import numpy as np
import tensorflow as tf

from tests.checks.jacobian import batch_jacobian


def assert_bijector_correct(bijector, x, event_ndims, atol=1e-4, rtol=1e-4, copies=None):
    """Checks a bijector on `x: [batch, *event_shape]` (small event sizes).

    A bijector bound to per-example inputs (a context, labels) needs `copies`:
    `n -> the same bijector for those inputs repeated n times along the batch`,
    for the Jacobian's batched copies (`tests.checks.jacobian`).

    1. inverse(forward(x)) == x and forward(inverse(y)) == y;
    2. forward_log_det_jacobian(x) == log|det d forward / dx| from
       `tests.checks.jacobian.batch_jacobian` on the flattened event, per example;
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

    def forward(flat):
        copied = bijector if copies is None else copies(flat.shape[0] // batch)
        return tf.reshape(copied.forward(tf.reshape(flat, [-1, *event_shape])), [flat.shape[0], -1])

    jacobian = batch_jacobian(forward, tf.reshape(x, [batch, -1]))
    _, expected = np.linalg.slogdet(jacobian.astype(np.float64))
    forward_ldj = bijector.forward_log_det_jacobian(x, event_ndims=event_ndims).numpy()
    forward_ldj = np.broadcast_to(forward_ldj, [batch])
    np.testing.assert_allclose(forward_ldj, expected, atol=10 * atol, rtol=10 * rtol)
    inverse_ldj = np.broadcast_to(bijector.inverse_log_det_jacobian(y, event_ndims=event_ndims).numpy(), [batch])
    np.testing.assert_allclose(inverse_ldj, -forward_ldj, atol=10 * atol, rtol=10 * rtol)
    assert np.all(np.isfinite(forward_ldj)), "log-det is not finite"
