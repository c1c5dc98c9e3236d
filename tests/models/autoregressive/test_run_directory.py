"""Class-conditional sampling through the `tfdgm` command: `sample DIR --label K`."""

import numpy as np
import pytest

from tfdgm import cli, runs
from tfdgm.models import NADE, PixelCNN, WaveNet


def test_sample_label_reaches_a_conditional_model_and_is_validated(tmp_path, capsys):
    run_dir = tmp_path / "nade"
    assert cli.main(["train", "nade", "--data", "digits", "--epochs", "1", "--num-examples", "256",
                     "--batch-size", "32", "--out", str(run_dir), "--quiet",
                     "--param", "num_classes=10", "--param", "hidden_units=16"]) == 0
    for label in (3, 4):
        out = tmp_path / f"label{label}.png"
        assert cli.main(["sample", str(run_dir), "-n", "8", "--seed", "1", "--label", str(label),
                         "--out", str(out)]) == 0
    with_3, with_4 = np.load(tmp_path / "label3.npy"), np.load(tmp_path / "label4.npy")
    # The CLI's samples are the model's own for that label and seed (in data space).
    net, _, _ = runs.load_run(str(run_dir))

    def data_space(samples):
        return net.data_transform.bijector().inverse(samples).numpy()

    drawn_3, drawn_4 = net.sample(8, seed=1, context=3), net.sample(8, seed=1, context=4)
    np.testing.assert_array_equal(with_3, data_space(drawn_3))
    np.testing.assert_array_equal(with_4, data_space(drawn_4))
    # and the label is information the trained model uses (the draws may still
    # coincide after 8 steps: the same uniforms against nearby probabilities)
    assert np.all(net.log_prob(drawn_3, 3).numpy() != net.log_prob(drawn_3, 4).numpy())
    # Without --label (and in the training grids): sample i is of class i mod 10.
    assert cli.main(["sample", str(run_dir), "-n", "12", "--seed", "1", "--out", str(tmp_path / "rows.png")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "rows.npy"),
                                  data_space(net.sample(12, seed=1, context=np.arange(12) % 10)))
    assert (run_dir / "samples_epoch_001.png").exists()
    capsys.readouterr()
    assert cli.main(["sample", str(run_dir), "-n", "2", "--label", "10"]) == 2
    assert "[0, 10)" in capsys.readouterr().err


@pytest.mark.parametrize("make", [
    lambda: NADE(event_shape=(6,), hidden_units=8, num_classes=3),
    lambda: PixelCNN(event_shape=(3, 3, 1), num_filters=4, num_layers=1, first_kernel_size=3, num_classes=3),
    lambda: WaveNet(event_shape=(8,), num_levels=4, residual_channels=4, skip_channels=4, num_blocks=1,
                    num_layers=2, num_classes=3),
])
def test_one_label_applies_to_the_whole_batch(make):
    model = make()
    model.build()
    samples = model.sample(5, seed=0, context=2)
    np.testing.assert_allclose(model.log_prob(samples, 2).numpy(), model.log_prob(samples, [2] * 5).numpy(),
                               rtol=1e-6, atol=1e-5)
