"""The decayed step of models with persistent chains (Tieleman 2008): the
schedule `make_optimizer` builds from the training's length, and the CLI's use of it."""

import numpy as np
import pytest

from tfdgm import cli, runs
from tfdgm.models.energy import DBM, BernoulliRBM


def _rate_at(optimizer, step):
    optimizer.iterations.assign(step)
    return float(optimizer.learning_rate)


def test_persistent_rbm_decays_to_zero_and_cd_keeps_a_constant_step():
    pcd = BernoulliRBM(event_shape=(6,), num_hidden=4, persistent=True).make_optimizer(0.05, epochs=4, steps_per_epoch=10)
    pcd.build([])
    # Cosine from the full step to zero over all 40 steps: half at the middle.
    rates = [_rate_at(pcd, step) for step in (0, 20, 40, 55)]
    np.testing.assert_allclose(rates, [0.05, 0.025, 0.0, 0.0], atol=1e-6)
    for model in (BernoulliRBM(event_shape=(6,), num_hidden=4),  # CD: no persistent chains
                  BernoulliRBM(event_shape=(6,), num_hidden=4, persistent=True, decay_step=False)):
        optimizer = model.make_optimizer(0.05, epochs=4, steps_per_epoch=10)
        optimizer.build([])
        assert [_rate_at(optimizer, step) for step in (0, 40)] == pytest.approx([0.05, 0.05])
    # Without the training's length there is nothing to decay over.
    optimizer = BernoulliRBM(event_shape=(6,), num_hidden=4, persistent=True).make_optimizer(0.05)
    optimizer.build([])
    assert _rate_at(optimizer, 40) == pytest.approx(0.05)


@pytest.mark.parametrize("options, hold_epochs", [({"pretrain_epochs_per_layer": 1}, 2),
                                                  ({"pretrain_fraction": 0.5}, 3)])
def test_dbm_holds_its_step_while_pretraining_then_decays_over_the_joint_stage(options, hold_epochs):
    model = DBM(event_shape=(6,), num_hidden=[4, 4], **options)
    assert model.constant_step_epochs(6) == hold_epochs
    optimizer = model.make_optimizer(0.05, epochs=6, steps_per_epoch=10)
    optimizer.build([])
    hold, joint = 10 * hold_epochs, 10 * (6 - hold_epochs)
    rates = [_rate_at(optimizer, step) for step in (0, hold - 1, hold + joint // 2, hold + joint)]
    np.testing.assert_allclose(rates, [0.05, 0.05, 0.025, 0.0], atol=1e-6)
    assert DBM(event_shape=(6,), num_hidden=[4, 4], decay_step=False).constant_step_epochs(6) is None


def test_cli_trains_persistent_chains_with_the_step_decayed_to_zero(tmp_path):
    run_dir = tmp_path / "pcd"
    assert cli.main(["train", "rbm", "--data", "digits", "--epochs", "2", "--num-examples", "256",
                     "--batch-size", "32", "--out", str(run_dir), "--quiet",
                     "--param", "num_hidden=16", "--param", "persistent=true"]) == 0
    net, config, _ = runs.load_run(str(run_dir))
    assert config["steps_per_epoch"] == 8  # 256 examples in batches of 32
    assert int(net.optimizer.iterations) == 16
    assert float(net.optimizer.learning_rate) == pytest.approx(0.0, abs=1e-7)  # the end of the schedule
    net.optimizer.iterations.assign(8)
    assert float(net.optimizer.learning_rate) == pytest.approx(0.5 * net.learning_rate, rel=1e-4)
