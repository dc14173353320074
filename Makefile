# The two commands a new machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install run test lint format messages bench-deps bench bench-client bench-revocation clean

$(STAMP): pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,otel]'
	# The client library, installed as any product installs it (its own distribution).
	$(PY) -m pip install --quiet -e 'clients/python[django,fastapi]'
	touch $(STAMP)

install: $(STAMP)

## Both services on the embedded default (SQLite): migrate, first admin (credentials
## printed), catalogue and demo organization, auth server :4000 and SaaS Admin :3002.
run: install
	$(PY) scripts/run_system.py

## The whole suite; PostgreSQL/Redis variants when AUTH_DATABASE_URL/REDIS_URL point at them.
test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy auth_server tests bench saas_admin scripts clients/python/src

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## Texts of the hosted pages and e-mails: extract them, update every catalogue.
messages: install
	$(VENV)/bin/pybabel extract --mapping babel.cfg --no-location --omit-header \
		--output auth_server/locale/messages.pot auth_server
	$(VENV)/bin/pybabel update --domain messages --input-file auth_server/locale/messages.pot \
		--output-dir auth_server/locale --no-fuzzy-matching --ignore-obsolete

## The bench extra (simplejwt, the comparison case; py-spy) for these targets only.
bench-deps: install
	$(PY) -m pip install --quiet -e '.[bench]'

bench: bench-deps
	$(PY) -m bench.auth_server

## SaaS Admin / client library: what authentication costs a DRF endpoint (about a minute).
bench-client: bench-deps
	$(PY) bench/auth_overhead.py

## Hybrid mode: logout -> refusal at a SaaS Admin replica, p50/p99, Redis and polling.
bench-revocation: install
	$(PY) bench/revocation_latency.py

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
