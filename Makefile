# The two commands of the README: `make demo` and `make test`.
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.tfdgm-installed
FMNIST  := /usr/share/datasets/fashion-mnist
DEMO    ?= runs/demo

.PHONY: demo test install data benchmark clean

$(STAMP): setup.py
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
	$(PY) -m pytest -q -n 2 --durations=15 tests

benchmark: install data
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) runs savedmodels/demo .pytest_cache
