"""Checks shared by MAF and IAF (the same options, inverse directions)."""

import numpy as np
import tensorflow as tf

from tests.bijector_checks import assert_bijector_correct
from tests.models.autoregressive.common import grid_mass, randomize, two_moons
from tests.helpers import recording_xla_traces
from tfdgm.bijectors.batch_norm import BatchNormBijector
from tfdgm.models import IAF, IndependentGaussian


def layer_log_det_by_hand(model, z, context=None):
    """log|det df/dz| of the latent -> data map, summed by hand along the
    chain: each MAF layer x = u exp(alpha(x)) + mu(x) adds sum(alpha(x)) at
    its output, each IAF layer x = (u - mu(u)) exp(-alpha(u)) adds
    -sum(alpha(u)) at its input, batch norm adds -sum(log_gamma - log(v + eps)/2).
    Returns (x, log_det)."""
    chain = model.bijector(context).bijectors  # data side first
    y = tf.convert_to_tensor(z)
    total = tf.zeros(tf.shape(y)[:1])
    net_index = len(model.networks)
    for bijector in reversed(chain):
        if isinstance(bijector, BatchNormBijector):
            layer = model.batch_norms[net_index - 1]
            total += -tf.reduce_sum(
                layer.log_gamma - 0.5 * tf.math.log(layer.moving_variance + layer.epsilon)
            )
            y = bijector.forward(y)
        elif bijector.name.startswith("reshape"):
            y = bijector.forward(y)
        else:
            net_index -= 1
            network = model.networks[net_index]
            one_hot = None if context is None else tf.one_hot(context, model.num_classes)
            if isinstance(model, IAF):
                _, log_scale = network.shift_and_log_scale(y, one_hot)
                total += -tf.reduce_sum(log_scale, -1)
                y = bijector.forward(y)
            else:
                y = bijector.forward(y)
                _, log_scale = network.shift_and_log_scale(y, one_hot)
                total += tf.reduce_sum(log_scale, -1)
    return y, total


def check_bijector_on_random_weights(model_class, **options):
    """The full latent -> data chain passes the shared bijector check (2-16 dims)."""
    for num_dims, extra in ((2, {}), (5, {"permutation": "random", "batch_norm": True}), (16, {"num_layers": 2})):
        model = randomize(model_class(event_shape=(num_dims,), hidden_units=[16], **{**options, **extra}), 0.2)
        if model.use_batch_norm:
            for layer in model.batch_norms:  # non-trivial moving statistics
                layer.moving_mean.assign(np.linspace(-1, 1, num_dims).astype(np.float32))
                layer.moving_variance.assign(np.linspace(0.5, 2, num_dims).astype(np.float32))
        z = np.random.default_rng(num_dims).normal(size=(6, num_dims)).astype(np.float32)
        assert_bijector_correct(model.bijector(), z, event_ndims=1)
    image = randomize(model_class(event_shape=(2, 3, 1), hidden_units=[8], num_layers=2), 0.2)
    x = np.random.default_rng(0).normal(size=(3, 2, 3, 1)).astype(np.float32)
    z = image.encode(x).numpy()
    assert z.shape == (3, 6)
    np.testing.assert_allclose(image.decode(z).numpy(), x, atol=1e-4)


def check_sample_log_prob_matches_bijector_path(model_class, num_classes=None):
    model = randomize(
        model_class(event_shape=(4,), hidden_units=[16], num_layers=3, batch_norm=True, num_classes=num_classes), 0.3
    )
    for layer in model.batch_norms:
        layer.moving_variance.assign(np.array([0.5, 1.0, 2.0, 3.0], np.float32))
    context = None if num_classes is None else np.array([0, 1, 2, 0, 1, 2, 0, 1], np.int32)
    x = model.sample(8, seed=3, context=None if context is None else tf.one_hot(context, num_classes))
    log_prob = model.log_prob(x, context).numpy()
    assert np.all(np.isfinite(log_prob))
    z = model.encode(x, context)
    x_again, log_det = layer_log_det_by_hand(model, z, context)
    np.testing.assert_allclose(x_again.numpy(), x.numpy(), atol=1e-4)
    expected = model.base_distribution().log_prob(z) - log_det
    np.testing.assert_allclose(log_prob, expected.numpy(), rtol=1e-4, atol=1e-4)


def check_identity_at_initialization(model_class):
    """Zero-initialized conditioners: every layer starts as the identity."""
    model = model_class(event_shape=(3,), batch_norm=False)
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32) * 10
    np.testing.assert_allclose(model.encode(x).numpy(), x, atol=1e-5)
    expected = model.base_distribution().log_prob(x).numpy()
    np.testing.assert_allclose(model.log_prob(x).numpy(), expected, rtol=1e-6)


def check_trained_density_integrates_and_beats_gaussian(model_class, epochs, **options):
    x, _ = two_moons(2048, seed=0)
    x_test, _ = two_moons(2048, seed=1)
    model = model_class(event_shape=(2,), num_layers=4, hidden_units=[32, 32], **options)
    model.compile(optimizer=tf.keras.optimizers.Adam(5e-3))
    history = model.fit(x, batch_size=256, epochs=epochs, verbose=0)
    assert np.all(np.isfinite(history.history["nll"]))
    gaussian = IndependentGaussian(event_shape=(2,))
    gaussian.fit_closed_form(x)
    flow_nll = -float(tf.reduce_mean(model.log_prob(x_test)))
    gaussian_nll = -float(tf.reduce_mean(gaussian.log_prob(x_test)))
    # A full-covariance Gaussian can't do much better than the diagonal one
    # here (the moons are uncorrelated after standardization); the flow must
    # separate the two moons, worth well over 0.3 nats.
    assert flow_nll < gaussian_nll - 0.3, (flow_nll, gaussian_nll)
    # Grid [-6, 6]^2, step 0.02: the standardized data lie within [-2.5, 2.5].
    mass = grid_mass(model, -6.0, 6.0, 601)
    assert abs(mass - 1.0) < 0.02, mass
    return model


def check_train_step_compiles_with_xla(model_class):
    model = model_class(event_shape=(4,), hidden_units=[8], num_layers=2, batch_norm=True, num_classes=3)
    model.compile()
    assert model.jit_compile is True
    x = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    y = np.arange(64) % 3
    with recording_xla_traces(model) as traced:
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert traced and all(traced), traced  # fit traced its train step inside XLA
