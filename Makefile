# One set of commands for README, CI and developers: setup, lint, test, bench, run.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PKGS   := policies actors app localdapr
PORT           ?= 8000
SIDECAR_PORT   ?= 3500
PLACEMENT_PORT ?= 50005
SCHEDULER_PORT ?= 50006
REDIS_PORT     ?= 6379
REPLICAS       ?= 1

DAPR_BIN       := .dapr/bin
DAPR_STAMP     := $(DAPR_BIN)/.built

.PHONY: setup lint format test bench run run-dapr dapr redis chromium screenshots clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# The real Dapr runtime, built from its pinned Go module (tools/dapr); a no-op when current.
$(DAPR_STAMP): tools/dapr/go.mod tools/dapr/go.sum tools/dapr/build.sh tools/dapr/components.go.overlay
	tools/dapr/build.sh $(DAPR_BIN)
	touch $@

dapr: $(DAPR_STAMP)

# Redis from Debian's packages; the tests start their own on a free port, never :6379.
redis:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get install -y --no-install-recommends redis-server || \
	     (apt-get update && apt-get install -y --no-install-recommends redis-server)) >/dev/null; \
	  else echo "make redis: install redis-server (Debian: sudo apt-get install redis-server)" >&2; exit 1; fi; }
	@redis-server --version

# Chromium from Debian's packages for the console's browser tests (Playwright drives this binary;
# it never downloads a browser of its own).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get install -y --no-install-recommends chromium || \
	     (apt-get update && apt-get install -y --no-install-recommends chromium)) >/dev/null; \
	  else echo "make chromium: install chromium (Debian: sudo apt-get install chromium)" >&2; exit 1; fi; }
	@chromium --version

# The console's README pictures (docs/console-*.png), taken by its browser test.
screenshots: setup chromium
	RESIDENT_UPDATE_SCREENSHOTS=1 $(PY) -m pytest tests/e2e/test_console.py -k screenshots -q

lint: setup
	$(PY) -m ruff check $(PKGS) tests bench
	$(PY) -m ruff format --check $(PKGS) tests bench
	$(PY) -m mypy

format: setup
	$(PY) -m ruff format $(PKGS) tests bench
	$(PY) -m ruff check --fix $(PKGS) tests bench

test: lint dapr redis chromium
	$(PY) -m pytest

bench: setup
	@$(MAKE) --no-print-directory dapr redis
	@for b in bench/bench_*.py; do [ $$b = bench/bench_service.py ] && continue; \
		[ $$b = bench/bench_replicas.py ] && continue; \
		echo "== $$b"; $(PY) $$b || exit 1; done
	@echo "== bench/bench_service.py --sidecar localdapr --objects 2000"; \
		$(PY) bench/bench_service.py --sidecar localdapr --objects 2000
	@echo "== bench/bench_service.py --sidecar daprd --objects 1000"; \
		$(PY) bench/bench_service.py --sidecar daprd --objects 1000
	@echo "== bench/bench_replicas.py --replicas 1,2,3 --objects 1000 --rebalance"; \
		$(PY) bench/bench_replicas.py --replicas 1,2,3 --objects 1000 --warmup 15 --window 20 --rebalance
	@echo "== bench/soak.py --sidecar localdapr"; $(PY) bench/soak.py --sidecar localdapr
	@echo "== bench/soak.py --sidecar daprd --objects 1000 --warmup 30 --duration 120"; \
		$(PY) bench/soak.py --sidecar daprd --objects 1000 --warmup 30 --duration 120

run: setup
	$(VENV)/bin/resident dev --port $(PORT) --dapr-http-port $(SIDECAR_PORT)

# The same, on the real runtime: Redis, placement (:50005) and scheduler (:50006) as `dapr init`
# would start them, then daprd with components/ and both API tokens, then `resident dev`.
run-dapr: setup dapr redis
	$(PY) -m tests.realdapr --port $(PORT) --dapr-http-port $(SIDECAR_PORT) \
	  --placement-port $(PLACEMENT_PORT) --scheduler-port $(SCHEDULER_PORT) --redis-port $(REDIS_PORT) \
	  --replicas $(REPLICAS)

clean:
	rm -rf $(VENV) .resident .mypy_cache .pytest_cache .ruff_cache
