# Every target creates .venv and installs what it needs, so a fresh clone needs no other step.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
STUDY  ?= sunspots

.PHONY: help install tune test lint bench clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(STAMP)  ## create .venv and install tuner with its dev tools

tune: $(STAMP)  ## tune studies/$(STUDY).toml (default: sunspots)
	$(BIN)/tuner tune studies/$(STUDY).toml

test: $(STAMP)  ## run the test suite
	$(BIN)/python -m pytest

lint: $(STAMP)  ## ruff
	$(BIN)/ruff check tuner tests bench

bench: $(STAMP)  ## benchmarks that print tables (torch columns need: .venv/bin/pip install -e '.[bench]')
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/pruning.py studies/$(STUDY).toml

clean:  ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
