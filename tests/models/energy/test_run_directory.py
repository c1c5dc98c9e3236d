"""Energy runs through the `tfdgm` command (in process): the learned-filters
picture, the Replicated Softmax's topics, and `evaluate --ais-runs/--ais-betas`."""

import json

import numpy as np
import tensorflow as tf

from tfdgm import cli, runs
from tfdgm.data import registry
from tfdgm.models import ReplicatedSoftmaxRBM


def _train(run_dir, model, data, *extra):
    args = ["train", model, "--data", data, "--epochs", "1", "--num-examples", "256", "--batch-size", "32",
            "--out", str(run_dir), "--quiet", *extra]
    assert cli.main(args) == 0


def test_rbm_run_shows_its_filters_and_evaluate_takes_the_ais_options(tmp_path, capsys):
    run_dir = tmp_path / "rbm"
    _train(run_dir, "rbm", "digits", "--param", "num_hidden=16")
    net, _, _ = runs.load_run(str(run_dir))
    # filters.png: one 8x8 tile per hidden unit (4x4 grid, 1-pixel borders), each
    # the unit's weights scaled by their largest magnitude (grey = 0).
    picture = tf.io.decode_png(tf.io.read_file(str(run_dir / "filters.png"))).numpy()
    assert picture.shape == (4 * 9 + 1, 4 * 9 + 1, 1)
    weights = net.weights_vh.numpy()
    for unit in (0, 5, 15):
        row, col = divmod(unit, 4)
        tile = picture[1 + 9 * row : 9 + 9 * row, 1 + 9 * col : 9 + 9 * col, 0].astype(np.float32) / 255.0
        expected = 0.5 + 0.5 * weights[:, unit] / np.abs(weights[:, unit]).max()
        np.testing.assert_allclose(tile.reshape(-1), expected, atol=1.0 / 255 + 1e-6)  # uint8 rounding

    capsys.readouterr()
    assert cli.main(["evaluate", str(run_dir), "--ais-runs", "64", "--ais-betas", "1000"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["ais_runs"] == 64 and metrics["ais_betas"] == 1000
    # 16 hidden units: log Z is also exact. 64 runs x 1000 betas on this small,
    # briefly trained RBM: the error is a few stderr at most (stderr ~0.01 here),
    # 0.1 nat is the tolerance.
    assert abs(metrics["log_z"] - metrics["log_z_exact"]) < 0.1
    stored = json.loads((run_dir / "metrics.json").read_text())
    assert stored["ais_betas"] == 1000  # evaluate updates the run's metrics


def test_replicated_softmax_run_lists_each_hidden_units_top_words(tmp_path):
    # In process rather than `tfdgm train rsm`: the run's AIS evaluation over
    # every document length of fortunes takes minutes; the topics file is
    # written by the same `runs` hook right after training.
    info = registry.dataset_info("fortunes")
    net = ReplicatedSoftmaxRBM(event_shape=info.event_shape, num_hidden=5)
    net.compile()
    counts = np.concatenate([np.asarray(x) for x in registry.load("fortunes", num_examples=256, batch_size=256)])
    net.fit(counts, batch_size=32, epochs=1, verbose=0)
    runs._write_family_figures(net, str(tmp_path), info)
    vocabulary = registry.vocabulary("fortunes")
    assert len(vocabulary) == net.weights_vh.shape[0]
    lines = (tmp_path / "topics.txt").read_text().splitlines()
    assert len(lines) == 5
    weights = net.weights_vh.numpy()
    for unit, line in enumerate(lines):
        label, words = line.split(": ")
        assert label == f"hidden {unit}"
        words = words.split()
        assert len(words) == 10
        # the listed words are the unit's 10 largest weights, in decreasing order
        listed = weights[[vocabulary.index(w) for w in words], unit]
        assert np.all(np.diff(listed) <= 0)
        assert listed[-1] >= np.sort(weights[:, unit])[-10]
    assert registry.vocabulary("digits") is None
    assert not (tmp_path / "filters.png").exists()  # word counts have no picture
