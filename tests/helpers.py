"""Shared test helpers: enumeration of small supports, CLI subprocesses."""

import itertools
import os
import subprocess
import sys

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
