"""MADE: the autoregressive property of the masks (any order, after mask
resampling), exact normalization, sampling and training."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from tests.checks.jacobian import batch_jacobian
from tests.checks.bijectors import assert_bijector_correct
from tests.helpers import binary_states, recording_xla_traces
from tests.models.autoregressive.common import check_export_in_fresh_process, grid_mass, randomize
from tfdgm.models import MADE, IndependentBernoulli
from tfdgm.nn.made import MADENetwork
from tfdgm.nn.masked import MaskResampling, hidden_degrees, input_degrees, input_order, made_masks


def _random_network(order, num_inputs=6, context_dim=None, seed=0):
    network = MADENetwork(
        num_params=2, hidden_units=[16, 16], order=order, context_dim=context_dim,
        zero_init_output=False, log_scale_bound=None, seed=seed,
    )
    network.build((None, num_inputs))
    rng = np.random.default_rng(seed)
    for weight in network.trainable_weights:
        weight.assign(rng.normal(0.0, 0.5, weight.shape).astype(np.float32))
    return network


def _jacobian(network, x, context=None):
    """d params[d, p] / d x[j]: [batch, D, P, D]."""
    if context is None:
        return batch_jacobian(network, x)
    return batch_jacobian(network, x, context)


def _assert_autoregressive(network, x):
    degrees = network.input_degrees
    jacobian = np.abs(_jacobian(network, x)).max(axis=(0, 2))  # [D (output), D (input)]
    forbidden = degrees[None, :] >= degrees[:, None]  # input j at or after output d
    assert np.all(jacobian[forbidden] == 0.0), "an output depends on an input at or after it"
    # and the network is not trivially disconnected: every output but the
    # first reaches its immediate predecessor in the order.
    predecessor = {d: j for d, j in itertools.product(range(len(degrees)), repeat=2) if degrees[j] == degrees[d] - 1}
    assert all(jacobian[d, j] > 0 for d, j in predecessor.items())


@pytest.mark.parametrize("order", ["natural", "reversed", "random", [3, 0, 5, 1, 4, 2]])
def test_output_has_zero_gradient_wrt_inputs_at_or_after_it_in_the_order(order):
    network = _random_network(order)
    x = np.random.default_rng(1).normal(size=(8, 6)).astype(np.float32)
    _assert_autoregressive(network, x)
    if not isinstance(order, str):
        np.testing.assert_array_equal(network.order, order)


@pytest.mark.parametrize("order", ["natural", "random"])
def test_autoregressive_property_survives_mask_resampling(order):
    network = _random_network(order)
    x = np.random.default_rng(2).normal(size=(8, 6)).astype(np.float32)
    before = network(x).numpy()
    masks = [layer.mask.numpy().copy() for layer in network.hidden_layers]
    for seed in range(3):
        network.resample_masks(seed)
        _assert_autoregressive_or_disconnected(network, x)
    assert any(not np.array_equal(m, layer.mask.numpy()) for m, layer in zip(masks, network.hidden_layers))
    assert not np.allclose(before, network(x).numpy())  # the function really changed


def _assert_autoregressive_or_disconnected(network, x):
    """Random degrees may leave some paths unused; the property is what matters."""
    degrees = network.input_degrees
    jacobian = np.abs(_jacobian(network, x)).max(axis=(0, 2))
    assert np.all(jacobian[degrees[None, :] >= degrees[:, None]] == 0.0)


def test_context_reaches_every_output_and_inputs_stay_masked():
    network = _random_network("random", context_dim=3)
    x = np.random.default_rng(3).normal(size=(8, 6)).astype(np.float32)
    context = tf.constant(np.eye(3, dtype=np.float32)[np.arange(8) % 3])
    context_jacobian = np.abs(batch_jacobian(lambda c, x: network(x, c), context, x)).max(axis=(0, 2, 3))
    assert np.all(context_jacobian > 0), "some output ignores the context"
    degrees = network.input_degrees
    jacobian = np.abs(_jacobian(network, x, context)).max(axis=(0, 2))
    assert np.all(jacobian[degrees[None, :] >= degrees[:, None]] == 0.0)


def test_input_degrees_follow_the_order():
    order = input_order(5, "random", seed=3)
    degrees = input_degrees(order)
    np.testing.assert_array_equal(degrees[order], np.arange(1, 6))
    with pytest.raises(ValueError, match=r"expected order as a permutation of range\(3\), got \[0, 0, 1\]"):
        input_order(3, [0, 0, 1])
    with pytest.raises(ValueError, match="expected order in"):
        input_order(3, "sideways")


@pytest.mark.parametrize("order", ["natural", "random"])
def test_bernoulli_made_sums_to_one_by_enumeration(order):
    model = randomize(MADE(event_shape=(8,), hidden_units=[32], order=order), scale=1.0)
    states = binary_states(8)
    total = float(tf.reduce_sum(tf.exp(tf.cast(model.log_prob(states), tf.float64))))
    assert abs(total - 1.0) < 1e-5
    model.resample_masks(seed=5)
    total = float(tf.reduce_sum(tf.exp(tf.cast(model.log_prob(states), tf.float64))))
    assert abs(total - 1.0) < 1e-5


def test_conditional_bernoulli_made_sums_to_one_for_each_class_and_depends_on_it():
    model = randomize(MADE(event_shape=(8,), hidden_units=[32], num_classes=3), scale=1.0)
    states = binary_states(8)
    log_probs = []
    for label in range(3):
        log_prob = model.log_prob(states, np.full([256], label))
        assert abs(float(tf.reduce_sum(tf.exp(tf.cast(log_prob, tf.float64)))) - 1.0) < 1e-5
        log_probs.append(log_prob.numpy())
    assert np.abs(log_probs[0] - log_probs[1]).max() > 0.1
    # Without labels, call() is the marginal under a uniform prior: also normalized.
    marginal = model(states).numpy()
    np.testing.assert_allclose(marginal, np.log(np.mean(np.exp(log_probs), 0)), rtol=1e-5, atol=1e-5)
    assert abs(np.exp(marginal.astype(np.float64)).sum() - 1.0) < 1e-5


def test_bernoulli_samples_follow_the_model_probabilities():
    """Empirical frequencies of all 2^4 states vs exp(log_prob), 5 standard errors."""
    model = randomize(MADE(event_shape=(4,), hidden_units=[16], order="random"), scale=1.0, seed=3)
    samples = model.sample(20000, seed=1).numpy()
    assert set(np.unique(samples)) <= {0.0, 1.0}
    states = binary_states(4)
    probabilities = np.exp(model.log_prob(states).numpy())
    index = samples @ (2 ** np.arange(3, -1, -1))
    frequencies = np.bincount(index.astype(int), minlength=16) / 20000
    tolerance = 5 * np.sqrt(probabilities * (1 - probabilities) / 20000) + 1e-3
    assert np.all(np.abs(frequencies - probabilities) < tolerance)
    np.testing.assert_array_equal(samples, model.sample(20000, seed=1).numpy())


def test_gaussian_made_is_a_bijection_and_integrates_to_one():
    model = randomize(MADE(event_shape=(2,), likelihood="gaussian", hidden_units=[16]), scale=0.3)
    assert abs(grid_mass(model, -10.0, 10.0, 801) - 1.0) < 2e-3
    model4 = randomize(MADE(event_shape=(4,), likelihood="gaussian", hidden_units=[16], order="random"))
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    assert_bijector_correct(model4.distribution().bijector, x, event_ndims=1)


def test_made_beats_independent_bernoulli_on_correlated_bits_with_mask_resampling():
    rng = np.random.default_rng(0)
    first = (rng.uniform(size=(2048, 1)) < 0.5).astype(np.float32)
    noise = (rng.uniform(size=(2048, 5)) < 0.1).astype(np.float32)
    x = np.abs(np.concatenate([first, np.repeat(first, 5, 1) - noise], 1))  # copies with 10% flips
    independent = IndependentBernoulli(event_shape=(6,))
    independent.fit_closed_form(x)
    model = MADE(event_shape=(6,), hidden_units=[32, 32])
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-2))
    model.fit(x, batch_size=256, epochs=15, verbose=0, callbacks=[MaskResampling(every=1, num_masks=4)])
    made_nll = -float(tf.reduce_mean(model.log_prob(x)))
    independent_nll = -float(tf.reduce_mean(independent.log_prob(x)))
    # The truth: log 2 + 5 * H(0.1) = 2.32 nats; independent bits: 6 log 2 - ... ~ 4.1.
    assert made_nll < independent_nll - 1.0


def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError, match="expected likelihood in"):
        MADE(event_shape=(3,), likelihood="poisson")
    with pytest.raises(ValueError, match="expected hidden_units as a list of positive ints"):
        MADE(event_shape=(3,), hidden_units=[0])
    model = MADE(event_shape=(3,))
    with pytest.raises(ValueError, match="expected no context"):
        model.log_prob(np.zeros([2, 3], np.float32), context=np.zeros([2], np.int32))
    conditional = MADE(event_shape=(3,), num_classes=2)
    with pytest.raises(ValueError, match=r"expected a context of class labels in \[0, 2\), got None"):
        conditional.log_prob(np.zeros([2, 3], np.float32))
    with pytest.raises(ValueError, match=r"expected labels in \[0, 2\), got \[0, 5\]"):
        conditional.log_prob(np.zeros([2, 3], np.float32), context=np.array([0, 5]))


@pytest.mark.xla
def test_train_step_compiles_with_xla():
    model = MADE(event_shape=(6,), hidden_units=[16], num_classes=2)
    model.compile()
    assert model.jit_compile is True
    x = (np.random.default_rng(0).uniform(size=(64, 6)) < 0.3).astype(np.float32)
    y = np.arange(64) % 2
    with recording_xla_traces(model) as traced:
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert traced and all(traced), traced  # fit traced its train step inside XLA


def test_config_round_trip_rebuilds_the_same_model():
    model = randomize(MADE(event_shape=(5,), hidden_units=[8], order="random", seed=4))
    clone = MADE.from_config(model.get_config())
    clone.build((None, 5))
    clone.set_weights(model.get_weights())
    x = (np.random.default_rng(0).uniform(size=(4, 5)) < 0.5).astype(np.float32)
    np.testing.assert_allclose(clone.log_prob(x).numpy(), model.log_prob(x).numpy(), rtol=1e-6)


@pytest.mark.parametrize("num_classes", [None, 3])
def test_export_reloads_in_fresh_process_importing_only_tensorflow(tmp_path, num_classes):
    model = randomize(MADE(event_shape=(2, 3, 1), hidden_units=[8], num_classes=num_classes), scale=1.0)
    x = (np.random.default_rng(0).uniform(size=(4, 2, 3, 1)) < 0.5).astype(np.float32)
    labels = None if num_classes is None else np.array([2, 0, 1, 2], np.int32)
    check_export_in_fresh_process(model, x, tmp_path, labels)


# ---------------------------------------------- order/connectivity-agnostic MADE
def _mask_set_network(num_masks=4, num_inputs=6, context_dim=None):
    network = MADENetwork(
        num_params=2, hidden_units=[16, 16], order="random", hidden_degrees="random", context_dim=context_dim,
        zero_init_output=False, log_scale_bound=None, seed=3, num_masks=num_masks, order_agnostic=True,
    )
    network.build((None, num_inputs))
    rng = np.random.default_rng(0)
    for weight in network.trainable_weights:
        weight.assign(rng.normal(0.0, 0.5, weight.shape).astype(np.float32))
    return network


def test_every_mask_of_the_set_is_autoregressive_in_its_own_order():
    network = _mask_set_network(num_masks=4, context_dim=2)
    x = tf.constant(np.random.default_rng(4).normal(size=(8, 6)).astype(np.float32))
    context = tf.constant(np.eye(2, dtype=np.float32)[np.arange(8) % 2])
    assert len({tuple(order) for order in network.orders}) == 4, "order-agnostic masks should differ in order"
    outputs = []
    for k in range(4):
        jacobian = np.abs(batch_jacobian(lambda x, c: network(x, c, mask_index=tf.constant(k)), x, context))
        jacobian = jacobian.max(axis=(0, 2))  # [D out, D in]
        degrees = network.input_degrees_set[k]
        np.testing.assert_array_equal(degrees[network.orders[k]], np.arange(1, 7))
        assert np.all(jacobian[degrees[None, :] >= degrees[:, None]] == 0.0), f"mask {k} is not autoregressive"
        assert jacobian[degrees[None, :] < degrees[:, None]].max() > 0  # and it is connected at all
        outputs.append(network(x, context, mask_index=tf.constant(k)).numpy())
    assert not np.allclose(outputs[0], outputs[1])  # the index really selects another mask


def test_ensemble_of_masks_sums_to_one_by_enumeration_and_is_the_mean_of_the_masks():
    model = randomize(MADE(event_shape=(8,), hidden_units=[32], num_masks=5, order_agnostic=True,
                           hidden_degrees="random", num_test_masks=3), scale=1.0)
    states = binary_states(8)
    per_mask = np.stack([model.distribution(mask_index=k).log_prob(states).numpy() for k in range(5)])
    for k in range(5):  # every mask is a normalized MADE of its own
        assert abs(np.exp(per_mask[k].astype(np.float64)).sum() - 1.0) < 1e-5
    ensemble = model.log_prob(states).numpy()
    assert abs(np.exp(ensemble.astype(np.float64)).sum() - 1.0) < 1e-5
    np.testing.assert_allclose(ensemble, np.log(np.exp(per_mask[:3]).mean(0)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.distribution().log_prob(states).numpy(), ensemble, rtol=1e-5, atol=1e-5)
    all_five = model.log_prob(states, num_test_masks=5).numpy()
    np.testing.assert_allclose(all_five, np.log(np.exp(per_mask).mean(0)), rtol=1e-5, atol=1e-5)
    assert np.abs(ensemble - per_mask[0]).max() > 0.01  # the ensemble is not just mask 0
    with pytest.raises(ValueError, match=r"expected num_test_masks an int in \[1, 5\], got 6"):
        model.log_prob(states, num_test_masks=6)


def test_ensemble_samples_follow_the_ensemble_probabilities():
    """All 2^4 states: empirical frequencies vs the mixture, 5 standard errors."""
    model = randomize(MADE(event_shape=(4,), hidden_units=[16], num_masks=3, order_agnostic=True), scale=1.0, seed=5)
    samples = model.sample(20000, seed=2).numpy()
    probabilities = np.exp(model.log_prob(binary_states(4)).numpy())
    frequencies = np.bincount((samples @ (2 ** np.arange(3, -1, -1))).astype(int), minlength=16) / 20000
    assert np.all(np.abs(frequencies - probabilities) < 5 * np.sqrt(probabilities * (1 - probabilities) / 20000) + 1e-3)


@pytest.mark.xla
def test_mask_resampling_inside_the_xla_step_trains_every_mask():
    """K = 4 masks (random orders and degrees), one per step by the step
    counter, in an XLA-compiled `fit`: afterwards every mask alone models the
    copied bits (truth 2.32 nats, independent bits ~4.1; margin 1 nat)."""
    rng = np.random.default_rng(0)
    first = (rng.uniform(size=(2048, 1)) < 0.5).astype(np.float32)
    noise = (rng.uniform(size=(2048, 5)) < 0.1).astype(np.float32)
    x = np.abs(np.concatenate([first, np.repeat(first, 5, 1) - noise], 1))
    model = MADE(event_shape=(6,), hidden_units=[32, 32], num_masks=4, order_agnostic=True, hidden_degrees="random")
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-2), steps_per_execution=4)
    assert model.jit_compile is True
    step = tf.function(lambda batch: model.train_step(batch), jit_compile=True)
    assert "HloModule" in step.experimental_get_compiler_ir(tf.constant(x[:32]))(stage="hlo")
    used = []
    for _ in range(4):
        used.append(int(model.training_mask_index()))
        step(tf.constant(x[:32]))
    assert used == [0, 1, 2, 3]
    model.fit(x, batch_size=256, epochs=15, verbose=0)
    independent = IndependentBernoulli(event_shape=(6,))
    independent.fit_closed_form(x)
    independent_nll = -float(tf.reduce_mean(independent.log_prob(x)))
    for k in range(4):
        assert -float(tf.reduce_mean(model.distribution(mask_index=k).log_prob(x))) < independent_nll - 1.0
    assert -float(tf.reduce_mean(model.log_prob(x))) < independent_nll - 1.0


def test_a_mask_set_needs_something_to_vary():
    with pytest.raises(ValueError, match="num_masks > 1 needs order_agnostic=True or hidden_degrees='random'"):
        MADE(event_shape=(3,), num_masks=2)
    with pytest.raises(ValueError, match=r"expected num_test_masks an int in \[1, 2\], got 3"):
        MADE(event_shape=(3,), num_masks=2, order_agnostic=True, num_test_masks=3)
    model = MADE(event_shape=(3,), num_masks=2, order_agnostic=True)
    with pytest.raises(ValueError, match="expected a single-mask network, got num_masks=2"):
        model.resample_masks(0)


@pytest.mark.parametrize("units", [[6], [6, 6], [512]])
def test_equal_hidden_degrees_narrower_than_the_inputs_still_reach_the_last_inputs(units):
    """A layer narrower than D - 1 spreads its degrees over [1, D - 1]: the
    last output then depends on input D - 1 (cycling 1..H would cut it off)."""
    num_inputs = 784 if units == [512] else 20
    degrees_in = input_degrees(np.arange(num_inputs))
    layers, below = [], degrees_in
    for width in units:
        below = hidden_degrees(width, below, num_inputs, "equal")
        layers.append(below)
    assert layers[0].min() == 1 and layers[0].max() == num_inputs - 1
    masks = made_masks(degrees_in, layers, degrees_in)
    reach = masks[0].astype(np.int64)
    for mask in masks[1:]:
        reach = (reach @ mask.astype(np.int64) > 0).astype(np.int64)
    assert reach[num_inputs - 2, num_inputs - 1] == 1  # input D - 1 -> output D
    assert not np.any(np.tril(reach))  # still autoregressive: input d never reaches outputs <= d
