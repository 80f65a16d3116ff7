# ToggleMaster — the two commands are `make dev` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)

.PHONY: help dev test lint format unit fuzz migrate bench schemas openapi apply clean redrive \
	deploy undeploy lock

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ToggleMaster needs Python 3.11 or newer: install python3.11 and python3.11-venv")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { echo "cannot create a virtualenv: install python3-venv"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

dev: $(STAMP) ## start the whole stack locally (private PostgreSQL, Redis, moto) until Ctrl-C
	$(BIN)/python -m functions.devstack

test: $(STAMP) lint ## lint, types and the whole test suite against real servers
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: $(STAMP) ## ruff (lint and format check), mypy and the import contracts
	$(BIN)/ruff check functions tests
	$(BIN)/ruff format --check functions tests
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP) ## apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix functions tests
	$(BIN)/ruff format functions tests

unit: $(STAMP) ## the unit tests only (no servers)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/unit

fuzz: $(STAMP) ## a long fuzz campaign of every endpoint from its OpenAPI document (FUZZ_EXAMPLES=500)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-500} $(BIN)/python -m pytest -q -p no:cacheprovider \
		-o timeout=0 tests/e2e/test_fuzz.py

migrate: $(STAMP) ## apply sql/ migrations (to the make-dev stack, or DATABASE_URL)
	@if [ -z "$$DATABASE_URL$$AUTH_DATABASE_URL" ] && [ -f .run/dev.env ]; then . ./.run/dev.env; fi; \
	$(BIN)/python -m functions.commands.migrate

bench: $(STAMP) ## benchmarks, about 7 min (wrk): engine; evaluate vs hello, OFREP, SQS, cold starts; config files; analytics
	$(BIN)/python tests/bench/bench_engine.py
	$(BIN)/python tests/bench/bench_evaluate.py
	$(BIN)/python tests/bench/bench_config_files.py
	$(BIN)/python tests/bench/bench_analytics.py

redrive: $(STAMP) ## move the events' dead-letter queue back to its queue (make-dev stack, or AWS_SQS_URL) [SEAL_UNSIGNED=1]
	@if [ -z "$$AWS_SQS_URL" ] && [ -f .run/dev.env ]; then . ./.run/dev.env; fi; \
	$(BIN)/python -m functions.commands.redrive $(if $(SEAL_UNSIGNED),--seal-unsigned)

schemas: $(STAMP) ## regenerate the event JSON Schemas in events/
	$(BIN)/python -m functions.commands.schemas

openapi: $(STAMP) ## regenerate each function's OpenAPI description in functions/contracts/openapi/
	$(BIN)/python -m functions.commands.openapi

clean: ## remove everything the stack and the tools create: .run/ (the stack's data), .venv/, caches, builds
	rm -rf $(VENV) .run .mypy_cache .ruff_cache .pytest_cache .hypothesis .benchmarks \
		.import_linter_cache build dist *.egg-info
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

apply: $(STAMP) ## apply a configuration file: make apply FILE=flags.yaml [DRY_RUN=1]
	@test -n "$(FILE)" || { echo "usage: make apply FILE=flags.yaml [DRY_RUN=1]"; exit 2; }
	@if [ -f .run/dev.env ]; then . ./.run/dev.env; fi; \
	$(BIN)/python -m functions.commands.cli apply "$(FILE)" $(if $(DRY_RUN),--dry-run)

deploy: $(STAMP) ## ToggleMaster on EKS + Knative: make deploy DOMAIN=flags.example.com [LAYOUT=single-host] [DRY_RUN=1]
	$(BIN)/python -m functions.commands.deploy $(if $(DRY_RUN),--dry-run) \
		$(if $(DOMAIN),--domain "$(DOMAIN)") $(if $(LAYOUT),--layout "$(LAYOUT)") \
		$(if $(REGION),--region "$(REGION)") $(if $(STACK),--stack "$(STACK)")

undeploy: $(STAMP) ## remove ToggleMaster from the cluster [DELETE_STACK=1: the AWS resources and their data too]
	$(BIN)/python -m functions.commands.deploy --undeploy $(if $(DELETE_STACK),--delete-stack) \
		$(if $(REGION),--region "$(REGION)") $(if $(STACK),--stack "$(STACK)")

lock: $(STAMP) ## regenerate the image's lock file (knative/image/requirements.lock) from pyproject.toml [UPGRADE=1]
	$(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url \
		--no-emit-find-links $(if $(UPGRADE),--upgrade) --output-file knative/image/requirements.lock pyproject.toml
