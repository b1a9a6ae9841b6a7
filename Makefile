# The two commands a fresh machine needs: `make run` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test test-fast lint format migrations-check bench ci cassettes

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m scripts.run_local

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	DEBUG=false SECRET_KEY=check TOKEN_ENCRYPTION_KEYS=ZGV2ZWxvcG1lbnQta2V5LW5vdC1mb3ItcHJvZC11c2U= \
		$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# Record the process_moves cassettes again against the sandbox (tests/sync/conftest.py).
cassettes: $(STAMP)
	RECORD_CASSETTES=1 $(PY) -m pytest tests/sync/test_recorded_traffic.py

bench: $(STAMP)
	$(PY) -m bench.run $(BENCH_ARGS)
