# Herald: `make run` serves the API locally; `make test` runs the whole suite. Both set up everything.
SHELL := /bin/bash
# .python-version selects 3.13.0 through pyenv, for make, CI and a new user's shell alike.
PYTHON ?= python3.13
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 7071

TENANT ?= default
SCOPES ?= herald.read herald.write herald.admin

.PHONY: run test test-unit prepare stop lint typecheck emulators deps clean token redis-server chromium portal checkov svix1

$(VENV)/.installed: requirements.txt requirements-dev.txt scripts/install_worker_protos.py .python-version
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.13 is required ($(PYTHON) not found; with pyenv: pyenv install 3.13.0)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) scripts/install_worker_protos.py
	@touch $@

node_modules/.installed: package.json package-lock.json $(wildcard patches/*.patch)
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

local.settings.json: local.settings.example.json $(VENV)/.installed
	@test -f $@ || { cp $< $@; echo "created $@ from $<"; }
	@$(PY) scripts/dev_auth.py init

# The application portal (portal/, a Vite project with its own package.json): built into
# portal/dist/, which blueprints/portal.py serves at /api/portal/.
PORTAL_SOURCES := $(shell find portal/src portal/public portal/examples -type f 2>/dev/null) portal/index.html portal/vite.config.ts portal/tsconfig.json

portal/node_modules/.installed: portal/package.json portal/package-lock.json
	cd portal && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

portal/dist/index.html: portal/node_modules/.installed $(PORTAL_SOURCES)
	cd portal && npm run --silent build

portal: portal/dist/index.html

# Redis is only a test dependency (the rate-limit tests run against a real server).
redis-server:
	@command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; }

# The portal's browser tests drive Debian's Chromium (Playwright's own browser download cannot work here).
# After redis-server: the two apt-get runs would contend for dpkg's lock under `make -j`.
chromium: redis-server
	@{ command -v chromium && command -v chromedriver; } >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; }

deps: $(VENV)/.installed node_modules/.installed portal/dist/index.html

emulators: node_modules/.installed
	scripts/emulators.sh start

run: deps local.settings.json emulators
	@echo "Herald on http://localhost:$(PORT)/api/v1/health (Ctrl-C stops it; 'make stop' ends the emulators)"
	@echo "Portal on http://localhost:$(PORT)/api/portal/ (open the url app-portal-access returns;"
	@echo "  or, for development: http://localhost:$(PORT)/api/portal/#token=<make token>&app=<app id>)"
	@echo "Call it with a token from 'make token':"
	@echo "  curl -H \"Authorization: Bearer \$$(make -s token | tail -1)\" http://localhost:$(PORT)/api/v1/app"
	@if command -v func >/dev/null 2>&1; then func start --port $(PORT); \
	else $(PY) -m devhost --app function_app --port $(PORT); fi

# A development token for the local Herald: `make token TENANT=t1 SCOPES="herald.read"`.
token: local.settings.json
	@$(PY) scripts/dev_auth.py token --tenant "$(TENANT)" --scopes "$(SCOPES)"

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy .

# Static analysis of infra/ and .github/workflows (checkov in its own venv, .tools/checkov).
checkov:
	bash scripts/checkov.sh

# The svix 1.x SDK in a virtualenv of its own (.tools/svix1): the acceptance suite runs the same
# scenario with it as with the pinned 2.x SDK.
svix1:
	@bash scripts/svix1_venv.sh >/dev/null

# Everything the suite needs, set up side by side (independent steps; each names what it needs).
prepare: deps redis-server chromium emulators lint typecheck checkov svix1

test:
	@$(MAKE) --no-print-directory -j4 --output-sync=target prepare
	$(PY) -m pytest

# The offline loop: the test modules marked `pytestmark = pytest.mark.offline` (no emulator, server
# or network, and the mark is checked: a connection fails the test), in seconds. Only those files
# are collected, and the plugins only other tests use are not loaded: the loop pays for nothing else.
test-unit: $(VENV)/.installed
	$(PY) -m pytest -m offline -q -p no:hypothesispytest -p no:schemathesis -p no:anyio $$(grep -rl --include='test_*.py' '^pytestmark = pytest.mark.offline' tests devhost/tests)

stop:
	scripts/emulators.sh stop

clean: stop
	rm -rf .local .pytest_cache .mypy_cache .ruff_cache portal/dist
