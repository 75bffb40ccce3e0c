# Herald: `make run` serves the API locally; `make test` runs the whole suite. Both set up everything.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 7071

.PHONY: run test stop lint typecheck unit emulators deps clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

local.settings.json: local.settings.example.json
	@test -f $@ || { cp $< $@; echo "created $@ from $<"; }

deps: $(VENV)/.installed node_modules/.installed

emulators: node_modules/.installed
	scripts/emulators.sh start

run: deps local.settings.json emulators
	@echo "Herald on http://localhost:$(PORT)/api/v1/health (Ctrl-C stops it; 'make stop' ends the emulators)"
	@if command -v func >/dev/null 2>&1; then func start --port $(PORT); \
	else $(PY) -m devhost --app function_app --port $(PORT); fi

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy .

test: deps emulators lint typecheck
	$(PY) -m pytest

stop:
	scripts/emulators.sh stop

clean: stop
	rm -rf .local .pytest_cache .mypy_cache .ruff_cache
