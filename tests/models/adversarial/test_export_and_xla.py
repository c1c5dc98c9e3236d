"""Export round trips in a fresh TensorFlow-only process; checkpoints hold both optimizers.
(The XLA train steps are in tests/test_model_contract.py.)"""

import numpy as np
import pytest

from tests.checks.export import exported_outputs
from tfdgm import export
from tfdgm.models import GAN, WGANGP, ConditionalGAN, CycleGAN, PointCloudGAN


@pytest.mark.parametrize("model_class", [GAN, PointCloudGAN])
def test_generate_signatures_reload_with_tensorflow_only(tmp_path, model_class):
    model = model_class(event_shape=(2,) if model_class is GAN else (8, 2), noise_dim=3)
    z = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    clouds = np.random.default_rng(1).normal(size=(3, 5, 2)).astype(np.float32)  # any number of points
    calls = {"sample": ("sample", {"n": 5, "seed": 11}), "again": ("sample", {"n": 5, "seed": 11}),
             "from_noise": ("generate", {"z": z})}
    extra = ["encode"] if model_class is PointCloudGAN else []
    if extra:
        calls["encode"] = ("encode", {"x": clouds})
    result = exported_outputs(model, calls, tmp_path)
    assert export.signature_names(model) == sorted(["generate", "sample", *extra])
    if extra:
        np.testing.assert_allclose(result["encode"]["z"], model.encode(clouds), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(result["sample"]["samples"], result["again"]["samples"])
    np.testing.assert_allclose(result["sample"]["samples"], model.generate(5, seed=11), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(result["from_noise"]["samples"], model.generate(z, seed=0), rtol=1e-5, atol=1e-5)


def test_conditional_signatures_take_labels(tmp_path):
    model = ConditionalGAN(event_shape=(2,), num_classes=4, noise_dim=3)
    z = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)
    result = exported_outputs(model, {"sample": ("sample", {"n": 5, "seed": 11, "label": 2}),
                                      "from_noise": ("generate", {"z": z, "label": np.full([len(z)], 2)})}, tmp_path)
    np.testing.assert_allclose(result["sample"]["samples"], model.generate(5, seed=11, context=2), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(result["from_noise"]["samples"], model.generate(z, context=2), rtol=1e-5, atol=1e-5)


def test_cyclegan_translate_signature(tmp_path):
    model = CycleGAN(event_shape=(6,))
    x = np.random.default_rng(2).normal(size=(4, 3)).astype(np.float32)
    result = exported_outputs(model, {"translate": ("translate", {"x": x})}, tmp_path)
    assert export.signature_names(model) == ["translate"]
    np.testing.assert_allclose(result["translate"]["a2b"], model.translate(x, "a2b"), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(result["translate"]["b2a"], model.translate(x, "b2a"), rtol=1e-5, atol=1e-5)


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
