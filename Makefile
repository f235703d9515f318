# The two commands: `make run` and `make test`. Everything else is a step they use.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export KEDRO_DISABLE_TELEMETRY := true
export PYTHONUNBUFFERED := 1

.PHONY: install test run up down status bench clean

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

install: $(VENV)/.installed

test: install
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .stack build *.egg-info
