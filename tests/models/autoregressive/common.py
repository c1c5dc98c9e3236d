"""Shared pieces of the MADE/MAF/IAF tests: toy data, random weights, the
hand-computed log-density along the bijector path, a bare-TF export check."""

import json

import numpy as np
import tensorflow as tf

from tests.helpers import run_in_tensorflow_process


def two_moons(num, seed=0, noise=0.1):
    """Standardized two-moons sample, float32 [num, 2], and labels [num] (moon index)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, num)
    angle = rng.uniform(0.0, np.pi, num)
    x = np.where(labels == 0, np.cos(angle), 1.0 - np.cos(angle))
    y = np.where(labels == 0, np.sin(angle), 0.5 - np.sin(angle))
    points = np.stack([x, y], 1) + noise * rng.normal(size=(num, 2))
    points = (points - np.array([0.5, 0.25])) / np.array([0.87, 0.5])
    return points.astype(np.float32), labels.astype(np.int32)


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


LOAD_SCRIPT = r"""
import json, sys
import numpy as np
import tensorflow as tf
loaded = tf.saved_model.load({path!r})
x = tf.constant(np.load({x_path!r}))
extra = {extra!r}
context = {{k: tf.constant(v, tf.int32) for k, v in extra.items()}}
sample_context = {{k: tf.constant(v[0], tf.int32) for k, v in extra.items()}}
out = {{"log_prob": loaded.signatures["log_prob"](x=x, **context)["log_prob"].numpy().tolist()}}
first = loaded.signatures["sample"](n=tf.constant(4), seed=tf.constant(11), **sample_context)["samples"].numpy()
again = loaded.signatures["sample"](n=tf.constant(4), seed=tf.constant(11), **sample_context)["samples"].numpy()
out["sample"] = first.tolist()
out["deterministic"] = bool((first == again).all())
if "encode" in loaded.signatures:
    z = loaded.signatures["encode"](x=x, **context)["z"]
    out["z"] = z.numpy().tolist()
    out["decoded"] = loaded.signatures["decode"](z=z, **context)["x"].numpy().tolist()
out["imported"] = sorted(m for m in ("tfdgm", "tensorflow_probability", "tf_keras") if m in sys.modules)
print(json.dumps(out))
"""


def check_export_in_fresh_process(model, x, tmp_path, labels=None):
    """Exports `model`, reloads it in a process that imports only tensorflow,
    and compares every signature with the in-memory model."""
    from tfdgm import export

    np.save(tmp_path / "x.npy", x)
    path = export.save(model, str(tmp_path / "saved"))
    extra = {} if labels is None else {"label": [int(v) for v in labels]}
    done = run_in_tensorflow_process(LOAD_SCRIPT.format(path=path, x_path=str(tmp_path / "x.npy"), extra=extra))
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["imported"] == []
    np.testing.assert_allclose(result["log_prob"], model.log_prob(x, labels).numpy(), rtol=1e-4, atol=1e-4)
    sample_context = None if labels is None else int(labels[0])
    # Traced into a graph, as the export is: the samplers that run under XLA
    # in process (NADE, PixelCNN, WaveNet) draw plain TensorFlow's Philox stream there.
    traced = tf.function(lambda: model.sample(4, seed=11, context=sample_context))()
    np.testing.assert_allclose(result["sample"], traced.numpy(), rtol=1e-4, atol=1e-4)
    assert result["deterministic"]
    if "z" in result:
        np.testing.assert_allclose(result["z"], model.encode(x, labels).numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(result["decoded"], x, rtol=1e-3, atol=1e-3)
    return result
