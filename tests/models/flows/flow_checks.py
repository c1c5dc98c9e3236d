"""Checks shared by the flow model tests: the bijector path of log_prob, grid
normalization, an XLA-lowered train step, and the bare-TensorFlow export."""

import json

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tests.bijector_checks import assert_bijector_correct
from tests.helpers import grid_2d, recording_xla_traces, run_in_tensorflow_process
from tfdgm import export

tfb = tfp.bijectors


def randomize(model, scale=0.1, seed=0):
    """Perturbs every trainable weight, so the flow is far from the identity."""
    rng = np.random.default_rng(seed)
    model.build((None, *model.event_shape))
    for weight in model.trainable_variables:
        weight.assign(weight + rng.normal(0.0, scale, weight.shape).astype(np.float32))
    return model


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


def grid_mass(model, low=-10.0, high=10.0, num=401, context=None):
    """Riemann sum of exp(log p) over a 2-D grid."""
    points, area = grid_2d(low, high, num)
    if context is not None:
        context = np.full([len(points)], context, np.int32)
    return float(tf.reduce_sum(tf.exp(model.log_prob(points, context=context)))) * area


def assert_train_step_lowers_to_xla(model, x):
    """fit with jit_compile=True, and the train step lowers to XLA HLO."""
    model.compile(optimizer="adam")
    assert model.jit_compile is True
    with recording_xla_traces(model) as traced:
        model.fit(x, batch_size=len(x), epochs=1, verbose=0)
    assert traced and all(traced), traced  # fit traced its train step inside XLA


LOAD_SCRIPT = r"""
import json, sys
import numpy as np
import tensorflow as tf
loaded = tf.saved_model.load({path!r})
x = tf.constant(np.load({x_path!r}))
out = {{"log_prob": loaded.signatures["log_prob"](x=x)["log_prob"].numpy().tolist(),
       "sample": loaded.signatures["sample"](n=tf.constant(3), seed=tf.constant(5))["samples"].numpy().tolist(),
       "z": loaded.signatures["encode"](x=x)["z"].numpy().tolist(),
       "imported": sorted(m for m in ("tfdgm", "tensorflow_probability", "tf_keras")
                          if m in sys.modules)}}
out["x"] = loaded.signatures["decode"](z=tf.constant(out["z"], tf.float32))["x"].numpy().tolist()
print(json.dumps(out))
"""


def assert_export_round_trip(model, x, tmp_path):
    """The SavedModel, loaded by a process importing only TensorFlow, equals the model."""
    np.save(tmp_path / "x.npy", x)
    path = export.save(model, str(tmp_path / "saved"))
    done = run_in_tensorflow_process(LOAD_SCRIPT.format(path=path, x_path=str(tmp_path / "x.npy")))
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["imported"] == []
    np.testing.assert_allclose(result["log_prob"], model.log_prob(x).numpy(), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(result["sample"], model.sample(3, seed=5).numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(result["z"], model.encode(x).numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(result["x"], x, rtol=1e-3, atol=1e-3)


def two_blobs(n, seed=0):
    """A bimodal 2-D toy set: two Gaussians at (+-2, 0.5 * sign), std 0.4."""
    rng = np.random.default_rng(seed)
    sign = rng.choice([-1.0, 1.0], size=n)
    x = np.stack([2.0 * sign, 0.5 * sign], axis=1) + 0.4 * rng.normal(size=(n, 2))
    return x.astype(np.float32)
