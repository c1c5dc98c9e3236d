"""Shared test helpers: enumeration of small supports, CLI subprocesses, and
the TensorFlow-only process that reloads exported SavedModels."""

import atexit
import contextlib
import itertools
import json
import os
import select
import subprocess
import sys
import tempfile

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def binary_states(num_dims):
    """All 2**num_dims binary vectors, float32 [2**num_dims, num_dims]."""
    return np.array(list(itertools.product([0.0, 1.0], repeat=num_dims)), np.float32)


def grid_2d(low, high, num):
    """A num x num grid over [low, high]^2 and its cell area. -> ([num*num, 2], area)."""
    axis = np.linspace(low, high, num, dtype=np.float32)
    xx, yy = np.meshgrid(axis, axis)
    return np.stack([xx.ravel(), yy.ravel()], axis=1), float((axis[1] - axis[0]) ** 2)


def subprocess_env(**extra):
    env = dict(os.environ)
    env.update(TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO, **extra)
    return env


def run_python(code, timeout=300, **env):
    """Runs `code` in a fresh Python process. -> CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=subprocess_env(**env),
    )


def run_cli(*args, timeout=600, cwd=None):
    """Runs `python -m tfdgm.cli ARGS` (the `tfdgm` command). -> CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", "tfdgm.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=subprocess_env(),
        cwd=cwd or REPO,
    )


# The loader: imports tensorflow and numpy only (never tfdgm, TFP or tf_keras),
# then runs each check script sent on stdin in a fresh namespace with its
# output captured, and answers with one JSON line on its protocol stream.
_LOADER = r"""
import contextlib, io, json, sys, traceback
import numpy as np
import tensorflow as tf
protocol, sys.stdout = sys.stdout, sys.stderr
for line in sys.stdin:
    out, err, code = io.StringIO(), io.StringIO(), 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            exec(compile(json.loads(line), "<check>", "exec"), {"__name__": "__main__"})
        except BaseException:
            traceback.print_exc()
            code = 1
    protocol.write(json.dumps([code, out.getvalue(), err.getvalue()]) + "\n")
    protocol.flush()
"""


class _TensorflowOnlyProcess:
    """One long-lived loader per test process, started on first use.

    Reloading an export in a process that never imported tfdgm is what shows
    that TF Serving needs none of our code; sharing that process between the
    checks of a test worker saves a TensorFlow import (8-10 s on the CI's
    2 cores) per check. Each check still gets a fresh namespace, and its
    script reports `sys.modules` itself."""

    def __init__(self):
        self.process = None
        self.log = None

    def _start(self):
        self.log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            [sys.executable, "-c", _LOADER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.log, text=True, env=subprocess_env(),
        )
        atexit.register(self.process.kill)

    def run(self, code, timeout):
        if self.process is None or self.process.poll() is not None:
            self._start()
        self.process.stdin.write(json.dumps(code) + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        answer = self.process.stdout.readline() if ready else ""
        if not answer:  # timed out or died: report its log, start afresh next time
            self.process.kill()
            self.process.wait()
            self.log.seek(0)
            return subprocess.CompletedProcess("loader", -1, "", self.log.read()[-3000:] + "\nloader: no answer")
        code, out, err = json.loads(answer)
        return subprocess.CompletedProcess("loader", code, out, err)


_LOADER_PROCESS = _TensorflowOnlyProcess()


def run_in_tensorflow_process(code, timeout=300):
    """Runs the check script `code` in the TensorFlow-only loader process.
    -> CompletedProcess (returncode 1 and the traceback in stderr if it raised)."""
    return _LOADER_PROCESS.run(code, timeout)


_SAVED_MODEL_CLI = r"""
import os, sys
from absl import flags
from tensorflow.python.tools.saved_model_cli import main  # what the `saved_model_cli` console script runs
# absl keeps the last command's flag values and required-flag validators in
# this long-lived process: back to a fresh import's state (`_flags()` is
# private; absl has no public way to drop validators)
flags.FLAGS.unparse_flags()
for flag in flags.FLAGS._flags().values():
    flag.validators = []
sys.argv, before = {argv!r}, os.getcwd()
os.chdir({cwd!r})
try:
    main()
except SystemExit as done:  # absl's app.run ends in sys.exit
    if done.code not in (0, None):
        raise
finally:
    os.chdir(before)
"""


def run_saved_model_cli(argv, cwd=None, timeout=300):
    """`saved_model_cli` with the command line `argv` (argv[0] the program name),
    run from `cwd` (default: this process's): its console script's entry point
    in the TensorFlow-only loader, which saves a fresh process's TensorFlow
    import per command. -> CompletedProcess."""
    script = _SAVED_MODEL_CLI.format(argv=list(argv), cwd=os.path.abspath(cwd or os.getcwd()))
    return run_in_tensorflow_process(script, timeout)


@contextlib.contextmanager
def recording_xla_traces(model):
    """Within the block, each trace of `model.train_step` (by `fit`) records
    whether it happened inside an XLA cluster. Yields the list of records."""
    import tensorflow as tf
    # Private, but TensorFlow has no public query of "am I being compiled by XLA".
    from tensorflow.python.ops.control_flow_util import GraphOrParentsInXlaContext

    records, original = [], model.train_step

    def train_step(data):
        records.append(GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()))
        return original(data)

    model.train_step = train_step
    try:
        yield records
    finally:
        del model.train_step
