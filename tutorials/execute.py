"""Executes tutorials and saves them with their outputs (`make notebooks`).

    python tutorials/execute.py [NOTEBOOK ...] [--toy] [--timeout SECONDS]

Each notebook runs top to bottom in a fresh kernel from the repository root,
at tutorial size (or at toy size with --toy, as the tests run them), and is
written back in place with its outputs and pictures, so that a reader on
GitHub or in Colab sees them before running anything. A notebook that fails
is left unchanged and the command exits with 1 after trying the others.
"""

import argparse
import glob
import os
import re
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# What TensorFlow's runtime writes to stderr whatever TF_CPP_MIN_LOG_LEVEL says
# (absl and CUDA notices, SavedModel asset paths): host noise, not tutorial output.
_RUNTIME_NOISE = re.compile(
    r"^(WARNING: All log messages before absl|[IWE]\d{4} |To enable the following instructions|"
    r"INFO:tensorflow:Assets written to)"
)


def _without_runtime_noise(outputs):
    kept = []
    for output in outputs:
        if output.get("output_type") == "stream":
            lines = [line for line in output["text"].splitlines(True) if not _RUNTIME_NOISE.match(line)]
            if not lines:
                continue
            output["text"] = "".join(lines)
        kept.append(output)
    return kept


def execute(path, toy=False, timeout=3600):
    """Runs the notebook at `path` and writes it back with its outputs. -> seconds taken."""
    os.environ["TFDGM_TUTORIAL_TOY"] = "1" if toy else "0"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    notebook = nbformat.read(path, as_version=4)
    start = time.time()
    NotebookClient(notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": REPO}}).execute()
    for cell in notebook.cells:  # no host-specific metadata or runtime notices in the committed file
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = _without_runtime_noise(cell.outputs)
    nbformat.write(notebook, path)
    return time.time() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="default: every tutorials/*.ipynb")
    parser.add_argument("--toy", action="store_true", help="toy size (TFDGM_TUTORIAL_TOY=1), as the tests")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(glob.glob(os.path.join(REPO, "tutorials", "*.ipynb")))
    failed = []
    for path in paths:
        print(f"notebooks: executing {path} ...", flush=True)
        try:
            seconds = execute(path, toy=args.toy, timeout=args.timeout)
        except CellExecutionError as error:
            failed.append(path)
            print(f"notebooks: {path} failed, left unchanged:\n{str(error)[-2000:]}", file=sys.stderr)
            continue
        print(f"notebooks: {path} executed in {seconds:.0f} s", flush=True)
    if failed:
        print(f"notebooks: {len(failed)} failed: {' '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
