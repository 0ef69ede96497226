# letterpress — developer entry points.  `make demo` and `make test` work on a fresh
# Debian machine with Python 3.11: they create .venv, install the package and what the
# tests need (Chromium, PostgreSQL reachability, Postfix tools for benchmarks).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-fast bench lint system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

system-deps:
	bash scripts/system-deps.sh

## The main job on the embedded defaults: build issue #42 and send it to the demo
## subscribers through the outbox transport (./outbox/*.eml, open them with any mail client).
demo: $(STAMP)
	bash scripts/demo.sh

## The whole test suite, SQLite and PostgreSQL legs, browser tests included.
test: $(STAMP) system-deps
	$(BIN)/ruff check letterpress tests bench
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -x -q -m "not browser and not slow"

bench: $(STAMP)
	bash scripts/system-deps.sh --bench
	bash bench/run.sh

lint: $(STAMP)
	$(BIN)/ruff check letterpress tests bench

clean:
	rm -rf $(VENV) build outbox test-output bench/output subscribers.db*
