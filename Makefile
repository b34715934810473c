# ledgerstream: every set-up step lives here, so a fresh clone needs only
# `make run` or `make test`. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Every Python dependency is pinned, with hashes, in two lock files made from
# pyproject.toml by `make lock`: requirements.lock (the worker image: the runtime
# dependencies) and requirements-dev.lock (`make install` and CI: those plus the
# `embedded` and `dev` extras, at the same versions). After editing pyproject's
# dependencies run `make lock` and commit both files; a unit test fails until then.
# `make lock` keeps the other pins; `make lock LOCK_FLAGS=--upgrade` moves them all.
LOCK     := requirements.lock
DEV_LOCK := requirements-dev.lock
UV       := uv==0.13.8
COMPILE   = $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 \
            --generate-hashes --quiet $(LOCK_FLAGS)
# Debian's `prometheus` package gives `prometheus` and `promtool` (alert-rule checks,
# the Prometheus integration test), `prometheus-alertmanager` gives `amtool` (the
# Alertmanager configuration check). Installed as root; sudo when not root.
SUDO   := $(if $(filter 0,$(shell id -u)),,sudo)

# Debian's `postgresql` package gives initdb and pg_ctl: the books' tests start a throwaway
# PostgreSQL server from them (tests/support/postgres.py).
.PHONY: postgres
.PHONY: help install lock prometheus run demo test lint unit integration format topics clean bench bench-smoke

help: ## List the targets
	@grep -hE '^[a-z][a-zA-Z_-]*:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml $(DEV_LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	@$(BIN)/pip check >/dev/null || { $(BIN)/pip check; \
		echo "pyproject.toml needs what $(DEV_LOCK) lacks: run 'make lock'"; exit 1; }
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install ledgerstream with the embedded broker and dev tools, pinned by requirements-dev.lock

lock: ## Pin pyproject's dependencies with hashes into requirements.lock and requirements-dev.lock
	@test -x $(BIN)/pip || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet '$(UV)'
	$(COMPILE) -o $(LOCK)
	$(COMPILE) --extra embedded --extra dev -c $(LOCK) -o $(DEV_LOCK)

prometheus: ## Install Debian's prometheus and prometheus-alertmanager packages (promtool, amtool) if missing
	@if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1 \
		|| ! command -v amtool >/dev/null 2>&1; then \
		echo "installing Debian's prometheus and prometheus-alertmanager packages"; \
		$(SUDO) apt-get update -qq >/dev/null && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends prometheus prometheus-alertmanager >/dev/null; \
	fi

postgres: ## Install Debian's postgresql package (initdb, pg_ctl for the books' tests) if missing
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "installing Debian's postgresql package"; \
		$(SUDO) apt-get update -qq >/dev/null && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends postgresql >/dev/null; \
	fi

run: $(STAMP) ## Run the pipeline on the embedded broker with sample data, live, until Ctrl-C
	$(BIN)/ledgerstream demo

demo: $(STAMP) ## Run the sample set once and print a JSON summary
	$(BIN)/ledgerstream demo --once

lint: $(STAMP) ## ruff, mypy --strict, import-linter layers, and the schema compatibility gate
	$(BIN)/ruff check streams tests
	$(BIN)/ruff format --check streams tests
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/ledgerstream schemas check

format: $(STAMP) ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix streams tests
	$(BIN)/ruff format streams tests

unit: $(STAMP) prometheus postgres ## Unit tests only (no broker)
	$(BIN)/pytest tests/unit -q

integration: $(STAMP) prometheus postgres ## Integration tests on the embedded broker
	$(BIN)/pytest tests/integration -q

test: lint prometheus postgres ## Lint, then every test, integration tests included (what CI runs)
	$(BIN)/pytest -q

# Not part of `test`: the benchmark of issue 11 (tests/bench/, `python -m tests.bench --help`).
bench: $(STAMP) ## Benchmark parts (a)-(e) on the embedded broker (about 10 min); writes docs/benchmarks.md
	timeout 3600 $(BIN)/python -m tests.bench

bench-smoke: $(STAMP) ## The benchmark with small counts (a few minutes); writes build/benchmarks-smoke.md
	timeout 900 $(BIN)/python -m tests.bench --smoke

topics: $(STAMP) ## Create the declared topics on KAFKA_BOOTSTRAP_SERVERS
	$(BIN)/ledgerstream topics create

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .ledgerstream .hypothesis
