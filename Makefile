# Two commands do all set-up: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
# -qq: errors only. The demo's first run should show the demo, not the installer.
PIP := $(BIN)/python -m pip install -qq --disable-pip-version-check

.PHONY: venv dev demo test lint typecheck pytest bench faults clean

# What the daemon and the demo need (a service install runs this too); `make dev` adds the test tools.
venv: $(STAMP)
dev: $(DEV_STAMP)

$(STAMP): pyproject.toml constraints.txt
	@echo "installing stocksync into $(VENV) (first run only, about a minute)"
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) -c constraints.txt -e .
	touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	$(PIP) -c constraints.txt -e '.[dev]'
	touch $(DEV_STAMP)

demo: $(STAMP)
	$(BIN)/python -m daemon.demo

lint: $(DEV_STAMP)
	$(BIN)/ruff check daemon reconcilers sources sandbox_store tests
	$(BIN)/ruff format --check daemon reconcilers sources sandbox_store tests
	$(BIN)/lint-imports

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

pytest: $(DEV_STAMP)
	$(BIN)/pytest -q -m "not bench and not faults" $(PYTEST_ARGS)

# Benchmarks: scenarios of issue 7, a table on stdout and tests/bench/results.json (QUICK=1: reduced sizes).
bench: $(DEV_STAMP)
	$(BIN)/python -m tests.bench $(if $(QUICK),--quick)

# The whole fault suite (make test runs its fast cases); each case prints the figure it measured.
faults: $(DEV_STAMP)
	$(BIN)/pytest -q -m "not bench" tests/faults $(PYTEST_ARGS)

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
