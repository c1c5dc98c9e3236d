"""Every notebook in tutorials/ runs top to bottom at toy size, so none can rot."""

import glob
import os

import nbformat
import pytest
from nbclient import NotebookClient

from tests.helpers import REPO

NOTEBOOKS = sorted(glob.glob(os.path.join(REPO, "tutorials", "*.ipynb")))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[os.path.basename(p) for p in NOTEBOOKS])
def test_tutorial_runs_at_toy_size(path, monkeypatch):
    monkeypatch.setenv("TFDGM_TUTORIAL_TOY", "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    # The kernel inherits conftest's TFDGM_JIT_COMPILE=0: at toy size XLA's
    # compile time exceeds the training time (gans.ipynb: 182 s with XLA, 94 s without).
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": REPO}}).execute()
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors


def test_there_is_a_quickstart():
    assert any(path.endswith("quickstart.ipynb") for path in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[os.path.basename(p) for p in NOTEBOOKS])
def test_tutorial_opens_in_colab_and_is_committed_with_its_pictures(path):
    notebook = nbformat.read(path, as_version=4)
    badge = f"https://colab.research.google.com/github/tfdgm/tfdgm/blob/main/tutorials/{os.path.basename(path)}"
    assert notebook.cells[0].cell_type == "markdown" and badge in notebook.cells[0].source
    install = [cell.source for cell in notebook.cells if "google.colab" in cell.source]
    assert install and "pip install" in install[0]
    pictures = [output for cell in notebook.cells if cell.cell_type == "code"
                for output in cell.get("outputs", []) if "image/png" in output.get("data", {})]
    assert pictures, "run `make notebooks` to save the tutorial with its outputs"
