"""`--strategy multiworker`: two worker processes on 127.0.0.1 with TF_CONFIG.

Each test starts its workers itself (tests/multiworker_cluster.py: free
ports, process groups killed on exit, bounded waits). XLA is off (the
conftest's default), so the steps do not wait on compilation.
"""

import json
import os
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import REPO, subprocess_env
from tests.multiworker_cluster import Cluster, cli
from tests.multiworker_train import RUNS
from tfdgm import distribute

#: Fast failure detection for the tests (the defaults are for real clusters).
ENV = {"TFDGM_HEARTBEAT_TIMEOUT": "10", "TFDGM_REGISTER_TIMEOUT": "120"}
OUTPUTS = ("checkpoints", "metrics.json", "model.weights.h5", "samples.png", "logs")


def _failure(cluster):
    return "\n".join(f"--- worker {i} ---\n{cluster.log(i)[-3000:]}" for i in range(len(cluster.processes)))


def test_one_model_per_family_trains_on_two_workers_and_only_the_chief_writes(tmp_path):
    commands = [["-m", "tests.multiworker_train", tmp_path / f"w{i}", "multiworker"] for i in range(2)]
    with Cluster(commands, str(tmp_path / "cluster"), env=ENV) as cluster:
        codes = cluster.wait(timeout=300)
        assert codes == [0, 0], _failure(cluster)
    for family in RUNS:
        chief, other = tmp_path / "w0" / family, tmp_path / "w1" / family
        for name in OUTPUTS:
            assert (chief / name).exists(), (family, name)
            assert not (other / name).exists(), (family, name)
        assert (chief / "checkpoints" / "latest.weights.h5").exists()
        assert sorted(os.listdir(other)) == ["config.json"]  # what a worker needs to --resume
        metrics = json.loads((chief / "metrics.json").read_text())
        assert metrics["epochs_trained"] == 2 and not metrics["stopped_on_nan"]
        history = metrics["history"]
        assert all(np.all(np.isfinite(values)) for values in history.values()), (family, history)


def test_two_worker_step_equals_one_process_step_on_the_same_global_batch(tmp_path):
    """2 workers x 8 examples vs 1 process x 16 examples, one SGD step: the
    same weights (a MAF, and a GAN whose noise the workers split)."""
    models = "maf,gan"
    (tmp_path / "single").mkdir()
    (tmp_path / "multi").mkdir()
    single = subprocess.Popen(
        [sys.executable, "-m", "tests.multiworker_step", models, "default", str(tmp_path / "single")],
        cwd=REPO, env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        command = ["-m", "tests.multiworker_step", models, "multiworker", str(tmp_path / "multi")]
        with Cluster([command, command], str(tmp_path / "cluster"), env=ENV) as cluster:
            assert cluster.wait(timeout=240) == [0, 0], _failure(cluster)
        _, err = single.communicate(timeout=240)
        assert single.returncode == 0, err[-3000:]
    finally:
        if single.poll() is None:
            single.kill()
    for model in models.split(","):
        one = np.load(tmp_path / "single" / f"{model}.npz")
        two = np.load(tmp_path / "multi" / f"{model}.npz")
        updated = sorted(k for k in one.files if k.startswith("updated_"))
        moved = 0.0
        for key in updated:
            start = one[key.replace("updated_", "initial_")]
            np.testing.assert_array_equal(start, two[key.replace("updated_", "initial_")])
            moved = max(moved, float(np.max(np.abs(one[key] - start))))
            np.testing.assert_allclose(two[key], one[key], rtol=0, atol=1e-5, err_msg=f"{model} {key}")
        assert moved > 1e-3, f"{model}: the step changed nothing, the comparison would be empty"
    # Each worker read its own half of the global batch.
    everything = np.load(tmp_path / "single" / "shard_0.npy")
    halves = [np.load(tmp_path / "multi" / f"shard_{task}.npy") for task in range(2)]
    assert everything.shape == (16, 2) and [h.shape for h in halves] == [(8, 2), (8, 2)]
    np.testing.assert_array_equal(np.sort(np.concatenate(halves), 0), np.sort(everything, 0))


def _optimizer_iterations(weights_path):
    with h5py.File(weights_path, "r") as handle:
        return int(np.asarray(handle["optimizer"]["vars"]["0"]))


def test_killed_worker_stops_the_other_with_one_error_and_resume_continues(tmp_path):
    # 512 moons, global batch 16 -> 32 steps per epoch; a checkpoint every 4.
    def command(index, *extra):
        return cli("train", "maf", "--data", "moons", "--num-examples", 512, "--batch-size", 16,
                   "--param", "num_layers=2", "--param", "hidden_units=[16]", "--checkpoint-every", 4,
                   "--strategy", "multiworker", "--out", tmp_path / f"w{index}", "--quiet", *extra)

    metadata = tmp_path / "w0" / "checkpoints" / "training_metadata.json"
    with Cluster([command(0, "--epochs", 50), command(1, "--epochs", 50)], str(tmp_path / "first"),
                 env=ENV) as cluster:
        deadline = time.monotonic() + 180
        state = {}
        while time.monotonic() < deadline and not state.get("batch", 0) >= 8:  # mid-epoch, after 2 saves
            assert cluster.processes[0].poll() is None, _failure(cluster)
            try:
                state = json.loads(metadata.read_text())
            except (OSError, json.JSONDecodeError):
                pass
            time.sleep(0.2)
        assert state.get("batch", 0) >= 8, _failure(cluster)
        cluster.kill(1)
        killed = time.monotonic()
        codes = cluster.wait(timeout=90)
        stopped_after = time.monotonic() - killed
        log = cluster.log(0)
    assert codes[0] == 2, log[-3000:]
    assert stopped_after < 60
    errors = [line for line in log.splitlines() if line.startswith("tfdgm: error:")]
    assert len(errors) == 1 and "/job:worker/replica:0/task:1" in errors[0] and "--resume" in errors[0], errors
    assert "Traceback" not in log
    assert not (tmp_path / "w0" / "metrics.json").exists()

    state = json.loads(metadata.read_text())
    checkpoint_steps = _optimizer_iterations(tmp_path / "w0" / "checkpoints" / "latest.weights.h5")
    steps_per_epoch = json.loads((tmp_path / "w0" / "config.json").read_text())["steps_per_epoch"]
    assert steps_per_epoch == 32
    assert checkpoint_steps > steps_per_epoch * state["epoch"]  # part of an epoch was done
    total_epochs = state["epoch"] + 1  # finish the interrupted epoch only
    with Cluster([command(0, "--epochs", total_epochs, "--resume"), command(1, "--epochs", total_epochs, "--resume")],
                 str(tmp_path / "resumed"), env=ENV) as cluster:
        assert cluster.wait(timeout=180) == [0, 0], _failure(cluster)
    metrics = json.loads((tmp_path / "w0" / "metrics.json").read_text())
    assert metrics["epochs_trained"] == 1
    # The step counter went on from the checkpoint's: the interrupted epoch
    # was re-run whole from the checkpointed weights and optimizer state.
    assert _optimizer_iterations(tmp_path / "w0" / "model.weights.h5") == checkpoint_steps + steps_per_epoch
    assert sorted(os.listdir(tmp_path / "w1")) == ["config.json"]


def test_malformed_tf_config_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker"}}')
    with pytest.raises(ValueError, match="expected TF_CONFIG as JSON like"):
        distribute._cluster_from_environment()
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 3}}')
    with pytest.raises(ValueError, match="not in its cluster"):
        distribute._cluster_from_environment()


def test_lost_worker_message_names_the_worker_and_the_way_back():
    error = tf.errors.UnavailableError(
        None, None, "Graph execution error:\n\nThe following tasks are unhealthy (stopped sending heartbeats):\n"
        "/job:worker/replica:0/task:1\nThe tasks have crashed.")
    message = distribute._lost_message(error)
    assert "/job:worker/replica:0/task:1 stopped sending heartbeats" in message
    assert "--resume" in message


def test_outside_a_cluster_every_process_is_the_chief_and_logs_are_unchanged(tmp_path):
    assert distribute.is_chief() and not distribute.is_multi_worker()
    assert distribute.worker_output_directory(str(tmp_path)) == str(tmp_path)
    step = distribute.reducible_logs(lambda data: {"loss": tf.constant(1.0)})
    assert step(None)["loss"].shape == ()
