# The two commands that do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
BROWSER := /usr/bin/chromedriver
POSTGRES := $(VENV)/.postgresql
NGINX := $(VENV)/.nginx
NODE_PARTS := tests/browser/node_modules/.package-lock.json
DAY ?= $(shell date +%Y-%m-%d)

.PHONY: run test install lint rules e2e chaos drill-simulate bench histories clean lock

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The browser tests drive Debian's Chromium through Debian's chromedriver.
$(BROWSER):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver >/dev/null

# The audit-store and end-to-end tests also run against a real PostgreSQL server they start.
$(POSTGRES): $(STAMP)
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql >/dev/null; }
	touch $@

# The TLS tests put Debian's nginx (TLS, HTTP/2, grpc_pass) in front of the dev server.
$(NGINX): $(STAMP)
	command -v nginx >/dev/null || test -x /usr/sbin/nginx || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nginx-light >/dev/null; }
	touch $@

# The web app's browser tests run a real OpenID Connect provider (oidc-provider) on the machine's
# Node.js, and axe-core in Chromium; both from the npm registry, pinned by the lock file.
$(NODE_PARTS): tests/browser/package.json tests/browser/package-lock.json
	command -v npm >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nodejs npm >/dev/null; }
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## Run the embedded engine: Temporal dev server (UI on :8233), a worker, the web app on :8000 and
## the demo transition.
run: $(STAMP)
	$(BIN)/bpo up

## Every test, after the guard rails: ruff (lint, docstrings, no clocks or randomness in workflows/)
## and mypy; then the pure rules, plan loading, activities, workflows on the time-skipping server,
## end to end.
test: lint $(BROWSER) $(POSTGRES) $(NODE_PARTS) $(NGINX)
	$(BIN)/pytest -q

## The guard rails alone, in seconds.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

## The pure rules alone: no server, about a second.
rules: $(STAMP)
	$(BIN)/pytest -q tests/rules

e2e: $(STAMP) $(BROWSER) $(POSTGRES) $(NODE_PARTS)
	$(BIN)/pytest -q -m e2e

## A longer chaos drill than CI's: 50 transitions, worker and server each SIGKILLed 15+ times.
chaos: $(STAMP)
	$(BIN)/python -m tests.chaos --transitions 50 --kills 15

## The simulation drill, longer than CI's: `bpo simulate` of the reference plan 30 times, then
## examples/simulate.py (every scenario) 10 times, each run with a deadline; a run that hangs
## leaves a dump (threads, asyncio tasks, the workflows' pending work) in test-output/drill-simulate/.
drill-simulate: $(STAMP)
	$(BIN)/python -m tests.drill_simulate --runs 30 --deadline 60
	$(BIN)/python -m tests.drill_simulate --example --runs 10 --deadline 120

## Benchmarks: throughput, overhead against a bare SDK workflow, latency, history, scale, replay;
## then the web app's inbox under 50 concurrent sessions over 5,000 open transitions.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m bench.run --json bench/last-run.json
	$(BIN)/python -m bench.web --json bench/last-web-run.json
	$(BIN)/python -m bench.analytics --json bench/last-analytics-run.json

## Add to the replay corpus: a simulated run of the reference plan under today's code, in a folder
## of its own (tests/histories/YYYY-MM-DD). The corpus only grows: old histories stay, since
## transitions recorded by them may still be running.
histories: $(STAMP)
	test ! -e tests/histories/$(DAY) || { echo "tests/histories/$(DAY) exists: the corpus only grows (DAY=$(DAY)-b adds another)"; exit 1; }
	$(BIN)/python examples/simulate.py --years 1 --history tests/histories/$(DAY)/
	cd tests/histories && sha256sum $(DAY)/*.json >> ../replay-corpus.sha256

clean:
	rm -rf $(VENV) .data test-output tests/browser/node_modules

## Pin the image's runtime dependencies (requirements.lock, which the Dockerfile installs with):
## the package alone, no extras, in a fresh environment, then every release it brought, exactly.
lock:
	rm -rf build/lock && $(PYTHON) -m venv build/lock
	build/lock/bin/python -m pip install --quiet --upgrade pip
	build/lock/bin/python -m pip install --quiet .
	{ echo "# The runtime's dependencies, pinned: 'make lock' writes it (pip freeze of a fresh 'pip install .')."; \
	  echo "# The Dockerfile installs with it as constraints; tests/test_fresh_install.py holds the two together."; \
	  build/lock/bin/python -m pip freeze --exclude bpo-transition; } > requirements.lock
	rm -rf build  # the lock's environment, and the copy of the package setuptools built in build/lib
