"""pytest configuration: quiet TensorFlow, fixed seeds per test, XLA where it is under test."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "xla: keeps compile()'s XLA default on (tests of the XLA train step, and training "
        "thresholds measured with XLA's random streams)"
    )


def pytest_collection_modifyitems(items):
    """The notebooks (30-140 s each) first: run last, the longest would leave
    the other xdist worker idle at the end."""
    items.sort(key=lambda item: "test_tutorials.py" not in item.nodeid)


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)


@pytest.fixture(autouse=True, scope="session")
def _no_xla_by_default():
    """Tests train without XLA unless marked `xla`: on CPU, compiling a small
    train step takes longer than the few steps a test runs (CycleGAN's 2-step
    fit: 54 s with XLA). Every model keeps an `xla` test of its train step.
    Session-wide, so module fixtures and subprocesses (the CLI) see it too."""
    previous = os.environ.get("TFDGM_JIT_COMPILE")
    os.environ["TFDGM_JIT_COMPILE"] = "0"
    yield
    if previous is None:
        os.environ.pop("TFDGM_JIT_COMPILE")
    else:
        os.environ["TFDGM_JIT_COMPILE"] = previous


@pytest.fixture(autouse=True)
def _xla_where_marked(request, monkeypatch):
    if request.node.get_closest_marker("xla") is not None:
        monkeypatch.delenv("TFDGM_JIT_COMPILE")
