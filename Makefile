# One command to run the portal (`make run`) and one to test it (`make test`).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
DEMO_WORKSPACE ?= demo/demo

.PHONY: run test install install-dev migrate lint clean

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

## run: the portal on http://127.0.0.1:$(PORT) with SQLite and a local artifact folder
run: migrate
	$(BIN)/python manage.py collectstatic --no-input --verbosity 0
	@echo
	@echo "Point the mlflow client at the demo workspace $(DEMO_WORKSPACE):"
	@PORT=$(PORT) $(BIN)/python manage.py mlflow_env $(DEMO_WORKSPACE)
	@echo
	@echo "Portal: http://127.0.0.1:$(PORT)/   (Ctrl-C stops it)"
	$(BIN)/gunicorn portal.wsgi --bind 127.0.0.1:$(PORT) --workers 2 --threads 4 \
		--access-logfile - --timeout 600

## test: the whole suite (DATABASE_URL/REDIS_URL select PostgreSQL and Redis)
test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) var

## bench-reference: the portal against the reference `mlflow server` on local PostgreSQL
## (BENCH_SCALE=small|full, BENCH_ARGS="--only ingest,search_runs --profile"); it recreates the
## databases portal_bench and mlflow_reference. See docs/PERFORMANCE.md, "Reference comparison".
BENCH_SCALE ?= small
.PHONY: bench-reference
bench-reference: install-dev
	$(BIN)/python -m bench.run --scale $(BENCH_SCALE) $(BENCH_ARGS)
