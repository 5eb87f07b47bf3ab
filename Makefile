# aiornot — run `make help` for the list of targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.stamp-setup
CONFIG ?= configs/demo.yaml
ARTIFACTS ?= artifacts
CKPT ?= $(ARTIFACTS)/checkpoints/last.ckpt
export WANDB_SILENT ?= true

.PHONY: help setup test lint format train evaluate demo clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*?## "} /^[a-zA-Z_-]+:.*?## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml constraints.txt
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

setup: $(STAMP) ## Create .venv and install everything (cheap when nothing changed)

test: setup ## Run the whole test suite
	$(PY) -m pytest

lint: setup ## ruff (lint and format check) and mypy on lambda_fn and infra
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy lambda_fn infra

format: setup ## Format the code with ruff
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

train: setup ## Train (CONFIG=configs/demo.yaml; ARGS="--trainer.max_epochs=3" to override)
	$(PY) -m model_training.cli fit --config $(CONFIG) $(ARGS)

evaluate: setup ## Evaluate a checkpoint on the held-out split (CKPT=...)
	$(PY) -m model_training.evaluate --checkpoint $(CKPT) --out $(ARTIFACTS)/eval $(ARGS)

demo: setup ## The main job, offline: build demo data, train, evaluate
	$(MAKE) --no-print-directory train CONFIG=configs/demo.yaml
	$(MAKE) --no-print-directory evaluate

clean: ## Remove build outputs (keeps .venv)
	rm -rf $(ARTIFACTS) build dist *.egg-info .pytest_cache .ruff_cache .mypy_cache
