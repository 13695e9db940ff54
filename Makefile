# Every target creates .venv and installs what it needs, so a fresh clone needs no other step.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
STUDY  ?= sunspots
WORKERS ?= 1
TOP    ?= 5

PORT   ?= 8080

.PHONY: help install tune export train dashboard report test test-fast lint bench quality outside m3 tourism clean

help:  ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}' \
		| sed 's/[$$](STUDY)/STUDY/g; s/[$$](TOP)/TOP/g; s/[$$](PORT)/PORT/g'
	@echo "  (STUDY=$(STUDY), TOP=$(TOP), PORT=$(PORT), WORKERS=$(WORKERS))"

# set-up says one line and shows only errors (-qq: pip's warnings about this machine's package mirrors are noise)
$(BIN)/python:
	@echo "creating $(VENV) (once)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install -qq --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	@echo "installing tuner and its dependencies into $(VENV) (once, or when pyproject.toml changes)"
	@$(BIN)/pip install -qq -e '.[dev]'
	@touch $@

install: $(STAMP)  ## create .venv and install tuner with its dev tools

tune: $(STAMP)  ## tune studies/$(STUDY).toml (default: sunspots)
	$(BIN)/tuner tune studies/$(STUDY).toml --workers $(WORKERS)

export: $(STAMP)  ## write the TOP best configs (default 5) of studies/$(STUDY).toml to runs/$(STUDY)-best-N.toml
	$(BIN)/tuner export studies/$(STUDY).toml -o runs/$(STUDY)-best.toml --top $(TOP)

# the configs export wrote (a study with fewer complete trials than TOP has fewer)
CONFIGS = $(if $(filter 1,$(TOP)),runs/$(STUDY)-best.toml,$$(for i in $$(seq $(TOP)); do \
	f=runs/$(STUDY)-best-$$i.toml; [ -f $$f ] && echo $$f; done))

train: export  ## retrain them as one ensemble (TOP=1: the best alone) and score it on the test split (runs/$(STUDY)-best/)
	$(BIN)/tuner train $(CONFIGS) -o runs/$(STUDY)-best --workers $(WORKERS)

dashboard: $(STAMP)  ## optuna-dashboard on the study's database, on 127.0.0.1:$(PORT)
	$(BIN)/tuner dashboard studies/$(STUDY).toml --port $(PORT)

report: $(STAMP)  ## one self-contained HTML report: runs/$(STUDY)-report.html
	$(BIN)/tuner report studies/$(STUDY).toml -o runs/$(STUDY)-report.html

test: $(STAMP)  ## run the whole test suite, two processes at once (about 200 s here)
	$(BIN)/python -m pytest -n 2

test-fast: $(STAMP)  ## the tests without real processes (-m "not slow"; about 100 s here)
	$(BIN)/python -m pytest -n 2 -m "not slow"

lint: $(STAMP)  ## ruff, and mypy (strict for nn/, spec, search, memory)
	$(BIN)/ruff check tuner tests bench
	$(BIN)/mypy

bench: $(STAMP)  ## benchmarks that print tables (torch columns need: .venv/bin/pip install -e '.[bench]')
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/stack.py
	$(BIN)/python bench/pruning.py studies/$(STUDY).toml
	$(BIN)/python bench/parallel.py studies/$(STUDY).toml
	$(BIN)/python bench/diagnostics.py
	$(BIN)/python bench/storage.py

quality: $(STAMP)  ## model quality against published results and ridge, 3 seeds a case (about 8 min; runs/quality.md)
	$(BIN)/python bench/quality.py --workers 2

outside: $(STAMP)  ## the same check on 4 real series the studies were never fitted to (about 6 min; runs/outside.md)
	$(BIN)/pip install -qq statsmodels  # their data only: not a dependency of tuner
	$(BIN)/python bench/outside.py --workers 2

m3: $(STAMP)  ## M3 monthly, 1,428 series, against statsforecast's ETS and Theta (ARIMA=1: ARIMA too) (docs/m3.md)
	$(BIN)/pip install -qq -e '.[m3]'  # the data and the statistical models: the benchmark's only
	$(BIN)/python bench/m3.py --workers 2 $(if $(ARIMA),--arima)

tourism: $(STAMP)  ## Tourism monthly (h=24) and quarterly (h=8) against ETS and Theta (ARIMA=1 too) (docs/tourism-*.md)
	$(BIN)/pip install -qq -e '.[m3]'
	$(BIN)/python bench/m3.py --data tourism-monthly $(if $(ARIMA),--arima)
	$(BIN)/python bench/m3.py --data tourism-quarterly $(if $(ARIMA),--arima)

clean:  ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
