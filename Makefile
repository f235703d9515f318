# The two commands: `make run` and `make test`. Everything else is a step they use.
#
#   make run     venv + install, stack up, seed the retailers, kedro run per seeded day, summary
#   make test    venv + install, the whole test suite
#   make up | status | down | summary    the local stack (python -m retail_pipeline.localstack)
#   make seed    seed the retailers only;  make bench    the benchmarks
#
# Overridable: make run DAYS=3 ROWS_PER_DAY=500 [START=2024-01-10 END=2024-01-16] SEED=7
# Ports come from the environment: RETAIL_PG_PORT RETAILER1_PORT RETAILER2_PORT RETAILER3_PORT
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export KEDRO_DISABLE_TELEMETRY := true
export PYTHONUNBUFFERED := 1

# Seeding for `make run`: the DAYS days ending END (default: yesterday in UTC), or START..END.
DAYS ?= 7
START ?=
END ?=
ROWS_PER_DAY ?= 2000
BAD_FRACTION ?= 0.02
LATE_FRACTION ?= 0.05
SEED ?= 42
STACK := $(BIN)/python -m retail_pipeline.localstack

.PHONY: install test run up down status summary seed kedro-days bench viz dag docker-env clean

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

install: $(VENV)/.installed

test: install
	$(BIN)/python -m pytest

up: install
	@$(STACK) up

down: install
	@$(STACK) down

status: install
	@$(STACK) status

summary: install
	@$(STACK) summary

# Seed the retailer databases for the run days (re-seeding a range replaces it).
seed: up
	@set -euo pipefail; \
	days=($$($(STACK) days --days '$(DAYS)' --start '$(START)' --end '$(END)')); \
	echo "Seeding $${days[0]} .. $${days[-1]}: $(ROWS_PER_DAY) rows/day/retailer, bad $(BAD_FRACTION), late $(LATE_FRACTION), seed $(SEED)"; \
	$(BIN)/python -m retailers seed --start "$${days[0]}" --end "$${days[-1]}" \
	  --rows-per-day $(ROWS_PER_DAY) --bad-fraction $(BAD_FRACTION) --late-fraction $(LATE_FRACTION) --seed $(SEED)

# kedro run for each day in order.
kedro-days: install
	@set -euo pipefail; \
	for day in $$($(STACK) days --days '$(DAYS)' --start '$(START)' --end '$(END)'); do \
	  echo "== kedro run --params run_date=$$day"; \
	  $(BIN)/kedro run --params run_date=$$day; \
	done

run: install up seed kedro-days
	@$(STACK) summary

bench: install
	$(BIN)/python -m benchmarks

# Production path (docs/production.md).
viz: install up
	$(BIN)/kedro viz run

dag: install
	KEDRO=$(BIN)/kedro airflow/generate_dag.sh

docker-env:
	$(PYTHON) docker/generate_env.py

clean:
	@if [ -x $(BIN)/python ]; then $(STACK) down || true; fi
	rm -rf $(VENV) .stack build *.egg-info
