# hpcseq entry points (`make help` lists them). Each target first sets up the environments it
# needs (envs/setup.sh: only verifies when they are up to date).
#
#   make run                  the default run: experiments of config/config.yaml with default_target (preset quick) + report
#   make run PRESET=lecture   the lecture's full hyperparameters
#   make test                 lint, then the whole test suite (starts a local Slurm cluster; needs root)
#   make docs                 the documentation site (docs/, MkDocs), built and served on http://127.0.0.1:8000

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
CORES ?= $(shell nproc)
WORKFLOW := .venv/workflow/bin
TRAIN := .venv/train/bin
DOCS := .venv/docs/bin
export NO_MKDOCS_2_WARNING := 1  # mkdocs-material 9.8 announces its successor at every build
PRESET ?=
CONFIG_ARGS := $(if $(PRESET),--config preset=$(PRESET))
PYTEST_ARGS ?= --durations=8

.PHONY: help setup setup-workflow setup-training run report dry-run lint format test test-unit test-training \
	test-workflow test-slurm suite-train suite-slurm suite-timelimit tensorboard benchmark results-table clean check-gpu-build check-python \
	setup-docs docs docs-build docs-reference test-docs

help: ## this list
	@sed -n '1,7p' Makefile
	@grep -E '^[a-z-]+:.*## ' Makefile | sed -E 's/^([a-z-]+):.*## /  make \1\t/' | expand -t 24

setup: ## both environments (.venv/workflow, .venv/train); GPU=1 for the CUDA build
	envs/setup.sh $(if $(GPU),--gpu)

setup-workflow: ## the Snakemake environment only (dry runs, sbatch scripts, hpcseq logs, lint)
	envs/setup.sh --workflow-only

setup-training: ## the TensorFlow + Horovod environment only
	envs/setup.sh --training-only $(if $(GPU),--gpu)

run: setup ## the default run's experiments (default_target; PRESET=quick|lecture), then the HTML report
	$(WORKFLOW)/snakemake --cores $(CORES) $(CONFIG_ARGS)
	$(WORKFLOW)/snakemake --cores 1 $(CONFIG_ARGS) --report results/report.html
	@echo "results: results/summary.md, results/report.html"

report: setup-workflow ## results/report.html of the last run
	$(WORKFLOW)/snakemake --cores 1 $(CONFIG_ARGS) --report results/report.html

dry-run: setup-workflow ## what `make run` would do, without doing it
	$(WORKFLOW)/snakemake -n $(CONFIG_ARGS)

lint: setup-workflow setup-docs ## ruff (lint, format check), snakefmt --check, snakemake --lint, module and function sizes, mkdocs build --strict
	$(WORKFLOW)/ruff check scripts tests
	$(WORKFLOW)/ruff format --check scripts tests
	$(WORKFLOW)/snakefmt --check Snakefile workflow/
	d=$$(mktemp -d); trap 'rm -rf "$$d"' EXIT; \
	  $(WORKFLOW)/snakemake --lint --directory "$$d" --configfile $(CURDIR)/config/config.yaml
	$(WORKFLOW)/python -m pytest -q tests/unit/test_house_sizes.py
	d=$$(mktemp -d); trap 'rm -rf "$$d"' EXIT; $(DOCS)/mkdocs build --strict --quiet --site-dir "$$d"

format: setup-workflow ## rewrite Python and Snakemake files in the house style
	$(WORKFLOW)/ruff check --fix scripts tests
	$(WORKFLOW)/ruff format scripts tests
	$(WORKFLOW)/snakefmt Snakefile workflow/

# The suite runs in two interpreters: TensorFlow code in the training environment, everything
# else (Snakemake, Slurm, log inspection) in the workflow environment. Both environments are set up
# at once; then lint and two streams of tests run side by side (each one's output is printed whole
# when it ends), then the time-limit tests:
#   suite-train      the training tests (no Slurm) and the docs' commands (tests/docs), then
#                    SLURM_AFTER_TRAINING;
#   suite-slurm      SLURM_FIRST (they kill, stop and drain nodes: while the other stream trains
#                    outside Slurm, no other test has a job there), then the other workflow and
#                    Slurm tests, which wait for Slurm much of the time while the other stream
#                    uses the CPU, then the unit tests (their minute of CPU fills the end of the
#                    stream, where it waits for Slurm most);
#   suite-timelimit  SLURM_ALONE: Slurm's warning leaves a job 30 s to checkpoint and stop, too
#                    little when other tests take the cores.
SLURM_FIRST := tests/slurm/test_nodes.py
SLURM_AFTER_TRAINING := tests/slurm/test_accounts.py tests/slurm/test_jsc_scripts.py tests/slurm/test_scripts.py \
	tests/workflow/test_scaling.py
SLURM_ALONE := tests/slurm/test_timelimit.py
# the docs' commands that need a trained model run in the training environment (tests/docs/conftest.py)
DOCS_TRAINED := tests/docs/test_trained_model_commands.py
SLURM_REST = $(filter-out $(SLURM_FIRST) $(SLURM_AFTER_TRAINING) $(SLURM_ALONE), \
	$(wildcard tests/workflow/test_*.py tests/slurm/test_*.py))

test: ## lint, then unit, training, workflow and Slurm tests
	command -v shellcheck >/dev/null || { [ "$$(id -u)" -eq 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null; } || echo "shellcheck missing: the job-script tests will fail" >&2
	$(MAKE) --no-print-directory -j3 --output-sync=target lint suite-train suite-slurm
	$(MAKE) --no-print-directory suite-timelimit
	@echo "make test: the local Slurm cluster the tests started keeps running for the next run (munge, MariaDB," \
	  "slurmdbd, slurmctld, four slurmd; tests/cluster/local_slurm.sh status); stop it: tests/cluster/local_slurm.sh stop"

suite-train: setup-workflow setup-training ## training tests and the docs' commands, then some Slurm tests (make test runs it beside the next)
	$(TRAIN)/python -m pytest tests/training $(DOCS_TRAINED) $(PYTEST_ARGS)
	$(WORKFLOW)/python -m pytest tests/docs --ignore=$(DOCS_TRAINED) $(SLURM_AFTER_TRAINING) $(PYTEST_ARGS)

suite-slurm: setup-workflow setup-training ## the node tests, the other workflow and Slurm tests but the time-limit ones, then the unit tests
	$(WORKFLOW)/python -m pytest $(SLURM_FIRST) $(SLURM_REST) $(PYTEST_ARGS)
	$(WORKFLOW)/python -m pytest tests/unit $(PYTEST_ARGS)

suite-timelimit: ## the time-limit tests (make test runs them last, alone, once the environments are set up)
	$(WORKFLOW)/python -m pytest $(SLURM_ALONE) $(PYTEST_ARGS)

test-docs: setup ## every command the documentation shows, run as written (about 2 minutes)
	$(TRAIN)/python -m pytest $(DOCS_TRAINED) $(PYTEST_ARGS)
	$(WORKFLOW)/python -m pytest tests/docs --ignore=$(DOCS_TRAINED) $(PYTEST_ARGS)

test-unit: setup-workflow ## pure-Python tests (seconds)
	$(WORKFLOW)/python -m pytest tests/unit $(PYTEST_ARGS)

test-training: setup ## real TensorFlow and Horovod ranks (minutes)
	$(TRAIN)/python -m pytest tests/training $(PYTEST_ARGS)

test-workflow: setup ## whole pipelines through Snakemake
	$(WORKFLOW)/python -m pytest tests/workflow $(PYTEST_ARGS)

test-slurm: setup ## the profile and job scripts on a local Slurm cluster (needs root)
	$(WORKFLOW)/python -m pytest tests/slurm $(PYTEST_ARGS)

RESULTS ?= results
TB_PORT ?= 6006
tensorboard: ## TensorBoard over every training's epoch scalars (RESULTS=results, TB_PORT=6006; needs make setup)
	@test -x $(TRAIN)/tensorboard || { echo "no $(TRAIN)/tensorboard: run make setup first" >&2; exit 1; }
	$(TRAIN)/tensorboard --logdir $(RESULTS) --host 127.0.0.1 --port $(TB_PORT)

benchmark: setup ## speed and memory beside the seed and an in-memory reference (a development tool; docs/developing/benchmark.md)
	$(TRAIN)/python -m hpcseq.devtools.benchmark --workflow-python $(WORKFLOW)/python

results-table: setup-workflow ## the docs' table of experiments from results/ and benchmarks/ (docs/using/results.md)
	$(WORKFLOW)/python -m hpcseq.devtools.results_table

# The documentation's own environment, apart from the two above (envs/docs.txt says why); made
# anew only when envs/docs.txt changed (the stamp holds its hash), like envs/setup.sh's.
DOCS_STAMP := .venv/docs/.hpcseq-stamp
PYTHON ?= python3
setup-docs: ## the documentation environment (.venv/docs: MkDocs, Material) from envs/docs.txt
	@want=$$(sha256sum envs/docs.txt | cut -c1-16); \
	if [ -f $(DOCS_STAMP) ] && [ "$$(cat $(DOCS_STAMP))" = "$$want" ]; then echo ".venv/docs is up to date (envs/docs.txt)"; \
	else echo "creating .venv/docs from envs/docs.txt"; rm -f $(DOCS_STAMP); \
	  $(PYTHON) -m venv --clear .venv/docs && $(DOCS)/pip install --quiet --disable-pip-version-check -r envs/docs.txt \
	  && echo "$$want" > $(DOCS_STAMP); fi

DOCS_SERVE ?= 1
docs: setup-docs ## build and serve the documentation site on http://127.0.0.1:8000 (DOCS_SERVE=0: only build into site/)
	$(if $(filter 0,$(DOCS_SERVE)),$(DOCS)/mkdocs build --strict,$(DOCS)/mkdocs serve --strict)

docs-build: setup-docs ## build the documentation site into site/ (git-ignored), failing on broken links
	$(DOCS)/mkdocs build --strict

docs-reference: setup-workflow ## rewrite the generated pages: docs/reference/cli.md, configuration.md, docs/developing/modules.md
	$(WORKFLOW)/python -m hpcseq.devtools.reference

clean: ## remove results, logs, benchmarks and Snakemake's state
	rm -rf results logs benchmarks .snakemake

check-gpu-build: ## the NCCL variant of Horovod's build as far as it goes without CUDA (sdist, patches, CMake)
	envs/check-gpu-build.sh

check-python: ## train a shipped experiment on 2 ranks on another Python (PY=3.13: a Debian 13 root, cached)
	envs/check-python.sh $(PY)
