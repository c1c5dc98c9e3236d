"""SavedModel export: bare-TensorFlow reload in a fresh process, signatures listed."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import run_in_tensorflow_process
from tfdgm import export
from tfdgm.models import IndependentBernoulli, IndependentGaussian

LOAD_SCRIPT = r"""
import json, sys
import numpy as np
import tensorflow as tf
loaded = tf.saved_model.load({path!r})
x = tf.constant(np.load({x_path!r}))
log_prob = loaded.signatures["log_prob"](x=x)["log_prob"].numpy()
first = loaded.signatures["sample"](n=tf.constant(5), seed=tf.constant(11))["samples"].numpy()
again = loaded.signatures["sample"](n=tf.constant(5), seed=tf.constant(11))["samples"].numpy()
print(json.dumps({{
    "log_prob": log_prob.tolist(), "sample": first.tolist(), "deterministic": bool((first == again).all()),
    "imported": sorted(m for m in ("tfdgm", "tensorflow_probability", "tf_keras") if m in sys.modules),
}}))
"""


@pytest.mark.parametrize("model_class", [IndependentBernoulli, IndependentGaussian])
def test_export_reloads_in_fresh_process_importing_only_tensorflow(tmp_path, model_class):
    model = model_class(event_shape=(3, 2, 1))
    model.build((None, 3, 2, 1))
    rng = np.random.default_rng(0)
    for weight in model.trainable_variables:
        weight.assign(rng.normal(size=weight.shape).astype(np.float32))
    x = (rng.uniform(size=(4, 3, 2, 1)) < 0.5).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    path = export.save(model, str(tmp_path / "saved"))

    done = run_in_tensorflow_process(LOAD_SCRIPT.format(path=path, x_path=str(tmp_path / "x.npy")))
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["imported"] == []
    np.testing.assert_allclose(result["log_prob"], model.log_prob(x).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(result["sample"], model.sample(5, seed=11).numpy(), rtol=1e-5, atol=1e-5)
    assert result["deterministic"]


def test_saved_model_cli_lists_the_signatures(tmp_path):
    model = IndependentBernoulli(event_shape=(4,))
    path = export.save(model, str(tmp_path / "saved"))
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    done = subprocess.run([cli, "show", "--dir", path, "--all"], capture_output=True, text=True, timeout=300)
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
