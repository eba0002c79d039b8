# One set of commands for README, CI and developers: setup, lint, test, bench, run.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PKGS   := policies actors app localdapr
PORT           ?= 8000
SIDECAR_PORT   ?= 3500
GRPC_PORT      ?= 50001
PLACEMENT_PORT ?= 50005
SCHEDULER_PORT ?= 50006
REDIS_PORT     ?= 6379
REPLICAS       ?= 1

DAPR_BIN       := .dapr/bin
DAPR_STAMP     := $(DAPR_BIN)/.built

.PHONY: setup lint format test bench run run-dapr dapr redis chromium screenshots clients clients-tools clean

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

# The JavaScript, Java and Go SDK clients (clients/): their pinned dependencies fetched once into
# npm's, Maven's and Go's own caches; the tests then build each client in a clean folder from
# those caches (Maven offline). Node.js, Maven and a JDK come from Debian's packages when absent.
CLIENTS_STAMP := $(VENV)/.clients-stamp

clients-tools:
	@for t in node:nodejs npm:npm mvn:maven javac:default-jdk-headless; do \
	  command -v $${t%%:*} >/dev/null 2>&1 && continue; \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get install -y --no-install-recommends $${t##*:} || \
	     (apt-get update && apt-get install -y --no-install-recommends $${t##*:})) >/dev/null; \
	  else echo "make clients: install $${t##*:} (needed for $${t%%:*})" >&2; exit 1; fi; done
	@command -v go >/dev/null 2>&1 || { echo "make clients: install Go 1.24+" >&2; exit 1; }

$(CLIENTS_STAMP): clients/js/package-lock.json clients/java/pom.xml clients/go/go.mod clients/go/go.sum | $(STAMP)
	@$(MAKE) --no-print-directory clients-tools
	cd clients/js && npm ci --no-audit --no-fund --loglevel=error
	cd clients/java && mvn -q -B package dependency:build-classpath \
	  -Dmdep.outputFile=target/classpath.txt && rm -rf target
	cd clients/go && go build -mod=readonly ./...
	touch $@

clients: $(CLIENTS_STAMP)

lint: setup
	$(PY) -m ruff check $(PKGS) tests bench
	$(PY) -m ruff format --check $(PKGS) tests bench
	$(PY) -m mypy

format: setup
	$(PY) -m ruff format $(PKGS) tests bench
	$(PY) -m ruff check --fix $(PKGS) tests bench

test: lint dapr redis clients chromium
	$(PY) -m pytest

bench: setup
	@$(MAKE) --no-print-directory dapr redis
	@for b in bench/bench_*.py; do [ $$b = bench/bench_service.py ] && continue; \
		[ $$b = bench/bench_replicas.py ] && continue; \
		echo "== $$b"; $(PY) $$b || exit 1; done
	@echo "== bench/bench_idempotency.py --sidecar daprd"; \
		$(PY) bench/bench_idempotency.py --sidecar daprd
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
	$(VENV)/bin/resident dev --port $(PORT) --dapr-http-port $(SIDECAR_PORT) --dapr-grpc-port $(GRPC_PORT)

# The same, on the real runtime: Redis, placement (:50005) and scheduler (:50006) as `dapr init`
# would start them, then daprd with components/ and both API tokens, then `resident dev`.
run-dapr: setup dapr redis
	$(PY) -m tests.realdapr --port $(PORT) --dapr-http-port $(SIDECAR_PORT) --dapr-grpc-port $(GRPC_PORT) \
	  --placement-port $(PLACEMENT_PORT) --scheduler-port $(SCHEDULER_PORT) --redis-port $(REDIS_PORT) \
	  --replicas $(REPLICAS)

clean:
	rm -rf $(VENV) .resident .mypy_cache .pytest_cache .ruff_cache clients/js/node_modules clients/java/target
