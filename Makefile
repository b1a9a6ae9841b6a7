# The two commands a fresh machine needs: `make run` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# axe-core for the browser tests' accessibility checks, from npm (package-lock.json).
NODE_STAMP := node_modules/.installed
# Fixed values that let settings load with DEBUG off for checks that need no secrets.
CHECK_ENV := DEBUG=false SECRET_KEY=check TOKEN_ENCRYPTION_KEYS=ZGV2ZWxvcG1lbnQta2V5LW5vdC1mb3ItcHJvZC11c2U=

.PHONY: install run test faults lint format migrations-check bench ci superuser

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm not found; the browser tests need Node.js and npm (apt-get install npm)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

install: $(STAMP) $(NODE_STAMP)

run: $(STAMP)
	$(PY) -m scripts.run_local

# Style, layer contracts, types, migrations, then the whole suite (browser tests included).
test: lint migrations-check $(NODE_STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# The fault suite (tests/faults): real workers, Redis servers and the stand-ins, broken on purpose
# (kill -9, Redis and PostgreSQL cut, a full disk). It needs PostgreSQL, root (for a tmpfs) and
# redis-server; DATABASE_URL names the database whose test copy it uses.
FAULTS_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/moves_faults
faults: $(STAMP)
	DATABASE_URL=$${DATABASE_URL:-$(FAULTS_DATABASE_URL)} $(PY) -m pytest tests/faults -m faults $(PYTEST_ARGS)

# An operator account for /admin/ on the local database (the same settings as `make run`).
superuser: $(STAMP)
	DEBUG=true $(PY) manage.py migrate --noinput
	DEBUG=true $(PY) manage.py createsuperuser

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
