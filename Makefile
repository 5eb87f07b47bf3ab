# aiornot — run `make help` for the list of targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.stamp-setup
NODE_STAMP := node_modules/.stamp-npm
CHECKOV_VENV := .venv-checkov
CHECKOV_VERSION := 3.3.30
CHECKOV_STAMP := $(CHECKOV_VENV)/.stamp-$(CHECKOV_VERSION)
UV_VERSION := 0.13.9
UV := $(VENV)/bin/uv

CONFIG ?= configs/demo.yaml
ARTIFACTS ?= artifacts
CKPT ?= $(ARTIFACTS)/checkpoints/last.ckpt
BUNDLE ?= $(ARTIFACTS)/bundle
MODEL_URI ?= $(BUNDLE)
PORT ?= 8000
API_URL ?= http://127.0.0.1:$(PORT)
FRONTEND_PORT ?= 7860
STORE_PORT ?= 9001
STAGE ?= dev
SOURCE ?= demo
ARCH ?= x86_64

export WANDB_SILENT ?= true
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION ?= 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION ?= 1
export CDK_DISABLE_CLI_TELEMETRY ?= true

.PHONY: help setup test test-demo lint format demo validate train evaluate export publish serve frontend space image task-root requirements load-test bench \
        synth deploy destroy smoke clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*?## "} /^[a-zA-Z_-]+:.*?## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# torch goes through pip, which honours this machine's pip configuration (here, a local CPU
# wheel; uv would fetch the CUDA build); uv then installs the rest about 4x faster than pip.
# Bytecode is compiled at install on purpose: where PYTHONDONTWRITEBYTECODE is set (as on
# these machines) nothing is cached later, and every test subprocess would compile again.
$(STAMP): pyproject.toml constraints.txt
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip uv==$(UV_VERSION)
	$(PY) -m pip install --quiet -c constraints.txt torch
	$(UV) pip install --python $(PY) --quiet --compile-bytecode -c constraints.txt -e '.[dev]'
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# checkov gets its own venv: its pins clash with ours, and we only run it.
$(CHECKOV_STAMP): $(STAMP)
	@test -d $(CHECKOV_VENV) || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(UV) pip install --python $(CHECKOV_VENV)/bin/python --quiet --compile-bytecode checkov==$(CHECKOV_VERSION)
	@touch $@

# Debian packages some tests need: the browser test, and the daemonless image build and run.
# Installed as root via apt where missing; elsewhere those tests skip and say why.
SYSTEM_TOOLS := chromium chromedriver podman buildah runc debootstrap
SYSTEM_PACKAGES := chromium chromium-driver podman buildah runc debootstrap

setup: $(STAMP) $(NODE_STAMP) $(CHECKOV_STAMP) ## Create .venv, install Python and Node tools, and (as root, via apt) chromium, podman, buildah
	@(for tool in $(SYSTEM_TOOLS); do command -v $$tool >/dev/null || exit 1; done) || { \
	  [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; \
	} || echo "note: some of $(SYSTEM_TOOLS) are missing: the browser and image tests will skip"

# One process: the tests are CPU-bound, so two pytest-xdist workers on 2 cores took longer
# (602 s for all but the demo, whose 2-thread training stalls beside a neighbour). Running the
# full demo's stages in the background beside the suite was worse: its dataset build took
# 323 s instead of ~50 s, and the suite slowed as much. So the full-budget demo (5-10 min of
# training on 2 cores) is its own target, run by CI after `make test`.
test: setup ## Run the test suite, all but the full-budget demo (the slowest 15 tests are listed at the end)
	$(PY) -m pytest --durations=15 $(ARGS)

test-demo: setup ## The demo end to end at its full training budget: its examples, accuracy floors, Ctrl-C
	$(PY) -m pytest -m full_demo --durations=5 tests/e2e/test_demo.py $(ARGS)

lint: setup ## ruff, mypy, the import contracts, hadolint on the Dockerfile, checkov on the templates (checkov-baseline.yaml)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy lambda_fn infra ops app.py
	$(VENV)/bin/lint-imports
	$(VENV)/bin/hadolint lambda_fn/Dockerfile
	npx cdk synth --quiet --no-notices --output build/lint-cdk.out
	$(PY) -m tests.infra.checkov_findings build/lint-cdk.out

format: setup ## Format the code with ruff
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

demo: setup ## The main job, offline: data, train, evaluate, export, publish, then serve API + Gradio
	$(PY) -m ops.demo --port $(PORT) --ui-port $(FRONTEND_PORT) --store-port $(STORE_PORT) $(ARGS)

validate: setup ## Validate a dataset before training (SOURCE=demo|hub|parquet|folder DATA=path ARGS=--bad-rows=skip)
	$(PY) -m model_training.data.validate_cli --source $(SOURCE) $(if $(DATA),--path $(DATA)) $(ARGS)

train: setup ## Train (CONFIG=configs/demo.yaml; ARGS="--trainer.max_epochs=3" overrides any field)
	$(PY) -m model_training.cli fit --config $(CONFIG) $(ARGS)

evaluate: setup ## Evaluate CKPT on the held-out split: metrics.json and plots in ARTIFACTS/eval
	$(PY) -m model_training.evaluate --checkpoint $(CKPT) --out $(ARTIFACTS)/eval $(ARGS)

export: setup ## Export CKPT to a verified ONNX bundle in BUNDLE (ARGS="--int8")
	$(PY) -m model_training.export --checkpoint $(CKPT) --out $(BUNDLE) --overwrite \
	  $(if $(wildcard $(ARTIFACTS)/eval/metrics.json),--metrics $(ARTIFACTS)/eval/metrics.json) $(ARGS)

publish: setup ## Publish BUNDLE to s3://BUCKET/models/VERSION/ (ENDPOINT_URL= for S3-compatible stores)
	@test -n "$(BUCKET)" || { echo "usage: make publish BUCKET=my-bucket [BUNDLE=...]"; exit 2; }
	$(PY) -m model_training.registry publish $(BUNDLE) --bucket $(BUCKET) \
	  $(if $(ENDPOINT_URL),--endpoint-url $(ENDPOINT_URL))

serve: setup ## The API on 127.0.0.1:PORT (8000) serving MODEL_URI (a bundle dir or s3:// prefix)
	MODEL_URI=$(MODEL_URI) $(PY) -m uvicorn lambda_fn.app:app --host 127.0.0.1 --port $(PORT) --no-access-log

frontend: setup ## The Gradio app on 127.0.0.1:7860, pointed at `make serve` (API_URL=...)
	AIORNOT_API_URL=$(API_URL) GRADIO_SERVER_NAME=127.0.0.1 GRADIO_SERVER_PORT=$(FRONTEND_PORT) \
	  $(PY) -m frontend.app

space: setup ## Publish frontend/ to a Hugging Face Space (SPACE=user/name SPACE_API_URL=https://... ARGS=--dry-run)
	@test -n "$(SPACE)" || { echo "usage: make space SPACE=user/name SPACE_API_URL=https://... [ARGS=--dry-run]"; exit 2; }
	$(PY) -m ops.space publish $(SPACE) $(if $(SPACE_API_URL),--api-url $(SPACE_API_URL)) $(ARGS)

image: setup ## Build lambda_fn/Dockerfile without a daemon (buildah; a local stand-in base where the real one is absent)
	$(PY) -m ops.image build $(ARGS)

task-root: setup ## Assemble the Lambda task root without Docker (ARCH=x86_64|arm64) and report its size
	$(PY) -m ops.task_root --arch $(ARCH)

requirements: setup ## Re-pin lambda_fn/requirements.txt (with hashes) from lambda_fn/requirements.in
	$(VENV)/bin/pip-compile --allow-unsafe --generate-hashes --no-emit-find-links --no-emit-index-url \
	  --strip-extras --output-file=lambda_fn/requirements.txt lambda_fn/requirements.in

load-test: setup ## Loopback load test, 5,000 requests at concurrency 16 (ARGS=--test-bundle needs no training)
	$(PY) -m bench.load_test --model-uri $(MODEL_URI) $(ARGS)

bench: setup ## Benchmark ORT vs PyTorch (latency, crops x model per request, requests, cold start, size, throughput, training) -> docs/BENCHMARKS.md
	$(PY) -m bench --json build/bench-results.json $(ARGS)

synth: setup ## Synthesize the CDK app offline into cdk.out/ (cdk-nag runs; fails on findings)
	npx cdk synth --quiet --no-notices $(ARGS)

deploy: setup ## Deploy to AWS: MODEL=path/to/bundle [STAGE=dev|prod] [ARGS=--dry-run]
	@test -n "$(MODEL)" || { echo "usage: make deploy MODEL=path/to/bundle [STAGE=dev]"; exit 2; }
	$(PY) -m ops.deploy deploy --model $(MODEL) --stage $(STAGE) $(ARGS)

destroy: setup ## Remove a deployment [STAGE=dev|prod] (prod keeps bucket, repository, logs)
	$(PY) -m ops.deploy destroy --stage $(STAGE) $(ARGS)

smoke: setup ## Check a deployment or `make serve`: URL=... [KEY=...]
	@test -n "$(URL)" || { echo "usage: make smoke URL=https://.../dev/ [KEY=...]"; exit 2; }
	$(PY) -m ops.smoke $(URL) $(if $(KEY),--key $(KEY))

clean: ## Remove build outputs (keeps .venv and node_modules)
	rm -rf $(ARTIFACTS) build dist cdk.out *.egg-info .pytest_cache .ruff_cache .mypy_cache
