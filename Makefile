# One command to run the portal (`make run`) and one to test it (`make test`).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
DEMO_WORKSPACE ?= demo/demo

CHROMIUM ?= /usr/bin/chromium

.PHONY: run test install install-dev migrate lint clean chromium screenshots bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/python manage.py migrate --no-input

## run: the portal on http://127.0.0.1:$(PORT) with SQLite, a local artifact folder and a
## Celery worker for background jobs (queued through a folder: no other server needed)
run: migrate
	$(BIN)/python manage.py collectstatic --no-input --verbosity 0
	@echo
	@echo "Point the mlflow client at the demo workspace $(DEMO_WORKSPACE):"
	@PORT=$(PORT) $(BIN)/python manage.py mlflow_env $(DEMO_WORKSPACE)
	@echo
	@echo "Portal: http://127.0.0.1:$(PORT)/   (Ctrl-C stops it)"
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/honcho start --no-colour -f Procfile -p $(PORT)

## chromium: the browser the browser tests drive (Debian's package; Playwright downloads none)
chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
		else echo "Browser tests need Chromium at $(CHROMIUM): sudo apt-get install chromium"; exit 1; fi; \
	fi

## test: the whole suite (DATABASE_URL/REDIS_URL select PostgreSQL and Redis)
test: install-dev chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## screenshots: docs/screenshots/*.png of the main pages, from the browser test's demo data
screenshots: install-dev chromium
	PORTAL_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest tests/browser -q

## bench: the portal pages' speed targets, on the PostgreSQL of DATABASE_URL (see docs/PERFORMANCE.md)
bench: install-dev
	$(BIN)/python bench/portal_pages.py

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) $(REFERENCE_VENV) var

## bench-reference: the portal against the reference `mlflow server` on local PostgreSQL
## (BENCH_SCALE=small|full, BENCH_ARGS="--only ingest,search_runs --profile"); it recreates the
## databases portal_bench and mlflow_reference. See docs/PERFORMANCE.md, "Reference comparison".
BENCH_SCALE ?= small
REFERENCE_VENV ?= .venv-reference
.PHONY: bench-reference

# The reference server's own venv: the full mlflow pins gunicorn below the portal's.
$(REFERENCE_VENV)/.installed: requirements-reference.txt
	$(PYTHON) -m venv $(REFERENCE_VENV)
	$(REFERENCE_VENV)/bin/pip install --quiet --upgrade pip
	$(REFERENCE_VENV)/bin/pip install --quiet -r requirements-reference.txt
	touch $@

bench-reference: install-dev $(REFERENCE_VENV)/.installed
	BENCH_REFERENCE_PYTHON=$(abspath $(REFERENCE_VENV))/bin/python \
		$(BIN)/python -m bench.run --scale $(BENCH_SCALE) $(BENCH_ARGS)
