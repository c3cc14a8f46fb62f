# One entry point for local runs and CI. `make test` and `make demo` work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-fast lint typecheck check bench bench-quick drill soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/sekisho demo

## The whole suite: unit, store (SQLite + PostgreSQL), Redis, end-to-end.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile

test-fast: $(STAMP)
	$(BIN)/python -m pytest -x -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

bench: $(STAMP)
	$(BIN)/python -m bench.run --full

bench-quick: $(STAMP)
	$(BIN)/python -m bench.run --quick

## Scale-out drills (nginx + 3 replicas + PostgreSQL + Redis) at five times the CI scale.
drill: $(STAMP)
	SEKISHO_DRILL_SCALE=5 $(BIN)/python -m pytest -p no:cacheprovider -s -n 0 tests/drills

## 30 minutes of steady load; memory must stay flat (not in CI).
soak: $(STAMP)
	$(BIN)/python -m tests.drills.soak 1800

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
