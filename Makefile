# The two commands: `make run` and `make test`. Everything else is a step they use or a way in.
#
#   make run     venv + install, stack up, seed the retailers, kedro run per seeded day, summary
#   make test    venv + install, the whole test suite (as CI runs it)
#   make test-fast   the tests that need no stack: units and pipelines on in-memory catalogs
#   make up | status | down | summary    the dev stack (python -m retail_pipeline.devstack)
#   make seed    seed the retailers only;  make bench    the benchmarks
#   make psql [SQL="..."]   psql on the warehouse as the read-only BI role
#   make viz     kedro-viz on RETAIL_VIZ_PORT (4141);  make lab    JupyterLab on RETAIL_LAB_PORT (8888)
#   make compose   docker-compose.yml, .env.example, docker/kedro/credentials.yml from the registry
#   make clean   stop the stack and delete everything `make run` made (it says what it keeps)
#
# Overridable: make run DAYS=3 ROWS_PER_DAY=500 [START=2024-01-10 END=2024-01-16] SEED=7
# The retailers are the entries of conf/base/retailers.yml. Ports and state folders come from the
# environment (README, Configuration): RETAIL_PG_PORT, RETAILER1_PORT.. (<CODE>_PORT per retailer),
# RETAIL_STACK_DIR, RETAIL_CONF_LOCAL, RETAIL_LOGS_DIR.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export KEDRO_DISABLE_TELEMETRY := true
export PYTHONUNBUFFERED := 1

# Seeding for `make run`: the DAYS days ending END (default: yesterday in UTC), or START..END.
# A range over 31 days is refused unless confirmed with YES=1.
DAYS ?= 7
START ?=
END ?=
ROWS_PER_DAY ?= 2000
BAD_FRACTION ?= 0.02
LATE_FRACTION ?= 0.05
SEED ?= 42
STACK := $(BIN)/python -m retail_pipeline.devstack
RETAIL_VIZ_PORT ?= 4141
RETAIL_LAB_PORT ?= 8888
JUPYTERLAB := jupyterlab==4.6.6
# Local state, as the stack finds it (devstack/config.py).
STACK_DIR := $(or $(RETAIL_STACK_DIR),.stack)
CONF_LOCAL := $(or $(RETAIL_CONF_LOCAL),conf/local)
LOGS_DIR := $(or $(RETAIL_LOGS_DIR),logs)

.PHONY: install test test-fast run up down status summary seed kedro-days bench psql viz lab dag compose docker-env clean

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

install: $(VENV)/.installed

test: install
	$(BIN)/python -m pytest

# No stack, no servers: what a change should pass before `make test` (under a minute).
test-fast: install
	$(BIN)/python -m pytest -m "not stack" -q

up: install
	@$(STACK) up

down: install
	@$(STACK) down

# A report, not a check: it exits 0 whatever it finds (scripts use
# `python -m retail_pipeline.devstack status`, which exits 3 when a part is down).
status: install
	@$(STACK) status || [ $$? -eq 3 ]  # 3: some part is down (shown), not an error

summary: install
	@$(STACK) summary

# Seed every registry retailer's database for the run days (re-seeding a range replaces it).
seed: up
	@set -euo pipefail; \
	days=($$($(STACK) days --days '$(DAYS)' --start '$(START)' --end '$(END)' $(if $(YES),--yes))); \
	echo "Seeding $${days[0]} .. $${days[-1]}: $(ROWS_PER_DAY) rows/day/retailer, bad $(BAD_FRACTION), late $(LATE_FRACTION), seed $(SEED)"; \
	$(STACK) seed --start "$${days[0]}" --end "$${days[-1]}" \
	  --rows-per-day $(ROWS_PER_DAY) --bad-fraction $(BAD_FRACTION) --late-fraction $(LATE_FRACTION) --seed $(SEED)

# kedro run for each day in order; each prints one line (the log is in logs/kedro.log).
kedro-days: install
	@set -euo pipefail; \
	days=($$($(STACK) days --days '$(DAYS)' --start '$(START)' --end '$(END)' $(if $(YES),--yes))); \
	for day in "$${days[@]}"; do \
	  $(BIN)/kedro run --params run_date=$$day; \
	done

run: install up seed kedro-days
	@$(STACK) summary

bench: install
	$(BIN)/python -m benchmarks

# psql as bi_reader (SELECT only) with the running stack's port (state.json; else RETAIL_PG_PORT)
# and password file; SQL="..." runs one statement.
psql: export PSQL_STATEMENT = $(SQL)
psql: install
	@PGPASSFILE='$(STACK_DIR)/pgpass' "$$($(BIN)/python -c 'from retail_pipeline.devstack.postgres import bin_dir; print(bin_dir())')/psql" \
	  -h 127.0.0.1 -p "$$($(BIN)/python -c 'import json, os, sys; f = sys.argv[1]; print(json.load(open(f))["postgres"]["port"] if os.path.exists(f) else os.environ.get("RETAIL_PG_PORT", 5432))' '$(STACK_DIR)/state.json')" \
	  -U bi_reader retail_analytics $(if $(SQL),-c "$$PSQL_STATEMENT")

# Production path (docs/production.md).
viz: install up
	$(BIN)/kedro viz run --host 127.0.0.1 --port $(RETAIL_VIZ_PORT)

# JupyterLab (installed on first use) with the project's Kedro kernel; notebooks/ holds the notebooks.
lab: install up
	@$(BIN)/python -c 'import jupyterlab' 2>/dev/null || $(BIN)/python -m pip install --quiet '$(JUPYTERLAB)'
	$(BIN)/kedro jupyter lab --ip 127.0.0.1 --port $(RETAIL_LAB_PORT) --notebook-dir notebooks \
	  $(if $(filter 0,$(shell id -u)),--allow-root)

dag: install
	KEDRO=$(BIN)/kedro airflow/generate_dag.sh

# The docker files that follow the registry; a test fails when the committed ones differ.
compose: install
	@$(STACK) compose

docker-env:
	$(PYTHON) docker/generate_env.py

# Everything `make run`, `make test`, `make dag` and the notebooks leave behind, then what is kept.
clean:
	@if [ -x $(BIN)/python ]; then $(STACK) down || true; fi
	rm -rf $(VENV) $(VENV)-airflow '$(STACK_DIR)' .viz build .pytest_cache src/*.egg-info
	rm -f '$(CONF_LOCAL)/credentials.yml' '$(LOGS_DIR)'/retailer_*.log logs/*.log*
	find data -type f ! -name .gitkeep -delete && find data -mindepth 2 -type d -empty -delete
	find . -path ./.git -prune -o \( -name __pycache__ -o -name .ipynb_checkpoints \) -type d -prune -exec rm -rf {} +
	@kept=$$( { ls -d .env conf/*/credentials*.yml 2>/dev/null; find conf/local -type f ! -name .gitkeep; } | sort -u | tr '\n' ' '); \
	if [ -n "$$kept" ]; then echo "Clean. Kept what make run did not make (your secrets and settings): $$kept"; \
	else echo "Clean: the next make run starts from scratch."; fi
