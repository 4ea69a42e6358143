# MeterHub: `make demo` runs the embedded system, `make test` runs the whole suite.
# Both create .venv and install the project (editable, with its test extras) when needed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint install clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/meterhub demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The suite runs on SQLite, then again on PostgreSQL when a server answers at
# METERHUB_TEST_PG_URL (default postgresql://postgres@127.0.0.1:5432/test).
# METERHUB_REQUIRE_POSTGRESQL=1 (set by .ci/run) turns a missing server into a failure.
test: lint
	$(BIN)/pytest -q -p no:cacheprovider
	@if $(BIN)/python tests/pg_available.py; then \
		echo "== the same suite on PostgreSQL =="; \
		METERHUB_TEST_DB=postgresql $(BIN)/pytest -q -p no:cacheprovider; \
	elif [ -n "$$METERHUB_REQUIRE_POSTGRESQL" ]; then \
		echo "PostgreSQL is required (METERHUB_REQUIRE_POSTGRESQL) but does not answer"; exit 1; \
	else \
		echo "PostgreSQL does not answer: the PostgreSQL run was left out (.ci/run starts one)"; \
	fi

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis
