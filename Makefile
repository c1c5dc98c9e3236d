# The two commands of the README: `make demo` and `make test`.
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.tfdgm-installed
FMNIST  := /usr/share/datasets/fashion-mnist
DEMO    ?= runs/demo

.PHONY: demo test install data benchmark notebooks package-check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Fashion-MNIST from Debian's `dataset-fashion-mnist` when we are root with
# apt; otherwise the demo falls back to scikit-learn's `digits` and says so.
# Debian's `fortunes-min` is the text corpus of the Replicated Softmax RBM,
# `espeak-ng` synthesizes the `speech` audio of WaveNet.
data:
	@if [ -d $(FMNIST) ]; then \
	  echo "data: Fashion-MNIST found in $(FMNIST)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "data: installing Debian package dataset-fashion-mnist"; \
	  (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || \
	   (apt-get update -qq >/dev/null 2>&1 && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1)) \
	  || echo "data: could not install dataset-fashion-mnist; the demo will use digits"; \
	else \
	  echo "data: not root or no apt-get; cannot install dataset-fashion-mnist; the demo will use digits"; \
	fi
	@if [ -d /usr/share/games/fortunes ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fortunes-min >/dev/null 2>&1 \
	  || echo "data: could not install fortunes-min; the Replicated Softmax examples need it"; \
	fi
	@if command -v espeak-ng >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null 2>&1 \
	  || echo "data: could not install espeak-ng; the 'speech' dataset (WaveNet) needs it"; \
	fi

# Trains the factorized Bernoulli baseline on binarized Fashion-MNIST (or
# digits), resuming if a previous demo was interrupted, then samples and exports.
demo: install data
	@if [ -d $(FMNIST) ]; then DATA=fashion_mnist; else DATA=digits; \
	  echo "demo: Fashion-MNIST is not available; using scikit-learn's digits instead"; fi; \
	if [ -f $(DEMO)/config.json ]; then RESUME=--resume; else RESUME=; fi; \
	$(VENV)/bin/tfdgm train independent_bernoulli --data $$DATA --epochs 5 --learning-rate 0.01 --out $(DEMO) $$RESUME && \
	$(VENV)/bin/tfdgm sample $(DEMO) -n 64 --out $(DEMO)/samples_final.png && \
	$(VENV)/bin/tfdgm export $(DEMO) --to savedmodels/demo && \
	echo "demo: outputs in $(DEMO)/ (metrics.json, samples.png, samples_final.png, checkpoints/, logs/) and savedmodels/demo/"

test: install data
	$(PY) -m pytest -q -n 2 --dist loadgroup --durations=15 tests

# `make benchmark NAME=rbm ARGS="--skip-quality"` runs benchmarks/NAME.py; with
# no NAME it lists the scripts (each writes its figures to benchmarks/results/).
benchmark: install data
	@if [ -z "$(NAME)" ]; then \
	  echo "benchmark: choose one with NAME=<script> [ARGS=...]; see benchmarks/README.md for budgets:"; \
	  for f in benchmarks/*.py; do \
	    grep -q '__main__' $$f || continue; \
	    printf '  %-16s %s\n' "$$(basename $$f .py)" "$$($(PY) -c "import ast,sys; d=ast.get_docstring(ast.parse(open(sys.argv[1]).read())) or ''; print(d.splitlines()[0] if d else '')" $$f)"; \
	  done; \
	else PYTHONPATH=. $(PY) benchmarks/$(NAME).py $(ARGS); fi

# Executes every tutorial at tutorial size and saves it with its outputs
# (pictures included); NOTEBOOKS="tutorials/flows.ipynb ..." for a subset.
NOTEBOOKS ?= $(wildcard tutorials/*.ipynb)
notebooks: install data
	$(PY) tutorials/execute.py $(NOTEBOOKS)

# Builds the wheel, installs it into a fresh venv and uses it outside the checkout.
package-check: install
	PY=$(PY) PYTHON=$(PYTHON) bash .ci/package-check

clean:
	rm -rf $(VENV) runs savedmodels/demo .pytest_cache dist
