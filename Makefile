# Relay: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install provision run test lint typecheck pytest fuzz audit clean docs docs-serve screenshots

install: $(STAMP)

# Pinned versions come from requirements.lock; the server and the SDK (sdk/, its own
# distribution relay-sdk) are installed editable on top of them without re-resolving.
$(STAMP): pyproject.toml sdk/pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e . -e ./sdk
	touch $(STAMP)

# `make run PORT=9000` serves on another port (else RELAY_PORT's, else 8000); the links
# Relay hands out follow it unless RELAY_PUBLIC_URL is set.
run: install
	$(BIN)/relay serve $(if $(PORT),--port $(PORT))

LINT_PATHS := src sdk/src tests tools $(wildcard bench)

lint: install
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

typecheck: install
	$(BIN)/mypy src sdk/src tools

# Programs the tests drive (Chromium and axe-core for the browser tests,
# redis-server for the shared limits; Redocly, openapi-typescript and
# openapi-python-client for the contract test; the PostgreSQL client when the suite
# runs on PostgreSQL): installed when missing, or one line saying how.
provision: install
	$(BIN)/python tools/provision.py chromium axe-core contract-tools redis-server $(if $(RELAY_TEST_DATABASE_URL),pg_isready)

# The suite runs on the embedded SQLite database, then again on PostgreSQL
# when RELAY_TEST_DATABASE_URL names one (.ci/run sets it); the second pass skips
# the tests whose outcome does not depend on the database. Tests run in parallel
# processes (pytest-xdist; TEST_WORKERS=0 for one process), each with a database of
# its own, except the one that stops PostgreSQL: it runs alone, last.
TEST_WORKERS ?= auto
PARALLEL := -n $(TEST_WORKERS) --maxprocesses 4
pytest: install provision
	env -u RELAY_TEST_DATABASE_URL $(BIN)/pytest $(PARALLEL)
	if [ -n "$$RELAY_TEST_DATABASE_URL" ]; then \
		$(BIN)/pytest $(PARALLEL) -m "not backend_independent and not stops_database" && \
		$(BIN)/pytest -m stops_database; \
	fi

test: lint typecheck docs pytest

# The documentation site (mkdocs.yml), built strictly into site/: a broken link, an
# anchor that does not exist or a page missing from the nav fails it. Its examples run
# in `make test` (tests/docs/).
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

docs-serve: install
	$(BIN)/mkdocs serve --dev-addr 127.0.0.1:8001

# The dashboard's pictures in docs/screenshots, from a seeded server (tools/screenshots.py).
screenshots: provision
	$(BIN)/python -m tools.screenshots

# A longer fuzzing run than the 200 examples per operation of `make test`.
fuzz: install
	RELAY_FUZZ_EXAMPLES=$${RELAY_FUZZ_EXAMPLES:-2000} $(BIN)/pytest tests/fuzz

# Known vulnerabilities in the pinned packages, from PyPI's advisory data
# (tools/audit_lock.py says why this is not plain pip-audit); .ci/run runs it.
audit:
	$(PYTHON) tools/audit_lock.py requirements.lock
	$(PYTHON) tools/audit_lock.py tools/contract/python-requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
