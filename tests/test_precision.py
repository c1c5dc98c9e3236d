"""Mixed precision (`tfdgm.precision`, `--precision`): one model per family
trains and stays finite; the networks compute in the low dtype, the
mathematics in float32; float16 is loss scaled."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfdgm import cli
from tfdgm import data as tfdgm_data
from tfdgm import models, precision

#: family -> (model, dataset, hyper-parameters): tiny.
FAMILIES = {
    "density": ("maf", "moons", {"num_layers": 2, "hidden_units": [16]}),
    "latent": ("vae", "digits", {"hidden_units": [32], "latent_dim": 2}),
    "energy": ("rbm", "digits", {"num_hidden": 16}),
    "adversarial": ("gan", "moons", {"hidden_units": [16]}),
}


def _model_and_data(name, dataset, params):
    info = tfdgm_data.dataset_info(dataset)
    model_class = models.get(name)
    spec = model_class.default_preprocess(info, params=params)
    transform = tfdgm_data.parse_preprocessing(spec, info)
    model = model_class(event_shape=tuple(info.event_shape), data_transform=transform,
                        **{**model_class.default_hyperparameters(info), **params})
    model.build((None, *info.event_shape))
    data = tfdgm_data.load(dataset, split="train", preprocess=spec, batch_size=32, num_examples=128, seed=0,
                           shuffle=True)
    return model, data


@pytest.mark.parametrize("family, policy", [
    ("density", "mixed_float16"), ("latent", "mixed_float16"), ("latent", "mixed_bfloat16"),
    ("energy", "mixed_bfloat16"), ("adversarial", "mixed_float16"), ("adversarial", "mixed_bfloat16"),
])
def test_mixed_precision_training_of_each_family_stays_finite(family, policy):
    model, data = _model_and_data(*FAMILIES[family])
    precision.apply_precision(model, policy)
    model.compile(optimizer=precision.loss_scaled(model.make_optimizer(), policy, model))
    history = model.fit(data, epochs=2, verbose=0).history
    for name, values in history.items():
        assert np.all(np.isfinite(values)), (family, policy, name, values)
    assert all(np.all(np.isfinite(w)) for w in model.trainable_weights)  # (log Z is NaN until estimated)
    if family != "energy":  # an energy model's weights are its own variables, used outside layers
        low = [layer for layer in model._flatten_layers(include_self=False) if layer.compute_dtype != "float32"]
        assert low, "no layer computes in the low dtype"
        assert model.compute_dtype == "float32"  # inputs are never rounded


def test_densities_stay_float32_and_close_to_full_precision():
    model, data = _model_and_data(*FAMILIES["density"])
    offsets = np.random.RandomState(0)  # off the flow's identity start, so the networks matter
    for variable in model.trainable_variables:
        variable.assign(variable.numpy() + 0.3 * offsets.normal(size=variable.shape).astype(np.float32))
    x = next(iter(data))
    full = model.log_prob(x).numpy()
    precision.apply_precision(model, "mixed_bfloat16")
    mixed = model.log_prob(x)
    assert mixed.dtype == tf.float32
    # bfloat16 keeps 8 bits of mantissa in the networks' products: nats agree to ~1e-1.
    np.testing.assert_allclose(mixed.numpy(), full, atol=0.2)
    assert np.max(np.abs(mixed.numpy() - full)) > 0  # the networks did run in bfloat16


def test_float16_is_loss_scaled_except_for_energy_models():
    gan, _ = _model_and_data(*FAMILIES["adversarial"])
    rbm, _ = _model_and_data(*FAMILIES["energy"])
    assert isinstance(precision.loss_scaled(keras.optimizers.Adam(), "mixed_float16", gan),
                      keras.optimizers.LossScaleOptimizer)
    assert not isinstance(precision.loss_scaled(keras.optimizers.SGD(), "mixed_float16", rbm),
                          keras.optimizers.LossScaleOptimizer)
    assert not isinstance(precision.loss_scaled(keras.optimizers.Adam(), "mixed_bfloat16", gan),
                          keras.optimizers.LossScaleOptimizer)
    with pytest.raises(ValueError, match="unknown precision 'half'"):
        precision.check_precision("half")


def test_scaled_gradients_are_the_loss_scale_times_the_gradients():
    variable = tf.Variable(2.0)
    optimizer = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.1))
    optimizer.build([variable])
    with tf.GradientTape(persistent=True) as tape:
        loss = variable * variable
    (scaled,) = precision.scaled_gradients(tape, loss, [variable], optimizer)
    (plain,) = precision.scaled_gradients(tape, loss, [variable], keras.optimizers.SGD(0.1))
    assert float(plain) == 4.0
    assert float(scaled) == pytest.approx(4.0 * float(optimizer.dynamic_scale))
    optimizer.apply_gradients([(scaled, variable)])  # unscaled again: one SGD step on the true gradient
    assert float(variable) == pytest.approx(2.0 - 0.1 * 4.0)


def test_cli_trains_with_mixed_precision_and_records_it(tmp_path, capsys):
    # in this process: the policy goes on the run's model only (`precision.apply_precision`), never global
    assert cli.main(["train", "maf", "--data", "moons", "--epochs", "1", "--num-examples", "128", "--batch-size", "32",
                     "--param", "num_layers=2", "--param", "hidden_units=[16]", "--precision", "mixed_float16",
                     "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert keras.mixed_precision.global_policy().name == "float32"
    assert json.loads((tmp_path / "run" / "config.json").read_text())["precision"] == "mixed_float16"
    assert np.isfinite(json.loads((tmp_path / "run" / "metrics.json").read_text())["bits_per_dim"])
    with pytest.raises(SystemExit) as stop:  # argparse refuses it before anything runs: in this process
        cli.main(["train", "maf", "--data", "moons", "--precision", "half", "--out", str(tmp_path / "bad")])
    assert stop.value.code == 2 and "invalid choice: 'half'" in capsys.readouterr().err
