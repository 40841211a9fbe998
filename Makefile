# Tack — the two commands: `make demo` and `make test`.
# Nothing else is needed on a fresh machine with Python 3.11.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST_ARGS ?=

# Local service URLs for `make test-services` (PostgreSQL + Redis mode).
SERVICES_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
SERVICES_REDIS_URL    ?= redis://127.0.0.1:6379/0

.PHONY: install demo serve test test-services fuzz lint format typecheck services schema messages lock clean

$(BIN)/.installed: requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e examples/tack-connector-example
	touch $@

install: $(BIN)/.installed

## Run Tack on its embedded default (SQLite, in-memory channels, eager Celery) with demo data.
demo: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo --url http://$(HOST):$(PORT)
	$(MAKE) --no-print-directory serve

serve: install
	$(BIN)/uvicorn config.asgi:application --host $(HOST) --port $(PORT) --lifespan off

## The test suite, on whatever DATABASE_URL / REDIS_URL say (none: the embedded default).
test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

## The same suite on PostgreSQL and Redis (started if they are down).
test-services: install services
	DATABASE_URL=$(SERVICES_DATABASE_URL) REDIS_URL=$(SERVICES_REDIS_URL) $(BIN)/python -m pytest -q $(PYTEST_ARGS)

## API fuzzing with many examples per operation (CI runs a few; this is the nightly size).
fuzz: install
	TACK_FUZZ_EXAMPLES=$${TACK_FUZZ_EXAMPLES:-200} $(BIN)/python -m pytest -q -s tests/gates/test_api_fuzz.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory typecheck

typecheck: install
	$(BIN)/mypy config core im lowcode connectors marketplace

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Soak: 1,000 WebSocket clients on two servers for 60 s, then zero lost / duplicated
## (drops and recreates the database tack_bench_soak, flushes Redis DB 12).
.PHONY: soak
soak: install services
	$(BIN)/python bench/soak.py

## Start local PostgreSQL and Redis when they are not running (Debian packages).
services:
	@scripts/services.sh

schema: install
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file var/openapi.yaml

messages: install
	$(BIN)/python manage.py makemessages -l zh_Hans --ignore=.venv --ignore=var
	$(BIN)/python manage.py compilemessages --ignore=.venv

lock:
	$(PYTHON) scripts/lock.py

clean:
	rm -rf $(VENV) var/tack.sqlite3* staticfiles
