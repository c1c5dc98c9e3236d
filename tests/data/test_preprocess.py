"""Preprocessing: log-Jacobians against hand values and autodiff, bits/dim in data space, binarization."""

import json
import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tests.checks.jacobian import batch_jacobian
from tfdgm.data import (Binarize, DatasetError, Dequantize, Logit, Preprocessing, Scale, dataset_info, load,
                        load_arrays, parse_preprocessing)

tfd = tfp.distributions

FASHION = dataset_info("fashion_mnist")  # metadata only: no data are read
DIGITS = dataset_info("digits")
MOONS = dataset_info("moons")


def _dequantized_images(shape=(3, 2, 2, 1), num_levels=256, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, num_levels, size=shape) + rng.uniform(size=shape)).astype(np.float32)


def _autodiff_log_det(forward, z):
    """log|det J| of `forward` at each example of z, J from the autodiff Jacobian (D x D per example)."""
    z = tf.convert_to_tensor(z, tf.float32)
    size = int(np.prod(z.shape[1:]))
    jacobian = batch_jacobian(lambda z: tf.reshape(forward(z), [z.shape[0], size]), z).reshape(len(z), size, size)
    return np.linalg.slogdet(jacobian.astype(np.float64))[1]


def test_scale_log_det_matches_hand_computation():
    # Dequantized [0, 256) onto [-1, 1]: factor 2/256 = 1/128 in each of D = 4 dims.
    p = parse_preprocessing("dequantize,scale:-1:1", FASHION)
    y = p.bijector().forward(_dequantized_images())
    np.testing.assert_allclose(p.log_det_jacobian(y), [4 * math.log(1 / 128)] * 3, rtol=1e-6)
    # Continuous data with an explicit range [-4, 4] onto [0, 1]: factor 1/8 in D = 2 dims.
    p = parse_preprocessing("scale:0:1:-4:4", MOONS)
    y = p(tf.constant([[-4.0, 4.0], [0.0, 2.0]]))
    np.testing.assert_allclose(y, [[0.0, 1.0], [0.5, 0.75]], atol=1e-7)
    np.testing.assert_allclose(p.log_det_jacobian(y), [2 * math.log(1 / 8)] * 2, rtol=1e-6)


def test_scale_without_dequantization_maps_top_level_to_high():
    # Integer levels 0..255 (not dequantized) map onto [0, 1] with factor 1/255.
    p = Preprocessing([Scale()], num_levels=256, event_ndims=1)
    y = p(tf.constant([[0.0, 255.0, 51.0]]))
    np.testing.assert_allclose(y, [[0.0, 1.0, 0.2]], atol=1e-6)
    np.testing.assert_allclose(p.log_det_jacobian(y), [-3 * math.log(255)], rtol=1e-6)


def test_logit_log_det_matches_hand_computation():
    # At x = 0.5, s = 0.5: log(1 - 2a) - log(s) - log(1 - s) = log(0.9 * 4) = log 3.6 per dim.
    p = parse_preprocessing("scale:0:1:0:1,logit:0.05", MOONS)
    y = p(tf.constant([[0.5, 0.5], [0.0, 1.0]]))
    np.testing.assert_allclose(y[0], [0.0, 0.0], atol=1e-7)
    np.testing.assert_allclose(y[1], [math.log(0.05 / 0.95), math.log(0.95 / 0.05)], rtol=1e-6)
    # At the edges s = 0.05 and 0.95: log 0.9 - log 0.05 - log 0.95 in both dims.
    edge = math.log(0.9) - math.log(0.05) - math.log(0.95)
    np.testing.assert_allclose(p.log_det_jacobian(y), [2 * math.log(3.6), 2 * edge], rtol=1e-5)


@pytest.mark.parametrize("spec, info, shape", [
    ("dequantize,scale", FASHION, (3, 2, 2, 1)),
    ("dequantize,scale:-1:1", FASHION, (3, 2, 2, 1)),
    ("dequantize,scale,logit:0.05", FASHION, (3, 2, 2, 1)),
    ("dequantize,scale,logit:0.001,scale:-1:1", DIGITS, (3, 2, 2, 1)),
    ("scale:-1:1:-4:4", MOONS, (4, 2)),
])
def test_log_det_matches_autodiff_jacobian(spec, info, shape):
    p = parse_preprocessing(spec, info)
    z = _dequantized_images(shape, num_levels=info.num_levels or 8)
    z = z - 4.0 if info.num_levels is None else z  # continuous data inside [-4, 4]
    y = p.bijector().forward(z)
    np.testing.assert_allclose(p.log_det_jacobian(y), _autodiff_log_det(p.bijector().forward, z),
                               rtol=1e-4, atol=1e-3)


def test_inverse_undoes_the_deterministic_steps():
    p = parse_preprocessing("dequantize,scale,logit:0.05", FASHION)
    z = _dequantized_images()
    np.testing.assert_allclose(p.inverse(p.bijector().forward(z)), z, rtol=1e-4, atol=1e-3)


def test_call_applies_the_bijector_after_the_noise():
    p = parse_preprocessing("dequantize,scale,logit", FASHION)
    x = tf.constant(_dequantized_images().round())
    y = p(x, seed=[1, 2])
    noise = p.inverse(y) - x  # the dequantization noise u in [0, 1)
    assert np.all(noise.numpy() > -1e-3) and np.all(noise.numpy() < 1 + 1e-3)
    np.testing.assert_allclose(p(x, seed=[1, 2]), y)  # stateless seeds: reproducible
    assert not np.allclose(p(x, seed=[1, 3]), y)


def test_uniform_model_density_gives_8_bits_per_dim():
    # Uniform on [0, 1)^D in model space after dequantize + scale(0, 1), 256 levels:
    # data-space density 256^-D, i.e. exactly log2(256) = 8 bits/dim.
    p = parse_preprocessing("dequantize,scale", FASHION)
    y = p(_dequantized_images().round(), seed=[0, 0])
    np.testing.assert_allclose(p.bits_per_dim(tf.zeros([3]), y), [8.0] * 3, rtol=1e-6)
    # Uniform on [-1, 1)^D has density 2^-D: again 8 bits/dim in data space.
    p = parse_preprocessing("dequantize,scale:-1:1", FASHION)
    y = p(_dequantized_images().round(), seed=[0, 0])
    np.testing.assert_allclose(p.bits_per_dim(tf.fill([3], -4 * math.log(2.0)), y), [8.0] * 3, rtol=1e-6)
    # 17 levels (digits): log2(17) bits/dim.
    p = parse_preprocessing("dequantize,scale", DIGITS)
    y = p(_dequantized_images(num_levels=17).round(), seed=[0, 0])
    np.testing.assert_allclose(p.bits_per_dim(tf.zeros([3]), y), [math.log2(17)] * 3, rtol=1e-6)


def test_logistic_density_on_logit_space_gives_8_bits_per_dim():
    # If s = alpha + (1 - 2 alpha) x/256 is uniform on [alpha, 1 - alpha], y = logit(s) has density
    # Logistic(0, 1)(y) / (1 - 2 alpha); mapped back, x is uniform on [0, 256)^D: 8 bits/dim at every point,
    # including points near the edges of the range.
    alpha = 0.05
    p = parse_preprocessing(f"dequantize,scale,logit:{alpha}", FASHION)
    x = tf.reshape(tf.constant([[0.0, 0.0, 255.0, 255.0], [3.0, 128.0, 17.0, 250.0]]), [2, 2, 2, 1])
    y = p(x, seed=[4, 2])
    logistic = tfd.Logistic(loc=tf.zeros([2, 2, 1]), scale=1.0)
    model_log_prob = tfd.Independent(logistic, 3).log_prob(y) - 4 * math.log(1 - 2 * alpha)
    np.testing.assert_allclose(p.bits_per_dim(model_log_prob, y), [8.0, 8.0], rtol=1e-5)


def test_binarized_bits_per_dim_have_no_jacobian():
    # Bernoulli(1/2) on binarized data: exactly 1 bit/dim, log-det 0.
    p = parse_preprocessing("binarize", FASHION)
    y = p(_dequantized_images().round())
    assert p.is_binary and set(np.unique(y)) <= {0.0, 1.0}
    np.testing.assert_array_equal(p.log_det_jacobian(y), [0.0] * 3)
    model_log_prob = tf.fill([3], 4 * math.log(0.5))
    np.testing.assert_allclose(p.bits_per_dim(model_log_prob, y), [1.0] * 3, rtol=1e-6)


def test_threshold_binarization_compares_intensity_with_threshold():
    x = tf.constant([[0.0, 127.0, 128.0, 255.0]])
    np.testing.assert_array_equal(Preprocessing([Binarize()], 256, 1)(x), [[0, 0, 1, 1]])
    np.testing.assert_array_equal(Preprocessing([Binarize("threshold", 0.25)], 256, 1)(x), [[0, 1, 1, 1]])


def test_binarization_frequencies_match_intensities():
    # 5 levels give intensities 0, 1/4, 1/2, 3/4, 1. Over n = 2000 samples the frequency of ones has
    # standard deviation at most sqrt(1/4 / 2000) = 0.011; allow 4.5 sigma = 0.05 (the draws are seeded,
    # so the test is deterministic; 4.5 sigma keeps a correct sampler's chance of failing below 1e-5).
    n, tolerance = 2000, 0.05
    x = tf.tile(tf.constant([[0.0, 1.0, 2.0, 3.0, 4.0]]), [n, 1])
    intensity = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    static = tf.function(Preprocessing([Binarize("static")], 5, 1).__call__)(x, index=tf.range(n))
    dynamic = Preprocessing([Binarize("dynamic")], 5, 1)(x, seed=[7, 7])
    for sample in (static, dynamic):
        frequency = sample.numpy().mean(axis=0)
        np.testing.assert_allclose(frequency, intensity, atol=tolerance)
        assert frequency[0] == 0.0 and frequency[-1] == 1.0  # intensities 0 and 1 are deterministic


def test_static_binarization_is_a_function_of_the_example_index():
    p = Preprocessing([Binarize("static", seed=3)], 256, 3)
    x = tf.constant(_dequantized_images((4, 5, 5, 1)).round())
    batched = p(x, index=tf.constant([10, 11, 12, 13]))
    one_by_one = tf.stack([p(x[i], index=10 + i) for i in range(4)])
    np.testing.assert_array_equal(batched, one_by_one)
    assert not np.array_equal(batched, p(x, index=tf.constant([20, 21, 22, 23])))
    with pytest.raises(DatasetError, match="index"):
        p(x)


def test_dynamic_binarization_changes_between_passes_static_does_not():
    def two_passes(spec, seed=0):
        ds = load("digits", preprocess=spec, num_examples=64, batch_size=64, seed=seed)
        return [next(iter(ds)).numpy() for _ in range(2)]

    first, second = two_passes("binarize:dynamic")
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, two_passes("binarize:dynamic")[0])  # reproducible from the seed
    first, second = two_passes("binarize:static")
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, two_passes("binarize:static", seed=5)[0])  # not tied to load's seed
    unbatched = np.stack(list(load("digits", preprocess="binarize:static", num_examples=64)))
    np.testing.assert_array_equal(first, unbatched)  # nor to the batching
    dynamic = np.stack(list(load("digits", preprocess="binarize:dynamic", num_examples=64)))
    assert set(np.unique(dynamic)) == {0.0, 1.0} and not np.array_equal(dynamic, first)
    # Shuffling reorders the examples but each keeps its static sample.
    shuffled = load("digits", preprocess="binarize:static", num_examples=64, shuffle=True, seed=1,
                    batch_size=64, with_labels=False)
    rows = {row.tobytes() for row in first}
    assert {row.tobytes() for row in next(iter(shuffled)).numpy()} == rows


def test_dequantization_noise_is_uniform_in_the_unit_cube_and_fresh_each_pass():
    ds = load("digits", preprocess="dequantize", num_examples=200, batch_size=200)
    x, _ = load_arrays("digits")
    first, second = (next(iter(ds)).numpy() - x[:200] for _ in range(2))
    for noise in (first, second):
        assert noise.min() >= 0.0 and noise.max() < 1.0
        # mean of 12,800 U[0,1) draws: standard error 0.0026
        assert abs(noise.mean() - 0.5) < 0.015
    assert not np.array_equal(first, second)


def test_load_applies_the_parsed_pipeline():
    x, _ = load_arrays("digits")
    ds = load("digits", preprocess="scale:-1:1", num_examples=10, batch_size=10)
    np.testing.assert_allclose(next(iter(ds)), x[:10] / 8.0 - 1.0, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("spec", [
    "none", "binarize", "binarize:threshold:0.3", "binarize:static", "binarize:static:7", "binarize:dynamic",
    "dequantize", "dequantize,scale", "dequantize,scale:-1:1", "dequantize,scale,logit:0.05",
    "dequantize,scale,logit:1e-06,scale:-1:1", "scale:-1:1",
])
def test_spec_and_config_round_trip(spec):
    p = parse_preprocessing(spec, FASHION)
    assert parse_preprocessing(p.to_spec(), FASHION) == p
    config = json.loads(json.dumps(p.get_config()))
    assert Preprocessing.from_config(config) == p
    assert parse_preprocessing(config) == p  # the config dict keeps num_levels: no DatasetInfo needed
    assert parse_preprocessing(p, FASHION) == p


def test_parse_accepts_lists_steps_and_none():
    expected = parse_preprocessing("dequantize,scale,logit", FASHION)
    assert parse_preprocessing([Dequantize(), Scale(), Logit()], FASHION) == expected
    assert parse_preprocessing(["dequantize", "scale,logit"], FASHION) == expected
    assert parse_preprocessing(None, FASHION).steps == ()
    identity = parse_preprocessing(None, FASHION)
    np.testing.assert_array_equal(identity.log_det_jacobian(tf.zeros([2, 2, 2, 1])), [0, 0])


@pytest.mark.parametrize("spec", [
    "foo", "scale:1", "scale:1:0", "logit:0.7", "binarize:sometimes", "dequantize:3", "scale:a:b",
    "dequantize,,scale",
])
def test_bad_spec_raises_naming_the_valid_steps(spec):
    with pytest.raises(DatasetError, match="binarize|dequantize|scale|logit|expected"):
        parse_preprocessing(spec, FASHION)


@pytest.mark.parametrize("spec, message", [
    ("scale,dequantize", "Dequantize must be the first step"),
    ("dequantize,logit", "Logit expects data in \\[0, 1\\]"),
    ("binarize,scale", "Binarize must be the only step"),
])
def test_invalid_step_order_raises(spec, message):
    with pytest.raises(DatasetError, match=message):
        parse_preprocessing(spec, FASHION)


@pytest.mark.parametrize("spec", ["binarize", "dequantize", "scale", "logit"])
def test_discrete_steps_or_unknown_range_on_continuous_data_raise(spec):
    with pytest.raises(DatasetError, match="num_levels=None|continuous|\\[0, 1\\]"):
        parse_preprocessing(spec, MOONS)


def test_preprocessing_built_for_other_data_is_rejected():
    with pytest.raises(DatasetError, match="num_levels"):
        parse_preprocessing(parse_preprocessing("dequantize", FASHION), DIGITS)


def test_for_evaluation_makes_dynamic_binarization_static_and_keeps_the_rest():
    from tfdgm.data import dataset_info

    info = dataset_info("digits")
    dynamic = parse_preprocessing("binarize:dynamic", info)
    evaluation = dynamic.for_evaluation()
    assert evaluation.to_spec() == "binarize:static"
    assert evaluation.num_levels == dynamic.num_levels
    x = tf.constant(np.full((64, 8, 8, 1), 8.0, np.float32))
    index = tf.range(64)
    first, second = evaluation(x, index=index), evaluation(x, index=index)
    np.testing.assert_array_equal(first.numpy(), second.numpy())
    continuous = parse_preprocessing("dequantize,scale", info)
    assert continuous.for_evaluation().to_spec() == continuous.to_spec()
