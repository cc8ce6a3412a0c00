# Youth Hub — `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.DEFAULT_GOAL := help
.PHONY: help install install-test run test test-fast lint bench messages clean

help: ## show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"' 
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

install: $(VENV)/.installed ## create .venv and install the project (.venv/bin/youth-hub)

install-test: $(VENV)/.installed-test ## install the project with its test dependencies

run: install ## migrate, load the demo data when the database is empty, serve on http://127.0.0.1:8000
	$(BIN)/youth-hub migrate
	$(BIN)/youth-hub demo --if-empty
	$(BIN)/youth-hub serve --host $(HOST) --port $(PORT)

test: install-test ## run the whole test suite (PostgreSQL and browser tests when configured)
	$(BIN)/python -m pytest

lint: install-test ## ruff and mypy
	$(BIN)/ruff check youth_hub tests bench
	$(BIN)/ruff format --check youth_hub tests bench
	$(BIN)/mypy youth_hub

bench: install-test ## run the benchmarks by hand (BENCH=pages,memory for some); figures go to bench/RESULTS.md
	$(BIN)/python -m bench.run_all $(if $(BENCH),--only $(BENCH))

clean: ## remove the virtualenv and local data
	rm -rf $(VENV) data .pytest_cache
