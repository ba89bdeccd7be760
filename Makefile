# hpcseq entry points. Each target sets up the environments first (quick when they exist).
#
#   make run                  set up, then run every experiment of config/config.yaml (preset quick) + report
#   make run PRESET=lecture   the lecture's full hyperparameters
#   make test                 set up, then run the whole test suite (starts a local Slurm cluster; needs root)
#   make dry-run | lint | benchmark | jobs | logs | setup | clean

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
CORES ?= $(shell nproc)
WORKFLOW := .venv/workflow/bin
TRAIN := .venv/train/bin
PRESET ?=
CONFIG_ARGS := $(if $(PRESET),--config preset=$(PRESET))
PYTEST_ARGS ?=

.PHONY: setup run report dry-run lint test test-unit test-training test-workflow test-slurm benchmark clean help

help:
	@sed -n '1,8p' Makefile

setup:
	envs/setup.sh $(if $(GPU),--gpu)

run: setup
	$(WORKFLOW)/snakemake --cores $(CORES) $(CONFIG_ARGS)
	$(WORKFLOW)/snakemake --cores 1 $(CONFIG_ARGS) --report results/report.html
	@echo "results: results/summary.md, results/report.html"

report:
	$(WORKFLOW)/snakemake --cores 1 $(CONFIG_ARGS) --report results/report.html

dry-run:
	$(WORKFLOW)/snakemake -n $(CONFIG_ARGS)

lint:
	$(WORKFLOW)/snakemake --lint

# The suite runs in two interpreters: TensorFlow code in the training environment, everything
# else (Snakemake, Slurm, log inspection) in the workflow environment.
test: setup
	$(WORKFLOW)/python -m pytest tests/unit $(PYTEST_ARGS)
	$(TRAIN)/python -m pytest tests/training $(PYTEST_ARGS)
	$(WORKFLOW)/python -m pytest tests/workflow tests/slurm $(PYTEST_ARGS)

test-unit:
	$(WORKFLOW)/python -m pytest tests/unit $(PYTEST_ARGS)

test-training:
	$(TRAIN)/python -m pytest tests/training $(PYTEST_ARGS)

test-workflow:
	$(WORKFLOW)/python -m pytest tests/workflow $(PYTEST_ARGS)

test-slurm:
	$(WORKFLOW)/python -m pytest tests/slurm $(PYTEST_ARGS)

benchmark: setup
	$(TRAIN)/python -m hpcseq benchmark

clean:
	rm -rf results logs benchmarks .snakemake
