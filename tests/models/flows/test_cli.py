"""The flows and masked autoregressive models through the `tfdgm` command:
`train maf|iaf|made|planar|nice|realnvp|glow --data ...` and `sample DIR
--temperature T` (the CLI's samples are the model's own at that temperature)."""

import numpy as np
import pytest

from tfdgm import cli, runs

# Tiny architectures: the test is about the command, not the fit.
TINY = {
    "maf": ["num_layers=2", "hidden_units=[16]"],
    "iaf": ["num_layers=2", "hidden_units=[16]"],
    "made": ["hidden_units=[16]", "num_masks=2", "order_agnostic=true"],
    "planar": ["num_layers=2"],
    "nice": ["num_layers=2", "hidden_units=[16]"],
    "realnvp": ["num_layers=2", "hidden_units=[16]"],
    "glow": ["num_steps=2", "hidden_units=[16]"],
}


def _train(name, run_dir, data="moons", extra=()):
    params = [arg for param in TINY[name] for arg in ("--param", param)]
    return cli.main(["train", name, "--data", data, "--epochs", "1", "--num-examples", "256", "--batch-size", "64",
                     "--out", str(run_dir), "--quiet", *params, *extra])


@pytest.mark.parametrize("name", sorted(TINY))
def test_train_then_sample_every_flow_from_the_command_line(tmp_path, name):
    run_dir = tmp_path / name
    assert _train(name, run_dir) == 0
    net, _, _ = runs.load_run(str(run_dir))
    assert type(net).__name__.lower().startswith(name[:4]) or name == "planar"
    assert cli.main(["sample", str(run_dir), "-n", "16", "--seed", "2", "--out", str(tmp_path / "s.png")]) == 0
    samples = np.load(tmp_path / "s.npy")
    assert samples.shape == (16, 2) and np.all(np.isfinite(samples))


@pytest.mark.parametrize("name", ["glow", "realnvp"])
def test_sample_temperature_scales_the_latent(tmp_path, name):
    run_dir = tmp_path / name
    assert _train(name, run_dir) == 0
    net, _, _ = runs.load_run(str(run_dir))
    drawn = {}
    for temperature in (0.0, 0.5):
        out = tmp_path / f"t{temperature}.png"
        assert cli.main(["sample", str(run_dir), "-n", "32", "--seed", "4", "--temperature", str(temperature),
                         "--out", str(out)]) == 0
        drawn[temperature] = np.load(tmp_path / f"t{temperature}.npy")
        expected = net.data_transform.bijector().inverse(net.sample(32, seed=4, temperature=temperature)).numpy()
        np.testing.assert_allclose(drawn[temperature], expected, rtol=1e-5, atol=1e-5)
    # T = 0: every sample is the decoded zero latent, one point.
    np.testing.assert_allclose(drawn[0.0], np.repeat(drawn[0.0][:1], 32, 0), atol=1e-5)
    assert np.std(drawn[0.5], axis=0).min() > 1e-3


def test_a_run_records_every_hyperparameter_and_an_older_run_keeps_its_defaults(tmp_path):
    """config.json holds the model's whole `hyperparameters()`: a later default
    change (Glow's coupling scale) cannot change the model a run rebuilds; a
    run written before they were recorded rebuilds with the defaults of then."""
    import json

    run_dir = tmp_path / "glow"
    assert _train("glow", run_dir) == 0
    config = json.loads((run_dir / "config.json").read_text())
    net, _, _ = runs.load_run(str(run_dir))
    assert config["hyperparameters"] == json.loads(json.dumps(net.hyperparameters()))
    assert config["hyperparameters"]["num_steps"] == 2  # the --param
    assert config["hyperparameters"]["coupling_scale"] == "tanh"  # a vector Glow's default
    config["hyperparameters"]["coupling_scale"] = "sigmoid"  # the recorded value wins over any default
    (run_dir / "config.json").write_text(json.dumps(config))
    assert runs.load_run(str(run_dir))[0].coupling_scale == "sigmoid"
    del config["hyperparameters"]  # as tfdgm wrote runs before
    (run_dir / "config.json").write_text(json.dumps(config))
    old, _, _ = runs.load_run(str(run_dir))
    assert old.coupling_scale == "tanh" and old.num_steps == 2
