# imagedb: `make demo` runs the offline demo, `make test` runs the test suite,
# `make bench` writes the benchmark report to benchmarks/results/.
# The virtualenv lives outside the checkout, keyed by Python version and a hash of
# requirements.txt, so fresh clones (and CI) reuse it instead of reinstalling torch.

PYTHON ?= python3
PY_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
REQ_HASH := $(shell sha256sum requirements.txt | cut -c1-16)
VENV ?= $(HOME)/.cache/imagedb/venv-py$(PY_VERSION)-$(REQ_HASH)
PY := $(VENV)/bin/python

.PHONY: venv demo test lint format model bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

demo: venv
	PY=$(PY) bash scripts/demo.sh

test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: venv
	$(PY) -m benchmarks.run $(BENCH_ARGS)

model: venv
	$(PY) models/train_tiny_clip.py

clean:
	rm -rf demo imagedb-lancedb imagedb-faiss .pytest_cache
