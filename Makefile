# Postwarden: two commands for a newcomer — `make run` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
export POSTWARDEN_DATA_DIR ?= ./var

.PHONY: setup run test lint typecheck pytest bench fuzz translations clean

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

## Mutation fuzzing over tests/corpora: N mutants (default 10000) through the whole engine,
## with an outside recipient; prints counts (mutants, crashes, uninspectable delivered,
## max/p99 seconds) and fails on any violation. `make fuzz N=500 FUZZ_ARGS="--seed 7"`;
## `python -m tests.fuzz --help` for the rest (--only I --save DIR replays one mutant).
N ?= 10000
fuzz: setup
	$(PY) -m tests.fuzz --count $(N) $(FUZZ_ARGS)

## Message catalogues: extract the marked strings, merge them into each language's .po, compile
## the .mo files (docs/console.md, "Translating"); `make translations` after changing any text.
translations: setup
	PYBABEL=$(VENV)/bin/pybabel scripts/translations.sh

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
