"""NADE / RNADE: the autoregressive property for any ordering, exact
normalization (single ordering, ensembles, classes), the sampler's own
log-probabilities, order-agnostic training, XLA, export."""

import numpy as np
import pytest
import tensorflow as tf

from tests.checks.jacobian import batch_jacobian
from tests.helpers import binary_states, recording_xla_traces
from tests.models.autoregressive.common import check_export_in_fresh_process, grid_mass, randomize
from tfdgm.models import NADE, IndependentBernoulli
from tfdgm.nn.masked import input_order


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian_mixture"])
@pytest.mark.parametrize("order", ["natural", "random", [3, 0, 5, 1, 4, 2]])
def test_each_conditional_has_zero_gradient_wrt_inputs_at_or_after_it(likelihood, order):
    model = randomize(NADE(event_shape=(6,), hidden_units=12, likelihood=likelihood, order=order, seed=3), 1.0)
    ordering = input_order(6, order, 3)
    position = np.empty(6, int)
    position[ordering] = np.arange(6)  # position[d] = place of input d in the ordering
    x = tf.constant(np.random.default_rng(0).normal(size=(5, 6)).astype(np.float32))
    jacobian = batch_jacobian(model.conditional_params, x, np.tile(ordering, [5, 1]))  # [5, D, P, D]
    jacobian = np.abs(jacobian).max(axis=(0, 2))  # [D out, D in]
    forbidden = position[None, :] >= position[:, None]
    assert np.all(jacobian[forbidden] == 0.0)
    assert np.all(jacobian[~forbidden] > 0.0)  # and every earlier input is used


def _total_mass(model, context=None):
    states = binary_states(model.num_dims)
    labels = None if context is None else np.full(len(states), context)
    return float(tf.reduce_sum(tf.exp(tf.cast(model.log_prob(states, labels), tf.float64))))


@pytest.mark.parametrize("options", [{}, {"order": "random"}, {"order_agnostic": True, "num_orderings": 4}])
def test_bernoulli_nade_sums_to_one_by_enumeration(options):
    model = randomize(NADE(event_shape=(9,), hidden_units=16, **options), scale=1.0)
    assert abs(_total_mass(model) - 1.0) < 1e-5


def test_conditional_nade_sums_to_one_for_each_class_and_depends_on_it():
    model = randomize(NADE(event_shape=(8,), hidden_units=16, num_classes=3, num_orderings=2), scale=1.0)
    for label in range(3):
        assert abs(_total_mass(model, label) - 1.0) < 1e-5
    states = binary_states(8)
    assert np.abs(model.log_prob(states, np.zeros(256, int)) - model.log_prob(states, np.ones(256, int))).max() > 0.1


def test_rnade_integrates_to_one():
    model = randomize(NADE(event_shape=(2,), hidden_units=8, likelihood="gaussian_mixture", num_mixtures=3,
                           num_orderings=2), scale=0.5)
    assert abs(grid_mass(model, -12.0, 12.0, 801) - 1.0) < 2e-3


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian_mixture"])
def test_sampler_log_prob_equals_one_pass_log_prob_of_its_samples(likelihood):
    model = randomize(NADE(event_shape=(7,), hidden_units=8, likelihood=likelihood, num_orderings=3, num_classes=2),
                      scale=0.7)
    samples, drawn_log_prob, orderings = model.sample_with_log_prob(64, seed=4, context=1)
    assert len(np.unique(orderings.numpy(), axis=0)) == 3  # samples come from every ordering of the ensemble
    one_pass = model.log_prob_given_ordering(samples, orderings, np.ones(64, int))
    np.testing.assert_allclose(drawn_log_prob.numpy(), one_pass.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(samples.numpy(), model.sample(64, seed=4, context=1).numpy())


def test_bernoulli_samples_follow_the_ensemble_probabilities():
    model = randomize(NADE(event_shape=(4,), hidden_units=8, num_orderings=3), scale=1.5, seed=2)
    samples = model.sample(20000, seed=1).numpy()
    probabilities = np.exp(model.log_prob(binary_states(4)).numpy())
    frequencies = np.bincount((samples @ (2 ** np.arange(3, -1, -1))).astype(int), minlength=16) / 20000
    assert np.all(np.abs(frequencies - probabilities) < 5 * np.sqrt(probabilities * (1 - probabilities) / 20000) + 1e-3)


def test_order_agnostic_training_fits_every_ordering_of_correlated_bits():
    rng = np.random.default_rng(0)
    first = (rng.uniform(size=(2048, 1)) < 0.5).astype(np.float32)
    x = np.abs(np.repeat(first, 6, 1) - (rng.uniform(size=(2048, 6)) < 0.1)).astype(np.float32)
    independent = IndependentBernoulli(event_shape=(6,))
    independent.fit_closed_form(x)
    model = NADE(event_shape=(6,), hidden_units=16, order_agnostic=True, num_orderings=4)
    model.compile(optimizer=tf.keras.optimizers.Adam(2e-2))
    model.fit(x, batch_size=128, epochs=20, verbose=0)
    independent_nll = -float(tf.reduce_mean(independent.log_prob(x)))  # 6 log 2 = 4.16; truth 2.64 nats
    for ordering in model.orderings:  # each member of the ensemble learned the dependence
        assert -float(tf.reduce_mean(model.log_prob_given_ordering(x, ordering))) < independent_nll - 0.8
    assert -float(tf.reduce_mean(model.log_prob(x))) < independent_nll - 0.8


@pytest.mark.xla
def test_train_step_compiles_with_xla():
    model = NADE(event_shape=(6,), hidden_units=8, num_classes=2, order_agnostic=True)
    model.compile()
    assert model.jit_compile is True
    x = (np.random.default_rng(0).uniform(size=(64, 6)) < 0.3).astype(np.float32)
    y = np.arange(64) % 2
    with recording_xla_traces(model) as traced:
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert traced and all(traced), traced  # fit traced its train step inside XLA


def test_config_round_trip_rebuilds_the_same_model():
    model = randomize(NADE(event_shape=(5,), hidden_units=4, likelihood="gaussian_mixture", order="random",
                           order_agnostic=True, num_orderings=3, seed=7))
    clone = NADE.from_config(model.get_config())
    clone.build()
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    np.testing.assert_allclose(clone.log_prob(x).numpy(), model.log_prob(x).numpy(), rtol=1e-6)


@pytest.mark.parametrize("num_classes", [None, 3])
def test_export_reloads_in_fresh_process_importing_only_tensorflow(tmp_path, num_classes):
    model = randomize(NADE(event_shape=(2, 3, 1), hidden_units=8, num_classes=num_classes, num_orderings=2), 1.0)
    x = (np.random.default_rng(0).uniform(size=(4, 2, 3, 1)) < 0.5).astype(np.float32)
    labels = None if num_classes is None else np.array([2, 0, 1, 2], np.int32)
    check_export_in_fresh_process(model, x, tmp_path, labels)


def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError, match="expected likelihood in"):
        NADE(event_shape=(3,), likelihood="poisson")
    with pytest.raises(ValueError, match="expected hidden_units a positive int"):
        NADE(event_shape=(3,), hidden_units=[4, 4])
    with pytest.raises(ValueError, match=r"expected a context of class labels in \[0, 2\), got None"):
        NADE(event_shape=(3,), num_classes=2).log_prob(np.zeros([2, 3], np.float32))
