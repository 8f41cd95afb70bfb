# Two commands for users: `make lab` and `make test`. Both create the environment when missing.
# The environment: the activated venv/conda env if you are in one, else ./.venv (made with pip).
SHELL := /bin/bash
.DEFAULT_GOAL := help
SYSTEM_PYTHON ?= python3

ifneq ($(VIRTUAL_ENV),)
  ENV_DIR := $(VIRTUAL_ENV)
else ifneq ($(and $(CONDA_PREFIX),$(filter-out base,$(CONDA_DEFAULT_ENV))),)
  ENV_DIR := $(CONDA_PREFIX)
else
  ENV_DIR := $(CURDIR)/.venv
endif
PY := $(ENV_DIR)/bin/python
STAMP := $(ENV_DIR)/.coursekit-installed
# JupyterLab refuses to run as root unless told to (CI machines and containers run as root).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))

.PHONY: help env lab test unit nbval execute bench clean distclean doctor

help:
	@echo "make lab      create the environment if needed and open JupyterLab on notebooks/"
	@echo "make test     create the environment if needed; unit tests + every notebook (fast profile)"
	@echo "make execute  re-run every notebook in the default profile, saving outputs in place"
	@echo "make bench    run the benchmarks in benchmarks/ (they print ratios)"
	@echo "make doctor   check installation, data and checkpoints"
	@echo "make clean    remove caches and build outputs (keeps .venv; distclean removes it)"

env: $(STAMP)

$(STAMP): pyproject.toml
	@if [ ! -x "$(PY)" ]; then \
	  echo ">> creating $(ENV_DIR) with $(SYSTEM_PYTHON) -m venv"; \
	  $(SYSTEM_PYTHON) -m venv "$(ENV_DIR)" || { echo "could not create a venv: install python3-venv (Debian/Ubuntu) or activate your own environment"; exit 1; }; \
	fi
	@echo ">> installing coursekit and its dependencies into $(ENV_DIR) (first time: a few minutes)"
	"$(PY)" -m pip install --quiet --upgrade pip
	"$(PY)" -m pip install --quiet -e .
	@touch "$(STAMP)"

lab: env
	"$(PY)" -m jupyter lab --notebook-dir=notebooks $(ROOT_FLAG) $(LAB_ARGS)

doctor: env
	"$(PY)" -m coursekit doctor

test: env
	@start=$$(date +%s); status=0; \
	COURSEKIT_FAST=1 MPLBACKEND=Agg "$(PY)" -m pytest tests $(NOTEBOOKS) --nbval-lax \
	  --nbval-cell-timeout=600 -p no:cacheprovider $(PYTEST_ARGS) || status=$$?; \
	echo ">> make test: wall time $$(( $$(date +%s) - start )) s (after the install step)"; \
	exit $$status

unit: env
	COURSEKIT_FAST=1 MPLBACKEND=Agg "$(PY)" -m pytest tests $(PYTEST_ARGS)

nbval: env
	COURSEKIT_FAST=1 "$(PY)" -m pytest $(or $(NB),$(NOTEBOOKS)) --nbval-lax --nbval-cell-timeout=600 $(PYTEST_ARGS)

# Default (student) profile; NB=notebooks/01_autoencoders.ipynb runs one notebook.
execute: env
	@for nb in $(or $(NB),$(NOTEBOOKS)); do \
	  start=$$(date +%s); echo ">> executing $$nb (default profile)"; \
	  COURSEKIT_FAST=0 "$(PY)" -m jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=3600 "$$nb" || exit 1; \
	  echo ">> $$nb: $$(( $$(date +%s) - start )) s"; \
	done

bench: env
	@for b in benchmarks/bench_*.py; do echo ">> $$b"; "$(PY)" "$$b" || exit 1; done

clean:
	rm -rf build data/cache .pytest_cache
	find . -name __pycache__ -not -path "./.venv/*" -prune -exec rm -rf {} +
	find . -name .ipynb_checkpoints -not -path "./.venv/*" -prune -exec rm -rf {} +

distclean: clean
	rm -rf .venv *.egg-info
