# The two commands a fresh machine needs: `make run` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Fixed values that let settings load with DEBUG off for checks that need no secrets.
CHECK_ENV := DEBUG=false SECRET_KEY=check TOKEN_ENCRYPTION_KEYS=ZGV2ZWxvcG1lbnQta2V5LW5vdC1mb3ItcHJvZC11c2U=

.PHONY: install run test lint format migrations-check bench ci

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m scripts.run_local

# Style, layer contracts, types, migrations, then the whole suite (browser tests included).
test: lint migrations-check
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports
	$(CHECK_ENV) $(PY) -m mypy

format: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

migrations-check: $(STAMP)
	$(CHECK_ENV) $(PY) manage.py makemigrations --check --dry-run

bench: $(STAMP)
	$(PY) -m bench.run $(BENCH_ARGS)

ci:
	bash .ci/run
