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
# `make test SEED=1` / `make nbval SEED=1`: the notebooks with another seed (ck.setup reads COURSEKIT_SEED).
SEED_ENV := $(if $(SEED),COURSEKIT_SEED=$(SEED) ,)

.PHONY: help env lab test unit lint nbval execute reproduce bench clean distclean doctor test-compat

help:
	@echo "make lab      create the environment if needed and open JupyterLab on notebooks/"
	@echo "make test     create the environment if needed; lint, unit tests + every notebook (fast profile)"
	@echo "make unit     unit tests without the slow ones (kernel runs, tiny pretrain round trips)"
	@echo "make nbval    every notebook in the fast profile (SEED=1: with another seed; NB=...: one notebook)"
	@echo "make lint     ruff over coursekit/, tests/, benchmarks/, scripts/ (zero findings expected)"
	@echo "make execute  re-run every notebook in the default profile, saving outputs in place (timed)"
	@echo "make reproduce  remake the committed results of the heavy studies (full profile)"
	@echo "make test-compat  unit tests + fast notebooks on the oldest and newest declared torch (GBs)"
	@echo "make test-colab   offline Colab simulation: student editions + bootstrap on torch 2.9.1 (GBs)"
	@echo "make bench    run the benchmarks in benchmarks/ (they print ratios)"
	@echo "make doctor   check installation, data and checkpoints"
	@echo "make assignments  graded assignments: build/assignments/release/ for students (nbgrader)"
	@echo "make grade A=hw1_autoencoders  autograde the collected submissions of one assignment"
	@echo "make clean    remove caches and build outputs (keeps .venv; distclean removes it)"

env: $(STAMP)

# Students need only the package (pip install -e .); `make` installs the [test] extra as well
# (pytest, nbval, nbconvert for `make execute`, ruff for `make lint`). editable_mode=compat puts
# a plain path entry on sys.path, so PYTHONPATH (e.g. a git worktree of the repo) still wins.
$(STAMP): pyproject.toml
	@if [ ! -x "$(PY)" ]; then \
	  echo ">> creating $(ENV_DIR) with $(SYSTEM_PYTHON) -m venv"; \
	  $(SYSTEM_PYTHON) -m venv "$(ENV_DIR)" || { echo "could not create a venv: install python3-venv (Debian/Ubuntu) or activate your own environment"; exit 1; }; \
	fi
	@echo ">> installing coursekit and its dependencies into $(ENV_DIR) (first time: a few minutes)"
	"$(PY)" -m pip install --quiet --upgrade pip
	"$(PY)" -m pip install --quiet -e ".[test]" --config-settings editable_mode=compat
	@touch "$(STAMP)"

lab: env
	"$(PY)" -m jupyter lab --notebook-dir=notebooks $(ROOT_FLAG) $(LAB_ARGS)

doctor: env
	"$(PY)" -m coursekit doctor

lint: env
	"$(PY)" -m ruff check coursekit tests benchmarks scripts conftest.py

test: env lint
	@start=$$(date +%s); status=0; \
	$(SEED_ENV)COURSEKIT_FAST=1 MPLBACKEND=Agg "$(PY)" -m pytest tests $(NOTEBOOKS) --nbval-lax \
	  --nbval-cell-timeout=600 -p no:cacheprovider $(PYTEST_ARGS) || status=$$?; \
	echo ">> make test: wall time $$(( $$(date +%s) - start )) s (after the install step)"; \
	exit $$status

unit: env
	COURSEKIT_FAST=1 MPLBACKEND=Agg "$(PY)" -m pytest tests -m "not slow" $(PYTEST_ARGS)

# SEED=1 runs every notebook with another seed (COURSEKIT_SEED): checked outputs must not change.
nbval: env
	$(SEED_ENV)COURSEKIT_FAST=1 MPLBACKEND=Agg "$(PY)" -m pytest $(or $(NB),$(NOTEBOOKS)) --nbval-lax --nbval-cell-timeout=600 $(PYTEST_ARGS)

# Default (student) profile; NB=notebooks/01_autoencoders.ipynb runs one notebook.
# One run per notebook gives both the committed outputs and its timing (wall, slowest cell,
# kernel CPU, load; benchmarks/bench_notebooks.py refuses a verdict on a loaded machine).
execute: env
	"$(PY)" benchmarks/bench_notebooks.py --inplace --record --json build/notebook_times.json \
	  $(or $(NB),$(NOTEBOOKS))

# The oldest and the newest torch/torchvision that pyproject.toml admits, each in its own venv
# under build/ (several GB each: PyPI's Linux torch brings CUDA libraries): unit tests and every
# notebook in the fast profile. Not part of `make test`.
COMPAT_TORCH ?= 2.9.1:0.24.1 2.14.1:0.29.1
test-compat:
	@for pair in $(COMPAT_TORCH); do \
	  t=$${pair%%:*}; v=$${pair##*:}; venv=build/compat-torch-$$t; \
	  echo ">> torch $$t, torchvision $$v in $$venv"; \
	  [ -x $$venv/bin/python ] || $(SYSTEM_PYTHON) -m venv $$venv || exit 1; \
	  $$venv/bin/python -m pip install --quiet -e ".[test]" "torch==$$t" "torchvision==$$v" \
	    --config-settings editable_mode=compat || exit 1; \
	  COURSEKIT_FAST=1 MPLBACKEND=Agg $$venv/bin/python -m pytest tests $(NOTEBOOKS) --nbval-lax \
	    --nbval-cell-timeout=600 --ignore=tests/browser -p no:cacheprovider -q || exit 1; \
	done

# Offline simulation of a student's Colab (docs/instructors.md): a venv under build/colab-sim with
# another torch (COLAB_TORCH) and no coursekit/torchmetrics/ipywidgets/tqdm, a bare clone of HEAD
# as the public URL, every student-edition notebook run through its bootstrap cell in the fast
# profile from a fresh directory outside the repo; then again with a fake full-MNIST layout.
# COLAB_PYTHON: the venv's interpreter (Colab runs 3.12). Not part of `make test`.
.PHONY: test-colab
COLAB_TORCH ?= 2.9.1:0.24.1
COLAB_PYTHON ?= $(SYSTEM_PYTHON)
test-colab: env
	"$(PY)" scripts/colab_sim.py --torch $(COLAB_TORCH) --python "$(COLAB_PYTHON)" \
	  $(if $(NB),--notebooks $(NB)) $(COLAB_ARGS)

# The heavy studies at full size: data/results/*.json with provenance (minutes each).
reproduce: env
	"$(PY)" -m coursekit reproduce --all

bench: env
	@for b in benchmarks/bench_*.py; do echo ">> $$b"; "$(PY)" "$$b" || exit 1; done

clean:
	rm -rf build data/cache .pytest_cache
	find . -name __pycache__ -not -path "./.venv/*" -prune -exec rm -rf {} +
	find . -name .ipynb_checkpoints -not -path "./.venv/*" -prune -exec rm -rf {} +

distclean: clean
	rm -rf .venv *.egg-info

# ============================================================================ instructor tools
# Slides, student edition and the real-browser test (docs/instructors.md). Output goes to build/.
# NB=notebooks/02_vae.ipynb limits any of them to one notebook.
.PHONY: slides student slides-metadata colab browser-deps test-browser site assignments grade
INSTRUCTOR_NB = $(or $(NB),$(NOTEBOOKS))

# Graded assignments (nbgrader; docs/instructors.md, "Graded assignments"): sources with solutions,
# hidden tests and rubrics in grading/source/; students get build/assignments/release/.
assignments: env
	"$(PY)" scripts/assignments.py build

# make grade A=hw2_vae: autograde build/assignments/submitted/<student>/hw2_vae/, write feedback + CSV
grade: env
	@[ -n "$(A)" ] || { echo "usage: make grade A=<assignment> (one of: $$(ls grading/source | tr "\n" " "))"; exit 2; }
	"$(PY)" scripts/assignments.py grade $(A)

slides: env  ## build/slides/*.slides.html; reveal.js + MathJax fetched once with npm into build/vendor
	"$(PY)" scripts/nbtools.py slides $(INSTRUCTOR_NB) --out build/slides
	@echo ">> open build/slides/<notebook>.slides.html: it works offline (move build/slides/ as a whole)"

student: env  ## build/lab/ (lab edition: no solutions, no "Going further") and build/student/ (self-study: no solutions)
	"$(PY)" scripts/nbtools.py student $(INSTRUCTOR_NB) --out build/student $(if $(REPO),--repo $(REPO))

slides-metadata: env  ## add slideshow metadata to the notebooks in place (keeps authors' choices)
	"$(PY)" scripts/nbtools.py slides-metadata $(INSTRUCTOR_NB)

colab: env  ## add/refresh the Colab bootstrap cell in place; REPO=https://.../repo.git
	"$(PY)" scripts/nbtools.py colab $(INSTRUCTOR_NB) $(if $(REPO),--repo $(REPO))

# The course website: Sphinx + MyST-NB + Furo over the committed notebooks (never executed);
# works from file:// and on any static host. MathJax: the slides' pinned npm tarball.
site: env  ## build/site/index.html, offline; installs the [site] extra the first time
	@"$(PY)" -c "import sphinx, myst_nb, furo" 2>/dev/null || { \
	  echo ">> installing the [site] extra (Sphinx, MyST-NB, Furo)"; \
	  "$(PY)" -m pip install --quiet -e ".[site]" --config-settings editable_mode=compat; }
	"$(PY)" scripts/build_site.py --out build/site

browser-deps: env
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo ">> installing Debian's chromium (apt-get)"; apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Chromium is missing: install it (e.g. sudo apt-get install chromium)"; exit 1; fi; }
	@"$(PY)" -c "import playwright" 2>/dev/null || { echo ">> installing the [dev] extra (playwright)"; \
	  "$(PY)" -m pip install --quiet -e ".[test,dev]" --config-settings editable_mode=compat; }

# JupyterLab on 127.0.0.1 + headless Chromium: every notebook runs (fast profile), math, widgets,
# no errors; then one slides file; then every page of the website (tests/browser/test_site.py).
# Screenshots: build/screenshots/.
test-browser: browser-deps slides site
	@start=$$(date +%s); status=0; \
	COURSEKIT_BROWSER=1 $(if $(NB),COURSEKIT_BROWSER_NOTEBOOKS="$(NB)") "$(PY)" -m pytest tests/browser \
	  -p no:cacheprovider -v $(PYTEST_ARGS) || status=$$?; \
	echo ">> make test-browser: wall time $$(( $$(date +%s) - start )) s; screenshots in build/screenshots/"; \
	exit $$status
