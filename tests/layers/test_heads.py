"""The heads as distributions: every log_prob normalizes (1-D and 2-D grids,
discrete supports), flows start at the identity and invert, configs round
trip, and bad targets or outputs raise errors naming what was expected."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import binary_states, grid_2d
from tfdgm import layers
from tfdgm.losses import NegativeLogLikelihood

NUM_FEATURES = 3


def _randomized(head, batch=3, seed=0, weight_scale=0.25):
    """(head, outputs) on random features, every trainable weight random, so
    that flows are far from the identity."""
    rng = np.random.default_rng(seed)
    head.build((None, NUM_FEATURES))
    for weight in head.trainable_weights:
        weight.assign(rng.normal(0.0, weight_scale, weight.shape).astype(np.float32))
    features = rng.normal(size=(batch, NUM_FEATURES)).astype(np.float32)
    return head, head(features)


CONTINUOUS_1D = {
    "normal": lambda: layers.IndependentNormal((1,)),
    "logistic": lambda: layers.IndependentLogistic((1,)),
    "mixture": lambda: layers.MixtureNormal(3, (1,)),
    "mvn_tril": lambda: layers.MultivariateNormalTriL(1),
    "maf": lambda: layers.ConditionalMAF((1,), num_layers=2, hidden_units=(16,)),
}
CONTINUOUS_2D = {
    "normal": lambda: layers.IndependentNormal((2,)),
    "logistic": lambda: layers.IndependentLogistic((2,)),
    "mixture": lambda: layers.MixtureNormal(3, (2,)),
    "mvn_tril": lambda: layers.MultivariateNormalTriL(2),
    "maf": lambda: layers.ConditionalMAF((2,), num_layers=2, hidden_units=(16, 16)),
    "realnvp": lambda: layers.ConditionalRealNVP((2,), num_layers=3, hidden_units=(16,)),
}


@pytest.mark.parametrize("make", CONTINUOUS_1D.values(), ids=CONTINUOUS_1D.keys())
def test_one_dimensional_heads_integrate_to_one(make):
    head, outputs = _randomized(make())
    grid = np.linspace(-25.0, 25.0, 10001, dtype=np.float32)
    density = tf.exp(head.distribution(outputs).log_prob(grid[:, None, None]))  # [points, batch 3]
    totals = tf.reduce_sum(density, axis=0) * (grid[1] - grid[0])
    np.testing.assert_allclose(totals, np.ones(3), atol=2e-3)


@pytest.mark.parametrize("make", CONTINUOUS_2D.values(), ids=CONTINUOUS_2D.keys())
def test_two_dimensional_heads_integrate_to_one(make):
    head, outputs = _randomized(make())
    points, area = grid_2d(-12.0, 12.0, 481)
    density = tf.exp(head.distribution(outputs).log_prob(points[:, None, :]))  # [points, batch 3]
    totals = tf.reduce_sum(density, axis=0) * area
    np.testing.assert_allclose(totals, np.ones(3), atol=5e-3)


def test_bernoulli_sums_to_one_over_all_binary_targets():
    head, outputs = _randomized(layers.IndependentBernoulli((3,)))
    totals = tf.reduce_sum(tf.exp(head.distribution(outputs).log_prob(binary_states(3)[:, None, :])), axis=0)
    np.testing.assert_allclose(totals, np.ones(3), atol=1e-5)


def test_categorical_sums_to_one_over_the_labels_and_matches_the_softmax():
    head, outputs = _randomized(layers.Categorical(5))
    log_prob = head.distribution(outputs).log_prob(np.arange(5)[:, None])  # [5 labels, batch 3]
    np.testing.assert_allclose(tf.reduce_sum(tf.exp(log_prob), axis=0), np.ones(3), atol=1e-5)
    np.testing.assert_allclose(tf.transpose(log_prob), tf.nn.log_softmax(outputs), atol=1e-5)


def test_mixture_of_one_component_is_the_independent_normal():
    mixture, outputs = _randomized(layers.MixtureNormal(1, (2,)))
    normal = layers.IndependentNormal((2,))
    y = np.random.default_rng(1).normal(size=(3, 2)).astype(np.float32)
    # Outputs [logit, mu (2), raw sigma (2)]: the logit drops out of a one-component mixture.
    np.testing.assert_allclose(mixture.distribution(outputs).log_prob(y),
                               normal.distribution(outputs[:, 1:]).log_prob(y), rtol=1e-5)


@pytest.mark.parametrize("flow_class", [layers.ConditionalMAF, layers.ConditionalRealNVP])
def test_untrained_flow_head_is_the_independent_normal_of_its_base(flow_class):
    features = np.random.default_rng(0).normal(size=(5, NUM_FEATURES)).astype(np.float32)
    flow = flow_class((2,), hidden_units=(8,))
    outputs = flow(features)
    assert outputs.shape == (5, 2 + 2 + NUM_FEATURES)
    np.testing.assert_allclose(outputs[:, 4:], features)  # the features travel as the context
    y = np.random.default_rng(1).normal(size=(5, 2)).astype(np.float32)
    normal = layers.IndependentNormal((2,))
    np.testing.assert_allclose(flow.distribution(outputs).log_prob(y),
                               normal.distribution(outputs[:, :4]).log_prob(y), rtol=1e-5)


@pytest.mark.parametrize("flow_class", [layers.ConditionalMAF, layers.ConditionalRealNVP])
def test_flow_samples_map_back_to_their_base_draws(flow_class):
    head, outputs = _randomized(flow_class((3,), num_layers=2, hidden_units=(16,)))
    distribution = head.distribution(outputs)
    base = distribution.distribution.sample(seed=[3, 0])
    y = distribution.bijector.forward(base)
    np.testing.assert_allclose(distribution.bijector.inverse(y), base, atol=1e-4)
    # The conditioners do depend on the features: other features, other y.
    other = head.distribution(tf.concat([outputs[:, :6], outputs[:, 6:] + 1.0], -1)).bijector.forward(base)
    assert np.max(np.abs(other - y)) > 1e-2


def test_event_shape_of_images_and_sample_shapes():
    head, outputs = _randomized(layers.IndependentBernoulli((2, 2, 1)))
    distribution = head.distribution(outputs)
    assert outputs.shape == (3, 4)
    assert distribution.batch_shape == (3,) and distribution.event_shape == (2, 2, 1)
    assert distribution.sample(4, seed=[1, 0]).shape == (4, 3, 2, 2, 1)
    maf, outputs = _randomized(layers.ConditionalMAF((2, 2), num_layers=1, hidden_units=(8,)))
    assert maf.distribution(outputs).sample(seed=[1, 0]).shape == (3, 2, 2)


def test_mean_and_stddev_where_tfp_defines_them():
    head, outputs = _randomized(layers.IndependentNormal((2,)))
    loc, scale = head.loc_and_scale(outputs)
    np.testing.assert_allclose(head.distribution(outputs).mean(), loc)
    np.testing.assert_allclose(head.distribution(outputs).stddev(), scale)
    mixture, outputs = _randomized(layers.MixtureNormal(2, (1,)))
    samples = mixture.distribution(outputs).sample(20000, seed=[2, 0]).numpy()
    np.testing.assert_allclose(mixture.distribution(outputs).mean(), samples.mean(0), atol=0.05)
    np.testing.assert_allclose(mixture.distribution(outputs).stddev(), samples.std(0), rtol=0.05)


HEADS = {
    "normal": lambda: layers.IndependentNormal((2,), min_scale=0.01),
    "logistic": lambda: layers.IndependentLogistic((2,)),
    "bernoulli": lambda: layers.IndependentBernoulli((2,)),
    "categorical": lambda: layers.Categorical(4),
    "mixture": lambda: layers.MixtureNormal(2, (2,)),
    "mvn_tril": lambda: layers.MultivariateNormalTriL(2),
    "maf": lambda: layers.ConditionalMAF((2,), num_layers=2, hidden_units=[8]),
    "realnvp": lambda: layers.ConditionalRealNVP((2,), num_layers=2, log_scale_bound=2.0),
}


@pytest.mark.parametrize("make", HEADS.values(), ids=HEADS.keys())
def test_config_round_trips_and_the_loss_finds_the_same_head(make):
    head = make()
    config = head.get_config()
    copy = type(head).from_config(config)
    assert copy.get_config() == config
    loss = NegativeLogLikelihood(head)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert isinstance(restored, NegativeLogLikelihood)
    assert restored.head is copy  # the newest head with that head_id: the reloaded model's own


def test_wrong_target_shape_raises_value_error_naming_the_expected_shape():
    head, outputs = _randomized(layers.IndependentNormal((2,)))
    with pytest.raises(ValueError, match=r"IndependentNormal: expected targets of shape \[batch, 2\].*got \[3, 3\]"):
        head.log_prob(outputs, np.zeros([3, 3], np.float32))
    one, outputs = _randomized(layers.IndependentNormal((1,)))
    assert one.log_prob(outputs, np.zeros([3], np.float32)).shape == (3,)  # [batch] is fine for event (1,)


@pytest.mark.parametrize("targets", [[[0.0, 1.0], [0.5, 1.0], [1.0, 1.0]], [[0, 1], [2, 0], [1, 1]]])
def test_bernoulli_rejects_non_binary_targets(targets):
    head, outputs = _randomized(layers.IndependentBernoulli((2,)))
    with pytest.raises(ValueError, match=r"IndependentBernoulli: expected targets in \{0, 1\}"):
        head.log_prob(outputs, np.asarray(targets, np.float32))
    with pytest.raises(ValueError, match=r"expected targets in \{0, 1\}"):
        head.check_targets(targets)


@pytest.mark.parametrize("labels", [[0, 4, 1], [0, -1, 1], [0, 1.5, 1]], ids=["too_large", "negative", "fraction"])
def test_categorical_rejects_labels_outside_the_classes(labels):
    head, outputs = _randomized(layers.Categorical(4))
    with pytest.raises(ValueError, match=r"Categorical: expected targets integer labels in \[0, 4\)"):
        head.log_prob(outputs, np.asarray(labels, np.float32))
    head.log_prob(outputs, np.array([[0], [3], [1]]))  # [batch, 1] integer labels are fine


def test_outputs_of_another_width_raise_value_error():
    head, _ = _randomized(layers.MixtureNormal(3, (1,)))
    with pytest.raises(ValueError, match=r"MixtureNormal: expected outputs \[batch, 9\]"):
        head.distribution(np.zeros([2, 4], np.float32))


def test_bad_hyperparameters_raise_value_errors():
    for make, match in [
        (lambda: layers.Categorical(1), "num_classes an int >= 2"),
        (lambda: layers.MixtureNormal(0, (1,)), "num_components a positive int"),
        (lambda: layers.ConditionalRealNVP((1,)), "at least 2 values"),
        (lambda: layers.ConditionalMAF((2,), num_layers=0), "num_layers a positive int"),
        (lambda: layers.IndependentNormal((0,)), "event_shape of positive ints"),
    ]:
        with pytest.raises(ValueError, match=match):
            make()


def test_discrete_heads_sample_their_support():
    head, outputs = _randomized(layers.Categorical(4))
    labels = head.distribution(outputs).sample(500, seed=[0, 0]).numpy()
    assert labels.dtype == np.int32 and set(np.unique(labels)) <= set(range(4))
    bernoulli, outputs = _randomized(layers.IndependentBernoulli((2,)))
    assert set(np.unique(bernoulli.distribution(outputs).sample(50, seed=[0, 0]))) <= {0.0, 1.0}
