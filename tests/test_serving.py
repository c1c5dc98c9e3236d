"""Export for TF Serving: the BASE/<version>/ layout, serving_default per family,
no XLA in exported graphs, and the documented saved_model_cli commands and
REST bodies of docs/serving.md run against real exports."""

import json
import os
import re
import shlex
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.checks.export import reloaded_outputs
from tests.helpers import REPO, run_in_tensorflow_process, run_saved_model_cli
from tfdgm import cli, export
from tfdgm.models import CycleGAN, GatedPixelCNN, IndependentBernoulli, NADE, WaveNet

DOC = os.path.join(REPO, "docs", "serving.md")

#: serving_default's input names and output keys, by family.
SERVING_DEFAULT = {
    "density": ({"x"}, {"log_prob"}),
    "latent": ({"x", "num_samples", "seed"}, {"log_prob"}),
    "energy": ({"x"}, {"log_prob"}),
    "adversarial": ({"z"}, {"samples"}),
}


def documented_requests():
    """{family: (shell lines, REST bodies)} from docs/serving.md's `<!-- family: F -->` sections."""
    text = open(DOC, encoding="utf-8").read()
    sections = {}
    for match in re.finditer(r"<!-- family: (\w+) -->\n```\n(.*?)```\n```json\n(.*?)```", text, re.S):
        family, shell, bodies = match.groups()
        sections[family] = (shell.strip().splitlines(), [json.loads(line) for line in bodies.strip().splitlines()])
    return sections


REQUESTS = documented_requests()

CALL_BODIES = r"""
import json, numpy as np, tensorflow as tf
loaded = tf.saved_model.load({path!r})
default = loaded.signatures["serving_default"]
_, specs = default.structured_input_signature
out = {{"inputs": sorted(specs), "outputs": sorted(default.structured_outputs)}}
answers = []
for body in json.loads({bodies!r}):
    function = loaded.signatures[body.get("signature_name", "serving_default")]
    _, specs = function.structured_input_signature
    result = function(**{{k: tf.constant(v, specs[k].dtype) for k, v in body["inputs"].items()}})
    answers.append({{k: [list(v.shape), bool(np.all(np.isfinite(v.numpy())))] for k, v in result.items()}})
out["answers"] = answers
print(json.dumps(out))
"""


def test_every_family_is_documented():
    assert sorted(REQUESTS) == sorted(SERVING_DEFAULT)


@pytest.mark.parametrize("family", sorted(SERVING_DEFAULT))
def test_cli_export_serves_the_documented_requests(family, tmp_path, monkeypatch):
    lines, bodies = REQUESTS[family]
    monkeypatch.chdir(tmp_path)
    train, export_command = [shlex.split(part) for part in lines[0].split("&&")]
    assert train[:2] == ["tfdgm", "train"] and export_command[:2] == ["tfdgm", "export"]
    small = ["--epochs", "1", "--num-examples", "128", "--batch-size", "64", "--quiet"]
    assert cli.main(train[1:] + small) == 0
    assert cli.main(export_command[1:]) == 0
    base = export_command[export_command.index("--to") + 1]
    if family == "adversarial":  # once: a second `tfdgm export` is version 2 (4-8 s per export)
        assert cli.main(export_command[1:]) == 0
        assert sorted(os.listdir(base)) == ["1", "2"]
    else:
        assert sorted(os.listdir(base)) == ["1"]
    path = os.path.join(base, "1")
    assert os.path.exists(os.path.join(path, "saved_model.pb"))
    assert export.xla_functions(path) == []

    done = run_in_tensorflow_process(CALL_BODIES.format(path=os.path.abspath(path), bodies=json.dumps(bodies)))
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    inputs, outputs = SERVING_DEFAULT[family]
    assert set(result["inputs"]) == inputs and set(result["outputs"]) == outputs
    for body, answer in zip(bodies, result["answers"]):
        assert all(finite for _, finite in answer.values()), (body, answer)
        if "n" in body["inputs"]:
            assert answer["samples"][0][0] == body["inputs"]["n"]

    for line in lines[1:]:
        words = shlex.split(line)
        if words[0] == "python":
            run = subprocess.run([sys.executable, *words[1:]], capture_output=True, text=True, timeout=300)
            assert run.returncode == 0, (line, run.stderr[-3000:])
            continue
        assert words[0] == "saved_model_cli", line
        run = run_saved_model_cli(words)
        assert run.returncode == 0, (line, run.stderr[-3000:])
        signature = words[words.index("--signature_def") + 1]
        key = sorted(outputs)[0] if signature == "serving_default" else None
        assert "Result for output key" in run.stdout and (key is None or f"output key {key}" in run.stdout)


@pytest.mark.parametrize(
    "model",
    [
        NADE(event_shape=(3, 3, 1), hidden_units=4),
        GatedPixelCNN(event_shape=(3, 3, 1), num_filters=4, num_layers=1),
        WaveNet(event_shape=(8,), residual_channels=4, num_blocks=1, num_layers=2),
    ],
    ids=lambda model: type(model).__name__,
)
def test_samplers_compiled_with_xla_in_process_export_without_it(model, tmp_path):
    traced = tf.function(lambda: model.sample(3, seed=4))()  # what the export runs: no XLA
    path = export.save(model, str(tmp_path / "saved"))
    assert export.xla_functions(path) == []
    result, _ = reloaded_outputs(path, {"sample": ("sample", {"n": 3, "seed": 4})}, tmp_path)
    np.testing.assert_allclose(result["sample"]["samples"], traced.numpy(), atol=1e-6)


def test_the_xla_check_finds_a_jit_compiled_function(tmp_path):
    class Doubler(tf.Module):
        @tf.function(jit_compile=True, input_signature=[tf.TensorSpec([None], tf.float32)])
        def double(self, x):
            return {"y": 2 * x}

    module = Doubler()
    tf.saved_model.save(module, str(tmp_path / "jit"), signatures={"double": module.double})
    assert export.xla_functions(str(tmp_path / "jit"))


def test_serving_default_is_chosen_per_family(tmp_path):
    model = CycleGAN(event_shape=(8, 16, 1), base_filters=4)
    path = export.save(model, str(tmp_path / "cyclegan"))
    done = run_in_tensorflow_process(
        "import json, tensorflow as tf\n"
        f"default = tf.saved_model.load({path!r}).signatures['serving_default']\n"
        "print(json.dumps(sorted(default.structured_outputs)))\n"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == ["a2b", "b2a"]


def test_versions_count_up_and_can_be_chosen(tmp_path):
    model = IndependentBernoulli(event_shape=(2,))
    base = str(tmp_path / "base")
    assert export.next_version(base) == 1
    assert export.save(model, base) == os.path.join(base, "1")
    assert export.save(model, base, version=7) == os.path.join(base, "7")
    os.makedirs(os.path.join(base, "notes"))
    assert export.next_version(base) == 8
    for bad in (0, -1, "3", 2.0, True):
        with pytest.raises(ValueError, match="expected version as a positive int"):
            export.save(model, base, version=bad)
