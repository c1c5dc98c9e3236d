"""Shared pieces of the MADE/MAF/IAF tests: toy data, random weights, the
hand-computed log-density along the bijector path, a bare-TF export check."""

import numpy as np
import tensorflow as tf

from tests.checks.data import toy2d
from tests.checks.export import Output, exported_outputs


def two_moons(num, seed=0):
    """Points of `tfdgm.data`'s "moons" set at unit spread, float32 [num, 2], and
    labels [num] (moon index): seed 0 reads the train split, seed 1 the test split.

    The set is 2 (p - (0.5, 0.25)) for points p on the moons; dividing by
    2 (0.87, 0.5) gives each coordinate a standard deviation of about 1."""
    x, labels = toy2d("moons", num, split=("train", "test")[seed])
    return x / np.array([1.74, 1.0], np.float32), labels


def randomize(model, scale=0.3, seed=0):
    """Builds `model` and sets every trainable weight to N(0, scale^2) (so no
    layer is the identity); returns it."""
    rng = np.random.default_rng(seed)
    if not model.built:
        model.build((None, *model.event_shape))
    for weight in model.trainable_variables:
        weight.assign(rng.normal(0.0, scale, weight.shape).astype(np.float32))
    return model


def grid_mass(model, low=-6.0, high=6.0, num=601, context=None):
    """Riemann sum of exp(log_prob) over a num x num grid of [low, high]^2."""
    from tests.helpers import grid_2d

    points, area = grid_2d(low, high, num)
    if context is not None:
        context = np.full([len(points)], context, np.int32)
    return float(tf.reduce_sum(tf.exp(tf.cast(model.log_prob(points, context), tf.float64)))) * area


def check_export_in_fresh_process(model, x, tmp_path, labels=None):
    """Exports `model`, reloads it in a process that imports only tensorflow,
    and compares every signature with the in-memory model."""
    from tfdgm import export

    context = {} if labels is None else {"label": np.asarray(labels, np.int32)}
    sample_context = {} if labels is None else {"label": int(labels[0])}
    calls = {"log_prob": ("log_prob", {"x": x, **context}),
             "sample": ("sample", {"n": 4, "seed": 11, **sample_context}),
             "again": ("sample", {"n": 4, "seed": 11, **sample_context})}
    if "encode" in export.signature_names(model):
        calls["encode"] = ("encode", {"x": x, **context})
        calls["decode"] = ("decode", {"z": Output("encode", "z"), **context})
    result = exported_outputs(model, calls, tmp_path)
    np.testing.assert_allclose(result["log_prob"]["log_prob"], model.log_prob(x, labels).numpy(), rtol=1e-4, atol=1e-4)
    sample_context = None if labels is None else int(labels[0])
    # Traced into a graph, as the export is: the samplers that run under XLA
    # in process (NADE, PixelCNN, WaveNet) draw plain TensorFlow's Philox stream there.
    traced = tf.function(lambda: model.sample(4, seed=11, context=sample_context))()
    np.testing.assert_allclose(result["sample"]["samples"], traced.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(result["sample"]["samples"], result["again"]["samples"])
    if "encode" in result:
        np.testing.assert_allclose(result["encode"]["z"], model.encode(x, labels).numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(result["decode"]["x"], x, rtol=1e-3, atol=1e-3)
    return result
