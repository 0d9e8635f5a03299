# Thin wrappers: every target creates .venv and installs first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 5000

.PHONY: install run test lint fmt pytest bench mutation clean

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

# Mutation testing (docs/TESTING.md), not part of test: the rules and each provider's verify,
# against the fast SQLite tests that reach them ([tool.mutmut] in pyproject.toml); about 10
# minutes on 2 busy cores. Prints the killed share per module and the mutants left alive.
MUTATE := service/domain/routing.py service/domain/access.py service/domain/membership.py \
	service/domain/intake.py:claim service/domain/intake.py:accept \
	service/domain/intake.py:use_nonce service/domain/audit.py webhooks/signatures.py \
	webhooks/whatsapp.py:verify webhooks/twilio.py:verify webhooks/rocketchat.py:verify \
	webhooks/email/mailgun.py:verify webhooks/email/postmark.py:verify \
	webhooks/email/sendgrid.py:verify
MUTATION_JOBS ?= 2
mutation: install
	rm -rf mutants && mkdir mutants
	@start=$$(date +%s); \
	$(BIN)/mutmut run --max-children $(MUTATION_JOBS) $(foreach m,$(MUTATE),'$(subst /,.,$(basename $(firstword $(subst :, ,$(m))))).x$(if $(word 2,$(subst :, ,$(m))),_$(word 2,$(subst :, ,$(m))),*)__mutmut_*') \
		> mutants/run.log 2>&1 || { tail -c 3000 mutants/run.log; exit 1; }; \
	echo "mutmut run: $$(( $$(date +%s) - start )) s with $(MUTATION_JOBS) jobs (log: mutants/run.log)"
	$(BIN)/python tools/mutation_report.py $(MUTATE) $(MUTATION_ARGS)

clean:
	rm -rf mutants $(VENV) .pytest_cache .mypy_cache .ruff_cache
