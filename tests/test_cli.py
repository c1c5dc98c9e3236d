"""The `tfdgm` command end to end: round trips, bad input, kill and resume."""

import json
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from tests.checks.export import Output, reloaded_outputs
from tests.helpers import REPO, run_cli, subprocess_env
from tfdgm import cli


def test_list_names_models_and_datasets(capsys):
    code, out, err = _main(["list"], capsys)
    assert code == 0, err
    assert "independent_bernoulli" in out
    for name in ("fashion_mnist", "digits", "moons", "8gaussians", "tfds:NAME"):
        assert name in out


@pytest.mark.parametrize(
    "model, data, expected_bits_range",
    [
        # 0/1 data: at most 1 bit/dim; a useful model needs fewer.
        ("independent_bernoulli", "digits", (0.1, 1.0)),
        # continuous 2-D data: a broad Gaussian, finite and well below 10 bits/dim.
        ("independent_gaussian", "moons", (-2.0, 10.0)),
    ],
)
def test_train_evaluate_sample_export_round_trip(tmp_path, capsys, model, data, expected_bits_range):
    # In this process: the console script's own start is tested by the bad-input
    # check below, and four more TensorFlow starts cost 25 s here.
    run_dir = tmp_path / "run"
    code, _, err = _main([
        "train", model, "--data", data, "--epochs", 2, "--num-examples", 512,
        "--batch-size", 64, "--out", run_dir, "--quiet",
    ], capsys)
    assert code == 0, err[-3000:]
    for name in ("config.json", "metrics.json", "model.weights.h5", "samples.png", "samples_epoch_002.png"):
        assert (run_dir / name).exists(), name
    assert any((run_dir / "logs").rglob("*tfevents*"))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    low, high = expected_bits_range
    assert low < metrics["bits_per_dim"] < high
    assert metrics["epochs_trained"] == 2 and len(metrics["epoch_seconds"]) == 2

    code, out, err = _main(["evaluate", run_dir], capsys)
    assert code == 0, err[-3000:]
    evaluated = json.loads(out[out.index("{"):])
    assert abs(evaluated["bits_per_dim"] - metrics["bits_per_dim"]) < 1e-4

    code, _, err = _main(["sample", run_dir, "-n", 16, "--seed", 3], capsys)
    assert code == 0, err[-3000:]
    samples = np.load(run_dir / "samples_n16_seed3.npy")
    assert samples.shape[0] == 16 and np.all(np.isfinite(samples))

    saved = tmp_path / "saved"
    code, _, err = _main(["export", run_dir, "--to", saved], capsys)
    assert code == 0, err[-3000:]
    result, _ = reloaded_outputs(saved / "1", {"sample": ("sample", {"n": 16, "seed": 3}),
                                               "log_prob": ("log_prob", {"x": Output("sample", "samples")})}, tmp_path)
    assert result["log_prob"]["log_prob"].shape == (16,) and np.all(np.isfinite(result["log_prob"]["log_prob"]))


def _main(args, capsys):
    """`tfdgm ARGS` in this process (the console script is `sys.exit(main())`).
    -> (exit code, stdout, stderr)."""
    try:
        code = cli.main([str(arg) for arg in args])
    except SystemExit as stop:  # argparse's own errors
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


def _one_error_line(stderr):
    return [line for line in stderr.splitlines() if line.startswith("tfdgm: error:")]


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "no_such_model", "--data", "digits"], "unknown model 'no_such_model'; expected one of"),
        (["train", "independent_gaussian", "--data", "nope"], "nope"),
        (["train", "independent_bernoulli", "--data", "moons"], "models binary data"),
        (["train", "independent_gaussian", "--data", "moons", "--strategy", "x"], "unknown strategy 'x'"),
        (["train", "independent_gaussian", "--data", "moons", "--param", "bogus=1"], "bad parameters"),
        (["train", "independent_gaussian", "--data", "moons", "--preprocess", "sharpen"], "sharpen"),
        (["evaluate", "/nonexistent/run"], "not a run directory"),
        (["sample", "/nonexistent/run"], "not a run directory"),
        (["export", "/nonexistent/run"], "not a run directory"),
    ],
)
def test_bad_input_gives_one_line_error_and_exit_code_2(tmp_path, capsys, args, message):
    if args[0] == "train":
        args = args + ["--out", str(tmp_path / "run"), "--epochs", "1", "--num-examples", "64"]
    code, out, err = _main(args, capsys)  # an uncaught exception would fail the test here
    assert code == 2, (out, err[-2000:])
    error_lines = _one_error_line(err)
    assert len(error_lines) == 1 and message in error_lines[0], err[-2000:]


def test_the_console_command_exits_with_2_and_no_traceback_on_bad_input(tmp_path):
    done = run_cli("train", "no_such_model", "--data", "digits", "--out", tmp_path / "run")
    assert done.returncode == 2, (done.stdout, done.stderr[-2000:])
    assert "Traceback" not in done.stderr
    assert len(_one_error_line(done.stderr)) == 1, done.stderr[-2000:]


def test_existing_run_is_not_overwritten_without_resume(tmp_path, capsys):
    args = ["train", "independent_gaussian", "--data", "moons", "--epochs", 1,
            "--num-examples", 64, "--out", tmp_path / "run", "--quiet"]
    assert _main(args, capsys)[0] == 0
    code, _, err = _main(args, capsys)
    assert code == 2 and "pass --resume" in err


def _optimizer_iterations(weights_path):
    """The optimizer's step counter stored in a Keras 3 weights file."""
    with h5py.File(weights_path, "r") as handle:
        return int(np.asarray(handle["optimizer"]["vars"]["0"]))


def test_kill_mid_epoch_then_resume_loses_no_checkpointed_work(tmp_path):
    run_dir = tmp_path / "run"
    # digits: 1,257 training images; batch 4 -> 315 steps per epoch.
    args = [sys.executable, "-m", "tfdgm.cli", "train", "independent_bernoulli", "--data", "digits",
            "--epochs", "400", "--batch-size", "4", "--checkpoint-every", "50", "--out", str(run_dir),
            "--quiet"]
    process = subprocess.Popen(args, env=subprocess_env(), cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    metadata_path = run_dir / "checkpoints" / "training_metadata.json"
    deadline = time.time() + 240
    # Wait for a mid-epoch checkpoint of epoch 2 or later, then kill -9.
    while time.time() < deadline:
        if metadata_path.exists():
            try:
                state = json.loads(metadata_path.read_text())
            except json.JSONDecodeError:
                state = {}
            if state.get("epoch", 0) >= 1 and state.get("batch", 0) > 0:
                break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert not (run_dir / "metrics.json").exists()  # it really died mid-training
    state = json.loads(metadata_path.read_text())
    checkpoint_steps = _optimizer_iterations(run_dir / "checkpoints" / "latest.weights.h5")
    assert checkpoint_steps > 315 * state["epoch"]  # mid-epoch: part of an epoch was done

    # Resume for only two more epochs in total past the killed one.
    total_epochs = state["epoch"] + 2
    done = run_cli("train", "independent_bernoulli", "--data", "digits", "--epochs", total_epochs,
                   "--out", run_dir, "--resume", "--quiet")
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"resuming {run_dir} at epoch {state['epoch'] + 1} of {total_epochs}" in done.stdout
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs_trained"] == 2
    # The optimizer restarted from the checkpoint's step count: the steps done
    # before the kill are kept, and the interrupted epoch was re-run whole.
    final_steps = _optimizer_iterations(run_dir / "model.weights.h5")
    assert final_steps == checkpoint_steps + 2 * 315


def test_mirrored_strategy_trains_to_the_same_nll_as_one_device(tmp_path, capsys):
    results = {}
    for strategy in ("default", "mirrored"):
        args = ["train", "independent_gaussian", "--data", "moons", "--epochs", 2, "--num-examples", 512,
                "--batch-size", 64, "--out", tmp_path / strategy, "--strategy", strategy, "--quiet"]
        if strategy == "mirrored":  # two CPU replicas are set up when TensorFlow starts: a fresh process
            done = run_cli(*args)
            assert done.returncode == 0, done.stderr[-3000:]
        else:
            code, _, err = _main(args, capsys)
            assert code == 0, err[-3000:]
        results[strategy] = json.loads((tmp_path / strategy / "metrics.json").read_text())["bits_per_dim"]
    # Same data order and seed; two replicas sum half-batch gradients: the
    # same updates up to float reduction order.
    assert abs(results["mirrored"] - results["default"]) < 1e-2


def test_data_dir_and_download_reach_the_data_loader(tmp_path, monkeypatch):
    from tfdgm import data as tfdgm_data

    seen = []
    real_load = tfdgm_data.load

    def recording_load(*args, **kwargs):
        seen.append((kwargs.get("data_dir"), kwargs.get("download")))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(tfdgm_data, "load", recording_load)
    run_dir = tmp_path / "run"
    assert cli.main(["train", "independent_gaussian", "--data", "moons", "--data-dir", str(tmp_path), "--download",
                     "--epochs", "1", "--num-examples", "64", "--batch-size", "32", "--out", str(run_dir),
                     "--quiet"]) == 0
    config = json.loads((run_dir / "config.json").read_text())
    assert config["data_dir"] == str(tmp_path) and config["download"] is True
    assert seen and all(entry == (str(tmp_path), True) for entry in seen)
