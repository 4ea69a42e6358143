# MeterHub: `make demo` runs the embedded system, `make test` runs the whole suite.
# Both create .venv and install the project (editable, with its test extras) when needed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

# Trees that give the checkers one `meterhub` package (it is spread over core/, plugins/ and
# webapi/ by setup.cfg's package_dir): all of it for import-linter, the core alone for mypy.
IMPORT_TREE := build/import-tree
TYPE_TREE   := build/typecheck

.PHONY: demo test lint install clean

# Without Python's venv module (Debian ships it apart, as python3-venv) `python3 -m venv` fails
# half-way with a long message: stop before, in one line, unless .venv already works.
VENV_MISSING = $(shell $(BIN)/python -m pip --version >/dev/null 2>&1 \
	|| $(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1 || echo missing)

$(STAMP): setup.cfg pyproject.toml
	$(if $(VENV_MISSING),$(error Python's venv module is missing for $(PYTHON): install the python3-venv package (apt-get install python3-venv) and run make again))
	$(BIN)/python -m pip --version >/dev/null 2>&1 || { rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/meterhub demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	rm -rf $(IMPORT_TREE) $(TYPE_TREE)
	mkdir -p $(IMPORT_TREE)/meterhub $(TYPE_TREE)
	ln -s $(CURDIR)/core/* $(IMPORT_TREE)/meterhub/
	ln -s $(CURDIR)/plugins $(IMPORT_TREE)/meterhub/plugins
	ln -s $(CURDIR)/webapi $(IMPORT_TREE)/meterhub/webapi
	ln -s $(CURDIR)/client $(IMPORT_TREE)/meterhub/client
	ln -s $(CURDIR)/core $(TYPE_TREE)/meterhub
	PYTHONPATH=$(IMPORT_TREE) $(BIN)/lint-imports --no-cache
	$(BIN)/mypy

# The suite runs on SQLite, then the tests that touch the database run again on PostgreSQL when
# a server answers at METERHUB_TEST_PG_URL (default postgresql://postgres@127.0.0.1:5432/test).
# METERHUB_REQUIRE_POSTGRESQL=1 (set by .ci/run) turns a missing server into a failure.
# pytest-xdist runs TEST_WORKERS tests at a time, more than the cores, since many tests wait on
# sockets, subprocesses and servers; an idle worker takes tests queued for a busy one. Bytecode is
# written even where PYTHONDONTWRITEBYTECODE is set (into the ignored __pycache__ folders):
# otherwise every worker would rewrite the asserts of every test module again, and each of the
# many `meterhub` processes the tests start would compile the sources again.
TEST_WORKERS ?= 4
PYTEST := PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist worksteal

test: lint
	$(BIN)/python -m compileall -q -j 0 core plugins webapi client
	$(PYTEST)
	@if $(BIN)/python tests/pg_available.py; then \
		echo "== the tests that touch the database, on PostgreSQL =="; \
		METERHUB_TEST_DB=postgresql $(PYTEST); \
	elif [ -n "$$METERHUB_REQUIRE_POSTGRESQL" ]; then \
		echo "PostgreSQL is required (METERHUB_REQUIRE_POSTGRESQL) but does not answer"; exit 1; \
	else \
		echo "PostgreSQL does not answer: the PostgreSQL run was left out (.ci/run starts one)"; \
	fi

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .mypy_cache .hypothesis
