"""Latent models export encode/decode/sample/log_prob signatures that a fresh
process importing only TensorFlow runs deterministically; the CLI trains,
evaluates (L_k) and samples them."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tests.checks.export import exported_outputs
from tfdgm import cli, export
from tfdgm.models import HelmholtzMachine, VAE


@pytest.mark.parametrize(
    "model",
    [
        VAE(event_shape=(4,), hidden_units=[8], latent_dim=2),
        VAE(event_shape=(4,), hidden_units=[8], latent_dim=2, posterior="iaf", num_flows=2),
        HelmholtzMachine(event_shape=(4,), latent_dim=[3, 2]),
    ],
    ids=["vae", "vae_iaf_posterior", "helmholtz"],
)
def test_export_reloads_in_a_fresh_process_importing_only_tensorflow(tmp_path, model):
    rng = np.random.default_rng(0)
    model.build()
    for weight in model.trainable_variables:
        weight.assign(rng.normal(0.0, 0.5, weight.shape).astype(np.float32))
    x = (rng.uniform(size=(3, 4)) < 0.5).astype(np.float32)
    z = rng.normal(size=(2, model.latent_dims[0])).astype(np.float32)
    model.log_prob(x, num_samples=5)  # compiled functions cached on the model must not break export
    assert export.signature_names(model) == ["decode", "encode", "encode_sample", "log_prob", "sample"]

    result = exported_outputs(model, {
        "encode": ("encode", {"x": x}), "encode_sample": ("encode_sample", {"x": x, "seed": 3}),
        "decode": ("decode", {"z": z}), "sample": ("sample", {"n": 5, "seed": 11}),
        "again": ("sample", {"n": 5, "seed": 11}), "log_prob": ("log_prob", {"x": x, "num_samples": 30, "seed": 4}),
    }, tmp_path)
    np.testing.assert_allclose(result["encode"]["z"], model.encode(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result["encode_sample"]["z"], model.encoder_distribution(x).sample(seed=[3, 0]),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result["decode"]["x"], model.decode(z), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result["sample"]["samples"], model.sample(5, seed=11), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(result["sample"]["samples"], result["again"]["samples"])
    np.testing.assert_allclose(result["log_prob"]["log_prob"], model.log_prob(x, num_samples=30, seed=4),
                               rtol=1e-5, atol=1e-5)


def test_cli_trains_evaluates_with_lk_and_samples_a_vae(tmp_path):
    run_dir = str(tmp_path / "vae-digits")
    # In this process, as the other families' CLI tests (tests/test_cli.py runs the console command).
    assert cli.main([
        "train", "vae", "--data", "digits", "--epochs", "1", "--num-examples", "128", "--batch-size", "64",
        "--out", run_dir, "--param", "hidden_units=[32]", "--param", "latent_dim=2", "--quiet",
    ]) == 0
    assert cli.main(["evaluate", run_dir, "--num-samples", "20"]) == 0
    metrics = json.loads(open(os.path.join(run_dir, "metrics.json")).read())
    assert metrics["num_samples"] == 20 and np.isfinite(metrics["nll_nats"])
    # Binarized 8x8 digits: bits/dim = nats / (64 ln 2).
    np.testing.assert_allclose(metrics["bits_per_dim"], metrics["nll_nats"] / (64 * np.log(2)), rtol=1e-5)
    for picture in ("samples.png", "reconstructions.png", "interpolations.png"):
        assert os.path.exists(os.path.join(run_dir, picture)), picture
    # A 2-D latent also gets its posterior means of test digits, coloured by class.
    scatter = tf.io.decode_png(open(os.path.join(run_dir, "latent_scatter.png"), "rb").read()).numpy()
    colours = {tuple(c) for c in scatter.reshape(-1, 3)} - {(255, 255, 255)}
    assert len(colours) >= 5, colours
