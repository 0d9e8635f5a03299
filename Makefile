# Thin wrappers: every target creates .venv and installs first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 5000

.PHONY: install run test lint fmt pytest bench clean

$(STAMP): pyproject.toml package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	npm ci --silent --no-audit --no-fund
	touch $(STAMP)

# Compiled message catalogs are generated files: built here, never committed.
install: $(STAMP)
	$(BIN)/pybabel compile --statistics -d service/ui/translations 2>/dev/null || \
		$(BIN)/pybabel compile -d service/ui/translations

run: install
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/gunicorn --bind 127.0.0.1:$(PORT) --workers 1 --threads 8 wsgi:app

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

pytest: install
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint pytest

# Needs PostgreSQL and Redis on 127.0.0.1 (BENCH_PG_ADMIN, BENCH_REDIS_URL); not part of test.
BENCHES := bench/webhook_ack.py bench/routing_job.py bench/import_contacts.py bench/scale.py
bench: install
	@for f in $(BENCHES); do echo "== $$f"; $(BIN)/python $$f || exit 1; done

# Soak (bench/soak.py; not part of test or bench): gunicorn web and `flask worker` processes on
# PostgreSQL, a private redis-server and a fake Rocket.Chat, while a worker is SIGKILLed, Redis
# restarts empty and Rocket.Chat answers 500 to 10 % of calls. A few minutes on 2 cores;
# SOAK_ARGS="--customers 20 --messages 3" for a shorter run.
.PHONY: soak
soak: install
	$(BIN)/python bench/soak.py $(SOAK_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
