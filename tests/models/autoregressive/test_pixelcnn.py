"""PixelCNN and Gated PixelCNN: the autoregressive property over raster
order and channels, the blind spot of the plain PixelCNN and its absence in
the gated one, exact normalization of every output, the compiled sampler's
own log-probabilities, class conditioning, XLA, export."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from tests.checks.jacobian import batch_jacobian
from tests.helpers import binary_states, recording_xla_traces
from tests.models.autoregressive.common import check_export_in_fresh_process, randomize
from tfdgm.models import GatedPixelCNN, PixelCNN


def _jacobian(model, shape, batch=6, seed=0):
    """|d output_k / d input_j| maxed over a batch: [D (out), D (in)], both
    flattened in raster-then-channel order (the model's autoregressive order)."""
    x = tf.constant(np.random.default_rng(seed).uniform(size=(batch, *shape)).round().astype(np.float32))
    jacobian = batch_jacobian(lambda x: tf.reshape(model.network(x)[..., 0], [x.shape[0], -1]), x)
    return np.abs(jacobian.reshape(batch, model.num_dims, model.num_dims)).max(axis=0)


def _earlier(num_dims):
    index = np.arange(num_dims)
    return index[None, :] < index[:, None]  # [out, in]: input strictly before the output


@pytest.mark.parametrize("model_class", [PixelCNN, GatedPixelCNN])
def test_output_has_zero_gradient_wrt_inputs_at_or_after_it_in_raster_and_channel_order(model_class):
    model = randomize(model_class(event_shape=(5, 5, 3), num_filters=12, num_layers=2, first_kernel_size=5,
                                  likelihood="bernoulli"), scale=0.5)
    jacobian = _jacobian(model, (5, 5, 3))
    assert np.all(jacobian[~_earlier(75)] == 0.0)
    # within a pixel: G sees R, B sees R and G
    centre = (2 * 5 + 2) * 3
    assert jacobian[centre + 1, centre] > 0 and jacobian[centre + 2, centre] > 0
    assert jacobian[centre + 2, centre + 1] > 0


def test_plain_pixelcnn_has_a_blind_spot():
    model = randomize(PixelCNN(event_shape=(5, 5, 1), num_filters=8, num_layers=4, first_kernel_size=3,
                               likelihood="bernoulli"), scale=0.5)
    jacobian = _jacobian(model, (5, 5, 1))
    blind = _earlier(25) & (jacobian == 0.0)
    assert blind.any()
    # Pixel (2, 0) never sees (1, 2): each step right costs a step up (van den Oord et al. 2016b, Fig. 1).
    assert jacobian[2 * 5 + 0, 1 * 5 + 2] == 0.0 and jacobian[2 * 5 + 0, 1 * 5 + 1] > 0.0


def test_gated_pixelcnn_has_no_blind_spot():
    """Every earlier pixel (and every earlier channel of the same pixel) reaches every later output."""
    model = randomize(GatedPixelCNN(event_shape=(5, 5, 2), num_filters=8, num_layers=4, first_kernel_size=3,
                                    likelihood="bernoulli"), scale=0.5)
    jacobian = _jacobian(model, (5, 5, 2))
    earlier = _earlier(50)
    assert np.all(jacobian[earlier] > 0.0)
    assert np.all(jacobian[~earlier] == 0.0)


def _all_images(shape, num_levels):
    size = int(np.prod(shape))
    return np.array(list(itertools.product(range(num_levels), repeat=size)), np.float32).reshape(-1, *shape)


@pytest.mark.parametrize("model_class, shape, options", [
    (PixelCNN, (3, 3, 1), {"likelihood": "bernoulli"}),
    (GatedPixelCNN, (3, 3, 1), {"likelihood": "bernoulli"}),
    (PixelCNN, (2, 2, 1), {"likelihood": "categorical", "num_levels": 3}),
    (GatedPixelCNN, (2, 1, 2), {"likelihood": "logistic_mixture", "num_levels": 4, "num_mixtures": 2}),
])
def test_distribution_sums_to_one_by_enumeration(model_class, shape, options):
    model = randomize(model_class(event_shape=shape, num_filters=8, num_layers=2, first_kernel_size=3, **options),
                      scale=0.7)
    images = _all_images(shape, model.num_levels)
    total = float(tf.reduce_sum(tf.exp(tf.cast(model.log_prob(images), tf.float64))))
    assert abs(total - 1.0) < 1e-5


def test_conditional_model_sums_to_one_for_each_class_and_depends_on_it():
    model = randomize(GatedPixelCNN(event_shape=(3, 3, 1), num_filters=8, num_layers=2, first_kernel_size=3,
                                    likelihood="bernoulli", num_classes=3), scale=0.7)
    images = binary_states(9).reshape(-1, 3, 3, 1)
    log_probs = [model.log_prob(images, np.full(512, label)).numpy() for label in range(3)]
    for log_prob in log_probs:
        assert abs(np.exp(log_prob.astype(np.float64)).sum() - 1.0) < 1e-5
    assert np.abs(log_probs[0] - log_probs[2]).max() > 0.1
    np.testing.assert_allclose(model(images).numpy(), np.log(np.mean(np.exp(log_probs), 0)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("model_class, likelihood", [
    (PixelCNN, "bernoulli"), (GatedPixelCNN, "categorical"), (GatedPixelCNN, "logistic_mixture")])
def test_sampler_log_prob_equals_one_pass_log_prob_of_its_samples(model_class, likelihood):
    model = randomize(model_class(event_shape=(4, 4, 2), num_filters=8, num_layers=2, first_kernel_size=3,
                                  likelihood=likelihood, num_levels=16, num_classes=2), scale=0.5)
    samples, drawn_log_prob = model.sample_with_log_prob(8, seed=5, context=1)
    assert set(np.unique(samples.numpy())) <= set(range(model.num_levels))
    one_pass = model.log_prob(samples, np.ones(8, np.int32))
    np.testing.assert_allclose(drawn_log_prob.numpy(), one_pass.numpy(), rtol=1e-4, atol=1e-3)
    # the single compiled loop (GatedPixelCNN: vertical stacks once per row, horizontal stacks per element)
    # and the reference Python loop of one full network pass per element draw the same images
    looped, _ = model.sample_with_log_prob(8, seed=5, context=1, compiled=False)
    np.testing.assert_array_equal(samples.numpy(), looped.numpy())
    assert not np.array_equal(samples.numpy(), model.sample(8, seed=6, context=1).numpy())


def test_binary_samples_follow_the_model_probabilities():
    model = randomize(GatedPixelCNN(event_shape=(2, 2, 1), num_filters=8, num_layers=2, first_kernel_size=3,
                                    likelihood="bernoulli"), scale=1.0, seed=1)
    samples = model.sample(20000, seed=2).numpy().reshape(20000, 4)
    probabilities = np.exp(model.log_prob(binary_states(4).reshape(-1, 2, 2, 1)).numpy())
    frequencies = np.bincount((samples @ (2 ** np.arange(3, -1, -1))).astype(int), minlength=16) / 20000
    assert np.all(np.abs(frequencies - probabilities) < 5 * np.sqrt(probabilities * (1 - probabilities) / 20000) + 1e-3)


def test_fit_on_a_fresh_model_learns_a_class_conditional_pattern():
    """Class 0: left half on; class 1: right half on (with 5% flips)."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 512)
    pattern = np.zeros((2, 4, 4, 1), np.float32)
    pattern[0, :, :2], pattern[1, :, 2:] = 1.0, 1.0
    x = np.abs(pattern[labels] - (rng.uniform(size=(512, 4, 4, 1)) < 0.05)).astype(np.float32)
    model = PixelCNN(event_shape=(4, 4, 1), num_filters=16, num_layers=2, first_kernel_size=3, num_classes=2)
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-2))
    history = model.fit(x, labels, batch_size=64, epochs=8, verbose=0)
    assert history.history["nll"][-1] < 0.5 * history.history["nll"][0]
    for label in (0, 1):
        mean = model.sample(32, seed=label, context=label).numpy().mean(0)
        assert abs(mean - pattern[label]).mean() < 0.2


@pytest.mark.xla
def test_train_step_compiles_with_xla():
    model = GatedPixelCNN(event_shape=(4, 4, 1), num_filters=8, num_layers=2, num_levels=8, num_classes=2)
    model.compile()
    assert model.jit_compile is True
    x = np.random.default_rng(0).integers(0, 8, size=(32, 4, 4, 1)).astype(np.float32)
    y = np.arange(32) % 2
    with recording_xla_traces(model) as traced:
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert traced and all(traced), traced  # fit traced its train step inside XLA


def test_config_round_trip_rebuilds_the_same_model():
    model = randomize(GatedPixelCNN(event_shape=(3, 3, 2), num_filters=4, num_layers=2, likelihood="logistic_mixture",
                                    num_levels=8, num_mixtures=2, num_classes=2), 0.3)
    clone = GatedPixelCNN.from_config(model.get_config())
    clone.build()
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(0).integers(0, 8, size=(2, 3, 3, 2)).astype(np.float32)
    np.testing.assert_allclose(clone.log_prob(x, [0, 1]).numpy(), model.log_prob(x, [0, 1]).numpy(), rtol=1e-6)


@pytest.mark.parametrize("model_class, num_classes", [(PixelCNN, None), (GatedPixelCNN, 3)])
def test_export_reloads_in_fresh_process_importing_only_tensorflow(tmp_path, model_class, num_classes):
    model = randomize(model_class(event_shape=(3, 3, 1), num_filters=8, num_layers=2, num_levels=4,
                                  likelihood="categorical", num_classes=num_classes), 0.5)
    x = np.random.default_rng(0).integers(0, 4, size=(4, 3, 3, 1)).astype(np.float32)
    labels = None if num_classes is None else np.array([2, 0, 1, 2], np.int32)
    check_export_in_fresh_process(model, x, tmp_path, labels)


def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError, match="expected an image event_shape"):
        PixelCNN(event_shape=(8,))
    with pytest.raises(ValueError, match="expected likelihood in"):
        GatedPixelCNN(likelihood="gaussian")
    with pytest.raises(ValueError, match="expected kernel_size an odd positive int"):
        PixelCNN(kernel_size=4)


def test_logistic_mixture_output_sums_to_one_over_all_256_levels():
    """PixelCNN++ eq. 2 with tail bins at 0 and 255: sum_k P(x = k) = 1 for any
    network output, including sharp, wide and off-range components."""
    from tfdgm.distributions.pixel_outputs import element_log_prob

    rng = np.random.default_rng(0)
    params = rng.normal(size=(6, 15)).astype(np.float32) * 2.0  # 5 components: logits, loc, log-scale
    params[0, 10:] = -9.0  # scales below the floor
    params[1, 5:10] = 3.0  # locations far above the top level
    params[2, 10:] = 4.0  # very wide components
    levels = np.arange(256, dtype=np.float32)
    log_probs = element_log_prob(params[:, None, :], levels[None, :], "logistic_mixture", 256)  # [6, 256]
    totals = np.exp(log_probs.numpy().astype(np.float64)).sum(axis=1)
    np.testing.assert_allclose(totals, 1.0, atol=1e-4)
