# One set of commands for README, CI and developers: setup, lint, test, bench, run.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PKGS   := policies actors app localdapr
PORT           ?= 8000
SIDECAR_PORT   ?= 3500

.PHONY: setup lint format test bench run clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

lint: setup
	$(PY) -m ruff check $(PKGS) tests bench
	$(PY) -m ruff format --check $(PKGS) tests bench
	$(PY) -m mypy

format: setup
	$(PY) -m ruff format $(PKGS) tests bench
	$(PY) -m ruff check --fix $(PKGS) tests bench

test: lint
	$(PY) -m pytest

bench: setup
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done
	@echo "== bench/soak.py"; $(PY) bench/soak.py

run: setup
	$(VENV)/bin/resident dev --port $(PORT) --dapr-http-port $(SIDECAR_PORT)

clean:
	rm -rf $(VENV) .resident .mypy_cache .pytest_cache .ruff_cache
