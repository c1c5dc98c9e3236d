"""Export a model, reload it in a process that imports only TensorFlow, call its signatures.

What TF Serving needs is a SavedModel that runs without tfdgm, TFP or Keras:
`exported_outputs` writes the export with `tfdgm.export.save`, sends one
check script to the TensorFlow-only loader (`tests.helpers.run_in_tensorflow_process`)
that calls the requested signatures on the given inputs, asserts that the
loader never imported tfdgm, TFP or tf_keras, and returns every output as a
NumPy array for the test to compare with the in-memory model.
"""

import json
import os

import numpy as np

from tests.helpers import run_in_tensorflow_process

__all__ = ["exported_outputs", "reloaded_outputs", "Output"]

#: Modules a bare-TensorFlow reload must not have imported.
FORBIDDEN = ("tfdgm", "tensorflow_probability", "tf_keras")

_CALL_SCRIPT = r"""
import json, sys
import numpy as np
import tensorflow as tf
loaded = tf.saved_model.load({path!r})
arrays = np.load({inputs!r})
outputs = {{}}
for label, (signature, arguments) in json.loads({calls!r}).items():
    function = loaded.signatures[signature]
    _, specs = function.structured_input_signature
    values = {{name: outputs[key[1]] if isinstance(key, list) else arrays[key] for name, key in arguments.items()}}
    result = function(**{{name: tf.constant(value, specs[name].dtype) for name, value in values.items()}})
    outputs.update({{f"{{label}}/{{key}}": value.numpy() for key, value in result.items()}})
np.savez({outputs!r}, **outputs)
print(json.dumps({{"signatures": sorted(loaded.signatures),
                  "imported": sorted(m for m in {forbidden!r} if m in sys.modules)}}))
"""


class Output:
    """An input taken from an earlier call's output: `Output("encode", "z")`."""

    def __init__(self, label, key):
        self.name = f"{label}/{key}"


def reloaded_outputs(path, calls, workdir, timeout=300):
    """Loads the SavedModel at `path` in the TensorFlow-only process and calls it.

    Arguments:
      path: a SavedModel directory.
      calls: `{label: (signature_name, {input_name: value})}`, run in order;
        each value (array, number, or an `Output` of an earlier call) is cast
        to the signature's input dtype.
      workdir: a directory for the exchanged `.npz` files (pytest's `tmp_path`).
    Returns:
      (outputs, signatures): `{label: {output_key: np.ndarray}}` and the
      sorted names of the SavedModel's signatures.
    """
    workdir = str(workdir)
    arrays, plan = {}, {}
    for label, (signature, arguments) in calls.items():
        plan[label] = [signature, {}]
        for name, value in arguments.items():
            if isinstance(value, Output):
                plan[label][1][name] = ["output", value.name]
                continue
            key = f"{label}.{name}"
            arrays[key] = np.asarray(value)
            plan[label][1][name] = key
    inputs, outputs = os.path.join(workdir, "export_inputs.npz"), os.path.join(workdir, "export_outputs.npz")
    np.savez(inputs, **arrays)
    done = run_in_tensorflow_process(
        _CALL_SCRIPT.format(path=str(path), inputs=inputs, outputs=outputs, calls=json.dumps(plan),
                            forbidden=FORBIDDEN),
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["imported"] == [], f"the bare-TensorFlow reload imported {report['imported']}"
    results = {label: {} for label in calls}
    with np.load(outputs) as saved:
        for name in saved.files:
            label, key = name.split("/", 1)
            results[label][key] = saved[name]
    return results, report["signatures"]


def exported_outputs(model, calls, workdir, timeout=300, **save_options):
    """`tfdgm.export.save(model, workdir/saved, **save_options)`, then
    `reloaded_outputs` on the export. -> `{label: {output_key: np.ndarray}}`."""
    from tfdgm import export

    path = export.save(model, os.path.join(str(workdir), "saved"), **save_options)
    return reloaded_outputs(path, calls, workdir, timeout=timeout)[0]
