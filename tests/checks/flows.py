"""Checks every flow model goes through: the chain through the bijector
check, log_prob along the bijector path, grid normalization, an XLA-lowered
train step and the bare-TensorFlow export (NICE, RealNVP, Glow, planar);
and the checks MAF and IAF share (the same options, inverse directions)."""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tests.checks.bijectors import assert_bijector_correct
from tests.checks.export import Output, exported_outputs
from tests.helpers import grid_2d, recording_xla_traces
from tests.models.autoregressive.common import two_moons
from tfdgm.bijectors.batch_norm import BatchNormBijector
from tfdgm.models import IAF, IndependentGaussian

tfb = tfp.bijectors


def randomize(model, scale=0.1, seed=0, replace=False):
    """Builds `model` and moves every trainable weight by N(0, scale^2) noise
    (`replace`: sets it to such noise), so no layer is the identity; returns it."""
    rng = np.random.default_rng(seed)
    if not model.built:
        model.build((None, *model.event_shape))
    for weight in model.trainable_variables:
        noise = rng.normal(0.0, scale, weight.shape).astype(np.float32)
        weight.assign(noise if replace else weight + noise)
    return model


def grid_mass(model, low, high, num, context=None):
    """Riemann sum of exp(log_prob) over a num x num grid of [low, high]^2 (2-D models)."""
    points, area = grid_2d(low, high, num)
    if context is not None:
        context = np.full([len(points)], context, np.int32)
    return float(tf.reduce_sum(tf.exp(tf.cast(model.log_prob(points, context=context), tf.float64)))) * area


def assert_train_step_lowers_to_xla(model, x, y=None, batch_size=None):
    """fit with jit_compile=True (tfdgm's `compile()` default), and every
    trace of the train step happens inside an XLA cluster."""
    model.compile()
    assert model.jit_compile is True
    with recording_xla_traces(model) as traced:
        model.fit(x, y, batch_size=batch_size or len(x), epochs=1, verbose=0)
    assert traced and all(traced), traced


# ----------------------------------------------- NICE, RealNVP, Glow, planar
def assert_model_bijector_correct(model, batch=3, seed=0, atol=1e-4):
    """The model's chain through the shared bijector check, on latent points."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(batch, *model.latent_shape)).astype(np.float32)
    chain = model.bijector()
    if tuple(model.latent_shape) != tuple(model.event_shape):
        chain = tfb.Chain([tfb.Reshape(list(model.latent_shape), list(model.event_shape)), chain])
    assert_bijector_correct(chain, z, len(model.latent_shape), atol=atol, rtol=atol)


def assert_sample_log_prob_matches_bijector_path(model, n=16, seed=3, context=None):
    """log p(x) of x = f(z) equals log p_Z(z) - log|det df/dz|, computed by hand."""
    base = model.base_distribution(context)
    z = base.sample(() if context is not None else n, seed=tfp.random.sanitize_seed(seed))
    chain = model.bijector(context)
    x = chain.forward(z)
    by_hand = base.log_prob(z) - chain.forward_log_det_jacobian(
        z, event_ndims=len(model.latent_shape))
    log_prob = model.log_prob(tf.identity(x), context=context).numpy()
    assert np.all(np.isfinite(log_prob))
    np.testing.assert_allclose(log_prob, by_hand.numpy(), rtol=1e-3, atol=1e-3)
    samples = model.sample(n, seed=seed)
    assert samples.shape == (n, *model.event_shape)
    assert np.all(np.isfinite(model.log_prob(samples).numpy()))




# ------------------------------------------------------------------ MAF, IAF
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
        model = randomize(model_class(event_shape=(num_dims,), hidden_units=[16], **{**options, **extra}), 0.2,
                          replace=True)
        if model.use_batch_norm:
            for layer in model.batch_norms:  # non-trivial moving statistics
                layer.moving_mean.assign(np.linspace(-1, 1, num_dims).astype(np.float32))
                layer.moving_variance.assign(np.linspace(0.5, 2, num_dims).astype(np.float32))
        z = np.random.default_rng(num_dims).normal(size=(6, num_dims)).astype(np.float32)
        assert_bijector_correct(model.bijector(), z, event_ndims=1)
    image = randomize(model_class(event_shape=(2, 3, 1), hidden_units=[8], num_layers=2), 0.2, replace=True)
    x = np.random.default_rng(0).normal(size=(3, 2, 3, 1)).astype(np.float32)
    z = image.encode(x).numpy()
    assert z.shape == (3, 6)
    np.testing.assert_allclose(image.decode(z).numpy(), x, atol=1e-4)


def check_sample_log_prob_matches_bijector_path(model_class, num_classes=None):
    model = randomize(
        model_class(event_shape=(4,), hidden_units=[16], num_layers=3, batch_norm=True, num_classes=num_classes), 0.3,
        replace=True)
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
    x = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    assert_train_step_lowers_to_xla(model, x, np.arange(64) % 3, batch_size=32)


# ------------------------------------------------------------------- export
def assert_export_round_trip(model, x, tmp_path):
    """The SavedModel, loaded by a process importing only TensorFlow, equals the model."""
    result = exported_outputs(model, {
        "log_prob": ("log_prob", {"x": x}), "sample": ("sample", {"n": 3, "seed": 5}),
        "encode": ("encode", {"x": x}), "decode": ("decode", {"z": Output("encode", "z")}),
    }, tmp_path)
    np.testing.assert_allclose(result["log_prob"]["log_prob"], model.log_prob(x).numpy(), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(result["sample"]["samples"], model.sample(3, seed=5).numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(result["encode"]["z"], model.encode(x).numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(result["decode"]["x"], x, rtol=1e-3, atol=1e-3)


def two_blobs(n, seed=0):
    """A bimodal 2-D toy set: two Gaussians at (+-2, 0.5 * sign), std 0.4."""
    rng = np.random.default_rng(seed)
    sign = rng.choice([-1.0, 1.0], size=n)
    x = np.stack([2.0 * sign, 0.5 * sign], axis=1) + 0.4 * rng.normal(size=(n, 2))
    return x.astype(np.float32)
