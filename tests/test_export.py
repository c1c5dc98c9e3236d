"""SavedModel export: bare-TensorFlow reload in a fresh process, signatures listed."""

import numpy as np
import pytest

from tests.checks.export import exported_outputs
from tests.helpers import run_in_tensorflow_process, run_saved_model_cli
from tfdgm import export
from tfdgm.models import IndependentBernoulli, IndependentGaussian


@pytest.mark.parametrize("model_class", [IndependentBernoulli, IndependentGaussian])
def test_export_reloads_in_fresh_process_importing_only_tensorflow(tmp_path, model_class):
    model = model_class(event_shape=(3, 2, 1))
    model.build((None, 3, 2, 1))
    rng = np.random.default_rng(0)
    for weight in model.trainable_variables:
        weight.assign(rng.normal(size=weight.shape).astype(np.float32))
    x = (rng.uniform(size=(4, 3, 2, 1)) < 0.5).astype(np.float32)
    calls = {"log_prob": ("log_prob", {"x": x}), "sample": ("sample", {"n": 5, "seed": 11}),
             "again": ("sample", {"n": 5, "seed": 11})}

    result = exported_outputs(model, calls, tmp_path)  # asserts that tfdgm, TFP and tf_keras stayed out
    np.testing.assert_allclose(result["log_prob"]["log_prob"], model.log_prob(x).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(result["sample"]["samples"], model.sample(5, seed=11).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(result["sample"]["samples"], result["again"]["samples"])


def test_saved_model_cli_lists_the_signatures(tmp_path):
    model = IndependentBernoulli(event_shape=(4,))
    path = export.save(model, str(tmp_path / "saved"))
    done = run_saved_model_cli(["saved_model_cli", "show", "--dir", path, "--all"])
    assert done.returncode == 0, done.stderr[-2000:]
    for name in ("signature_def['log_prob']", "signature_def['sample']"):
        assert name in done.stdout
    assert export.signature_names(model) == ["log_prob", "sample"]


def test_export_rejects_non_tfdgm_models(tmp_path):
    import keras

    with pytest.raises(ValueError, match="expected a tfdgm model"):
        export.save(keras.Sequential([keras.layers.Dense(1)]), str(tmp_path / "x"))


def test_the_tensorflow_only_loader_reports_failures_and_never_imports_tfdgm():
    failed = run_in_tensorflow_process("raise ValueError('no such signature')")
    assert failed.returncode == 1 and "ValueError: no such signature" in failed.stderr
    done = run_in_tensorflow_process(
        "import sys\nprint(sorted(m for m in ('tfdgm', 'tensorflow_probability', 'tensorflow') if m in sys.modules))"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['tensorflow']"  # the same process after a failure, still TF only
