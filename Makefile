# Postwarden: two commands for a newcomer — `make run` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
export POSTWARDEN_DATA_DIR ?= ./var

.PHONY: setup run test lint typecheck pytest bench clean

setup:
	@scripts/bootstrap.sh

## Start the gateway and console on embedded defaults (SQLite, ./var, demo data when empty).
run: setup
	@scripts/run.sh

## Everything CI checks: lint, types, import layers, the whole test suite.
test: setup lint
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

## Throughput figures for the README (never part of the tests); `make bench BENCH=detect` runs one.
bench: setup
	$(PY) -m benchmarks $(BENCH)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
