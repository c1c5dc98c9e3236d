"""ConvRBM: CD training raises the exact likelihood, the sparsity target holds
the hidden activity down, XLA train steps, seeded sampling, shapes, export."""

import numpy as np
import pytest
import tensorflow as tf

from tests.checks.export import exported_outputs
from tests.helpers import recording_xla_traces
from tests.models.energy.test_rbm import energy_calls
from tfdgm.models import get
from tfdgm.models.energy import ConvRBM
from tfdgm.visualize import conv_filter_grid


def bars(num, size=8, length=3, seed=0):
    """Binary images with one horizontal or vertical bar of `length` at a random place."""
    rng = np.random.default_rng(seed)
    images = np.zeros((num, size, size, 1), np.float32)
    for image in images:
        row, col = rng.integers(0, size - length + 1, 2)
        if rng.uniform() < 0.5:
            image[row, col:col + length, 0] = 1.0
        else:
            image[row:row + length, col, 0] = 1.0
    return images


def test_training_increases_the_exact_log_likelihood():
    x = bars(512, size=4, length=2)
    model = ConvRBM(image_shape=(4, 4, 1), num_filters=2, filter_size=3, sparsity_target=None,
                    learning_rate=0.1)
    model.compile()
    assert model.enumerable  # 2^16 visible states
    before = float(tf.reduce_mean(model.log_prob(x)))
    history = model.fit(x, batch_size=32, epochs=15, verbose=0)
    after = float(tf.reduce_mean(model.log_prob(x)))
    # At the start p(v) is nearly uniform (-16 log 2 = -11.1 nats); bars of 2 in a 4x4 image
    # take 24 states (3.2 nats). A 2-filter model cannot reach that; +2 nats is far beyond noise.
    assert after > before + 2.0, (before, after)
    assert history.history["reconstruction_error"][-1] < history.history["reconstruction_error"][0]


def test_sparsity_target_is_reached():
    x = bars(512, seed=1)
    activity = {}
    for target in (None, 0.02):
        model = ConvRBM(image_shape=(8, 8, 1), num_filters=6, filter_size=3, sparsity_target=target,
                        sparsity_cost=1.0)
        model.compile()
        model.fit(x, batch_size=32, epochs=4, verbose=0)
        activity[target] = float(tf.reduce_mean(model.hidden_probs(x)))
    # the regularizer moves each group's bias until its mean detection activation is the target
    assert activity[None] > 0.05, activity
    assert abs(activity[0.02] - 0.02) < 0.005, activity


@pytest.mark.xla
@pytest.mark.parametrize("visible", ["binary", "gaussian"])
def test_train_step_compiles_with_xla(visible):
    """XLA is off by default (`supports_xla = False`, so the test contract skips
    it), but the step compiles when asked for."""
    model = get("conv_rbm")(image_shape=(8, 8, 1), num_filters=3, filter_size=3, visible=visible)
    model.compile()
    assert model.jit_compile is False  # off by default: XLA's CPU convolutions are slower
    model.compile(jit_compile=True)
    x = bars(32)
    x = x if visible == "binary" else x + np.random.default_rng(0).normal(size=x.shape).astype(np.float32)
    with recording_xla_traces(model) as traced:
        model.fit(x, batch_size=16, epochs=1, verbose=0)
    assert traced and all(traced), traced  # fit traced its train step inside XLA


def test_shapes_sampling_and_config():
    model = ConvRBM(image_shape=(8, 8, 1), num_filters=4, filter_size=3, sampling_steps=5)
    x = bars(10)
    assert model.features(x).shape == (10, 3, 3, 4)  # 6x6 hidden maps, pooled by 2
    assert model.hidden_probs(x).shape == (10, 6, 6, 4)
    assert model.filters().shape == (3, 3, 1, 4)
    assert model.free_energy(x).shape == (10,)
    samples = model.sample(6, seed=3).numpy()
    assert samples.shape == (6, 8, 8, 1) and set(np.unique(samples)) <= {0.0, 1.0}
    np.testing.assert_array_equal(samples, model.sample(6, seed=3).numpy())
    assert conv_filter_grid(model.filters().numpy()).shape == (2 * 4 + 1, 2 * 4 + 1, 1)
    clone = ConvRBM.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    with pytest.raises(ValueError, match="multiples of pool_size"):
        ConvRBM(image_shape=(8, 8, 1), filter_size=4)
    with pytest.raises(ValueError, match="shape \\[batch, 8, 8, 1\\]"):
        model.features(np.zeros((2, 8, 8)))


def test_default_hyperparameters_fit_the_datasets():
    from tfdgm.data import dataset_info

    for name in ("digits", "fashion_mnist"):
        info = dataset_info(name)
        model = ConvRBM(event_shape=info.event_shape, **ConvRBM.default_hyperparameters(info))
        assert model.hidden_shape[0] % model.pool_size == 0
        assert ConvRBM.default_preprocess(info) == "binarize:static"
        assert ConvRBM.default_preprocess(info, params={"visible": "gaussian"}).startswith("dequantize,scale")


def test_export_round_trip_in_a_fresh_process_importing_only_tensorflow(tmp_path):
    model = ConvRBM(image_shape=(4, 4, 1), num_filters=2, filter_size=3, sampling_steps=10)
    model.compile()
    x = bars(64, size=4, length=2)
    model.fit(x, batch_size=16, epochs=1, verbose=0)
    result = exported_outputs(model, energy_calls(x[:5], num_samples=3), tmp_path)  # log Z exactly (2^16 states)
    np.testing.assert_allclose(result["features"]["features"], model.features(x[:5]).numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(result["log_prob"]["log_prob"], model.log_prob(x[:5]).numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(result["sample"]["samples"], model.sample(3, seed=9).numpy())
    np.testing.assert_array_equal(result["sample"]["samples"], result["again"]["samples"])


@pytest.mark.parametrize("image_shape, filter_size, groups, block, pool", [
    ((28, 28, 1), 9, 5, 4, 2), ((28, 28, 1), 9, 5, 2, 2), ((10, 10, 3), 5, 4, 2, 2), ((8, 8, 1), 3, 2, None, 2),
    ((9, 9, 2), 2, 3, 4, 2), ((8, 8, 1), 3, 2, None, 1)])
def test_blocked_correlation_is_the_convolution_its_adjoint_and_the_filter_correlation(
        image_shape, filter_size, groups, block, pool):
    """patches @ M equals tf.nn.conv2d; the top-down pass equals the full convolution
    (conv2d_transpose); patches^T @ h gathered onto the taps equals the filter correlation."""
    from tfdgm.distributions.correlation import BlockedCorrelation, filter_correlation

    rng = np.random.default_rng(0)
    images = tf.constant(rng.normal(size=(3, *image_shape)).astype(np.float32))
    filters = tf.constant(rng.normal(size=(filter_size, filter_size, image_shape[2], groups)).astype(np.float32))
    blocked = BlockedCorrelation(image_shape, (filter_size, filter_size), pool, block)
    matrix = blocked.matrix(filters)
    unit_major = tf.reshape(blocked.patches(images) @ matrix, [-1, blocked.units, blocked.blocks_per_row * groups])
    hidden = tf.nn.conv2d(images, filters, 1, "VALID")
    np.testing.assert_allclose(blocked.hidden_maps(unit_major, 3), hidden, rtol=1e-4, atol=1e-4)
    # a different hidden state, pushed down and correlated, in both layouts
    h_maps = tf.constant(rng.normal(size=hidden.shape).astype(np.float32))
    h_unit = _unit_major_of(blocked, h_maps, groups)
    np.testing.assert_allclose(blocked.hidden_maps(h_unit, 3), h_maps, rtol=0, atol=0)
    columns = tf.reshape(h_unit, [-1, blocked.units * blocked.blocks_per_row * groups]) @ tf.transpose(matrix)
    top_down = tf.nn.conv2d_transpose(h_maps, filters, [3, *image_shape], 1, "VALID")
    np.testing.assert_allclose(blocked.patches_adjoint(columns, 3), top_down, rtol=1e-4, atol=1e-4)
    correlation = tf.matmul(blocked.patches(images), tf.reshape(h_unit, [tf.shape(columns)[0], -1]),
                            transpose_a=True)
    np.testing.assert_allclose(blocked.filters_from_matrix(correlation),
                               filter_correlation(images, h_maps, (filter_size, filter_size)), rtol=1e-4, atol=1e-3)


def _unit_major_of(blocked, maps, groups):
    """maps [n, H', W', K] -> unit-major [n * blocks, C^2, (s/C)^2 K], written out
    with loops over the blocks (independent of `hidden_maps`'s reshapes)."""
    maps = np.asarray(maps)
    n, s, c = maps.shape[0], blocked.block, blocked.pool_size
    q = s // c
    rows = []
    for image in range(n):
        for bi in range(blocked.blocks[0]):
            for bj in range(blocked.blocks[1]):
                row = np.zeros((c, c, q, q, groups), np.float32)
                for ur in range(c):
                    for uc in range(c):
                        for qr in range(q):
                            for qc in range(q):
                                row[ur, uc, qr, qc] = maps[image, bi * s + qr * c + ur, bj * s + qc * c + uc]
                rows.append(row.reshape(c * c, q * q * groups))
    return tf.constant(np.stack(rows))


def test_unit_major_sampler_matches_the_enumerated_block_distribution():
    """Each column of `unit_major_posterior` is one 2x2 block: 4 units and
    "all off" with weights exp(I_u) and 1 (eqs. 6-7); its draws have at most
    one unit on and the enumerated frequencies."""
    from scipy import stats

    from tfdgm.distributions.max_pooling import sample_unit_major, unit_major_posterior

    inputs = np.array([[0.5, -1.0, 3.0], [-0.2, 0.0, -2.0], [1.0, 2.0, -1.0], [0.0, -3.0, 0.5]], np.float32)
    weights = np.concatenate([np.exp(inputs), np.ones((1, 3))])  # [5, groups]: units, then off
    exact = weights / weights.sum(0)
    probs, log_partition = unit_major_posterior(tf.constant(inputs[None]))
    np.testing.assert_allclose(probs[0], exact[:4], rtol=1e-5)
    np.testing.assert_allclose(log_partition[0], np.log(weights.sum(0)), rtol=1e-5)
    num = 40000
    draws = sample_unit_major(tf.repeat(probs, num, 0), seed=[5, 6]).numpy()  # [num, 4, 3]
    assert set(np.unique(draws)) <= {0.0, 1.0} and draws.sum(1).max() <= 1.0
    states = np.where(draws.sum(1) > 0, draws.argmax(1), 4)
    for group in range(3):
        counts, expected = np.bincount(states[:, group], minlength=5), num * exact[:, group]
        chi2 = np.sum((counts - expected) ** 2 / expected)
        assert chi2 < stats.chi2.ppf(1 - 1e-4, 4), (group, counts, expected)


def test_pool_size_one_is_independent_sigmoid_units():
    """A 1x1 block is a two-way softmax {on: I, off: 0}: P(h = 1 | v) = sigmoid(I),
    and the pooling unit is the detection unit."""
    from tfdgm.distributions.max_pooling import prob_max_pool_probs, unit_major_posterior

    inputs = tf.constant(np.random.default_rng(1).normal(size=(2, 4, 4, 3)).astype(np.float32) * 3.0)
    hidden, pooling = prob_max_pool_probs(inputs, 1)
    np.testing.assert_allclose(hidden, tf.sigmoid(inputs), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(pooling, hidden, rtol=1e-5, atol=1e-7)
    probs, log_partition = unit_major_posterior(tf.reshape(inputs, [-1, 1, 3]))
    np.testing.assert_allclose(tf.reshape(probs, inputs.shape), tf.sigmoid(inputs), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(tf.reshape(log_partition, inputs.shape), tf.math.softplus(inputs), rtol=1e-5, atol=1e-6)
