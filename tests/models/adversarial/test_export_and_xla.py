"""Export round trips in a fresh TensorFlow-only process; XLA train steps; checkpoints hold both optimizers."""

import json

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import recording_xla_traces, run_in_tensorflow_process
from tfdgm import export
from tfdgm.models import GAN, WGANGP, ConditionalGAN, CycleGAN, PointCloudGAN

LOAD_SCRIPT = r"""
import json, sys
import numpy as np
import tensorflow as tf
loaded = tf.saved_model.load({path!r})
out = {{"imported": sorted(m for m in ("tfdgm", "tensorflow_probability", "tf_keras") if m in sys.modules)}}
signatures = loaded.signatures
if "generate" in signatures:
    extra = {{"label": tf.constant(2)}} if {conditional!r} else {{}}
    first = signatures["sample"](n=tf.constant(5), seed=tf.constant(11), **extra)["samples"].numpy()
    again = signatures["sample"](n=tf.constant(5), seed=tf.constant(11), **extra)["samples"].numpy()
    z = tf.constant(np.load({z_path!r}))
    extra = {{"label": tf.fill([z.shape[0]], 2)}} if {conditional!r} else {{}}
    out.update(sample=first.tolist(), deterministic=bool((first == again).all()),
               from_noise=signatures["generate"](z=z, **extra)["samples"].numpy().tolist())
if "encode" in signatures:
    clouds = tf.constant(np.load({z_path!r}.replace("z.npy", "clouds.npy")))
    out.update(latent=signatures["encode"](x=clouds)["z"].numpy().tolist())
if "translate" in signatures:
    result = signatures["translate"](x=tf.constant(np.load({z_path!r})))
    out.update(a2b=result["a2b"].numpy().tolist(), b2a=result["b2a"].numpy().tolist())
print(json.dumps(out))
"""


def _reload(model, tmp_path, z, conditional=False):
    np.save(tmp_path / "z.npy", z)
    path = export.save(model, str(tmp_path / "saved"))
    done = run_in_tensorflow_process(LOAD_SCRIPT.format(path=path, z_path=str(tmp_path / "z.npy"), conditional=conditional))
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["imported"] == []
    return result


@pytest.mark.parametrize("model_class", [GAN, PointCloudGAN])
def test_generate_signatures_reload_with_tensorflow_only(tmp_path, model_class):
    model = model_class(event_shape=(2,) if model_class is GAN else (8, 2), noise_dim=3)
    z = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    clouds = np.random.default_rng(1).normal(size=(3, 5, 2)).astype(np.float32)  # any number of points
    np.save(tmp_path / "clouds.npy", clouds)
    result = _reload(model, tmp_path, z)
    extra = ["encode"] if model_class is PointCloudGAN else []
    assert export.signature_names(model) == sorted(["generate", "sample", *extra])
    if extra:
        np.testing.assert_allclose(result["latent"], model.encode(clouds), rtol=1e-5, atol=1e-5)
    assert result["deterministic"]
    np.testing.assert_allclose(result["sample"], model.generate(5, seed=11), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(result["from_noise"], model.generate(z, seed=0), rtol=1e-5, atol=1e-5)


def test_conditional_signatures_take_labels(tmp_path):
    model = ConditionalGAN(event_shape=(2,), num_classes=4, noise_dim=3)
    z = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)
    result = _reload(model, tmp_path, z, conditional=True)
    np.testing.assert_allclose(result["sample"], model.generate(5, seed=11, context=2), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(result["from_noise"], model.generate(z, context=2), rtol=1e-5, atol=1e-5)


def test_cyclegan_translate_signature(tmp_path):
    model = CycleGAN(event_shape=(6,))
    x = np.random.default_rng(2).normal(size=(4, 3)).astype(np.float32)
    result = _reload(model, tmp_path, x)
    assert export.signature_names(model) == ["translate"]
    np.testing.assert_allclose(result["a2b"], model.translate(x, "a2b"), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(result["b2a"], model.translate(x, "b2a"), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "make, data",
    [
        (lambda: WGANGP(event_shape=(2,), hidden_units=(8,), n_critic=2), np.zeros((16, 2), np.float32)),
        (lambda: CycleGAN(event_shape=(4,), hidden_units=(8,)), np.zeros((16, 4), np.float32)),
        (lambda: PointCloudGAN(event_shape=(8, 2), hidden_units=(8,), phi_units=(8,), rho_units=(8,), n_critic=1),
         np.zeros((16, 8, 2), np.float32)),
    ],
    ids=["wgan_gp", "cyclegan", "pointcloud_gan"],
)
@pytest.mark.xla
def test_train_steps_compile_with_xla(make, data):
    """Including WGAN-GP's nested gradient tape and the DeepSets critic."""
    model = make()
    model.compile()
    assert model.jit_compile is True
    with recording_xla_traces(model) as traced:
        model.fit(data, batch_size=8, epochs=1, verbose=0)
    assert traced and all(traced), traced  # fit traced its train step inside XLA


def test_checkpoints_hold_both_optimizers(tmp_path):
    data = np.random.default_rng(3).normal(size=(64, 2)).astype(np.float32)
    model = WGANGP(event_shape=(2,), hidden_units=(8,), n_critic=2)
    model.compile()
    model.fit(data, batch_size=32, verbose=0)
    model.save_weights(str(tmp_path / "w.weights.h5"))
    restored = WGANGP(event_shape=(2,), hidden_units=(8,), n_critic=2)
    restored.build()
    restored.compile()
    restored.load_weights(str(tmp_path / "w.weights.h5"))
    assert int(restored.discriminator_optimizer.iterations) == 4 and int(restored.generator_optimizer.iterations) == 2
    for saved, loaded in zip(model.discriminator_optimizer.variables, restored.discriminator_optimizer.variables):
        np.testing.assert_array_equal(saved.numpy(), loaded.numpy())
    np.testing.assert_array_equal(model.generate(4, seed=1), restored.generate(4, seed=1))
