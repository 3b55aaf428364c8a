# The two commands a newcomer needs: `make synth` and `make test`. Each bootstraps what it needs itself
# (a virtualenv with pinned packages, the pinned CDK CLI from npm) and never needs AWS credentials.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CDK := node_modules/.bin/cdk

# Offline and quiet: no telemetry, no notices, no instance-metadata probing, no jsii Node 20 banner.
export CDK_DISABLE_CLI_TELEMETRY := true
export AWS_EC2_METADATA_DISABLED := true
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Python's bytecode cache on, also where the environment turns it off (these machines set PYTHONDONTWRITEBYTECODE=1):
# without it every process (each pytest worker, the loop, each job) compiles the project's modules again, ~3 s of CPU
# per pytest worker.
export PYTHONDONTWRITEBYTECODE :=

.DEFAULT_GOAL := help
.PHONY: help install synth pipeline-definitions synth-release test lint format docs scan local-run local-run-shifted loop bench bench-ml bench-scale bench-ingest bench-serving bench-suite clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt requirements-dev.txt pipeline_code/requirements.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==25.3
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed node_modules/.installed  ## Create .venv and node_modules from the pinned versions

# The app only checks the committed pipeline definitions (a stale one stops it with the command to run): rebuilding
# them is this explicit step, which synth runs first. It costs nothing when they are fresh.
synth: install pipeline-definitions  ## Synthesize every environment (dev, staging, prod) into cdk.out/
	$(CDK) synth --quiet

pipeline-definitions: install  ## Render the data set contracts, rebuild stale SageMaker pipeline definitions (make synth runs it first)
	$(PY) -m config.dataset
	$(PY) -m pipeline_definition.generate

synth-release: install  ## Synthesize the GitOps release pipeline (needs the complete `release:` config section)
	$(CDK) synth --quiet -c release=true

test: install  ## Run the whole test suite (config, stacks, cdk-nag, cfn-lint, snapshots, ML steps, handlers, twin)
	$(PY) -m pytest -n auto

lint: install  ## ruff (lint + format check) and mypy
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

format: install  ## Apply ruff's formatting and safe fixes
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

docs: install  ## Regenerate docs/configuration.md from the config models (a test fails when it is stale)
	$(PY) -m config.reference

# checkov lives in its own virtualenv: its pinned dependencies conflict with the project's (requirements-scan.txt).
SCAN_VENV := .scan-venv
$(SCAN_VENV)/.installed: requirements-scan.txt
	test -x $(SCAN_VENV)/bin/python || $(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --no-deps -r requirements-scan.txt
	touch $@

scan: synth $(SCAN_VENV)/.installed  ## checkov over every synthesized template; fails on a finding not justified in the template
	$(SCAN_VENV)/bin/checkov --directory cdk.out --framework cloudformation --skip-download --compact --quiet

local-run: install  ## Run every ML step on the Adult data locally; artifacts in local-run/
	$(PY) -m pipeline_code.local_run --out local-run

local-run-shifted: install  ## The same on a shifted copy of the test data: shows drift being found
	$(PY) -m pipeline_code.local_run --out local-run --shift

loop: install  ## The whole MLOps loop of dev on a local moto twin (~45 s); timeline in loop-run/timeline.json
	$(PY) -m twin.loop --out loop-run

bench: install  ## Synth benchmark: make synth against a bare one-stack CDK app (figures printed, nothing asserted)
	$(PY) benchmarks/bench_synth.py

bench-suite: install  ## Test-suite benchmark: wall and CPU of `make test`'s command, 2 runs (~6 min; BASELINE=rev pairs it)
	$(PY) benchmarks/bench_suite.py $(if $(BASELINE),--baseline $(BASELINE))

bench-ml: install  ## ML benchmark: preprocess and drift at 1 M / 10 M rows vs pandas and Evidently (~5 min, 2.2 GB disk)
	$(PY) benchmarks/bench_ml_steps.py

bench-scale: install  ## Scale-out benchmark: preprocess and drift at 10 M rows on 1/2/4 local shards, merge cost (~15 min)
	$(PY) benchmarks/bench_scale_out.py

bench-ingest: install  ## PostgreSQL ingestion benchmark: rows/s and peak memory at 1 M and 2 M rows (~1 min)
	$(PY) benchmarks/bench_ingest.py

bench-serving: install  ## Serving benchmark: the model's handlers on raw records, 1 and 1,000 records a request (~1 min)
	$(PY) benchmarks/bench_serving.py

clean:  ## Remove build outputs (keeps .venv and node_modules)
	rm -rf cdk.out local-run .pytest_cache .mypy_cache .ruff_cache
