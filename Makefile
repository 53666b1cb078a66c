# Two commands do all set-up: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint typecheck pytest bench faults clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m daemon.demo

lint: $(STAMP)
	$(BIN)/ruff check daemon reconcilers sandbox_store tests
	$(BIN)/ruff format --check daemon reconcilers sandbox_store tests
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q -m "not bench and not faults" $(PYTEST_ARGS)

# Benchmarks: scenarios of issue 7, a table on stdout and tests/bench/results.json (QUICK=1: reduced sizes).
bench: $(STAMP)
	$(BIN)/python -m tests.bench $(if $(QUICK),--quick)

# The whole fault suite (make test runs its fast cases); each case prints the figure it measured.
faults: $(STAMP)
	$(BIN)/pytest -q -m "not bench" tests/faults $(PYTEST_ARGS)

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
