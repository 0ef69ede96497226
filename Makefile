# letterpress — developer entry points.  `make demo` and `make test` work on a fresh
# Debian machine with Python 3.11: they create .venv, install the exact versions pinned (with
# their hashes) in requirements.lock, and what the tests need (Chromium, PostgreSQL
# reachability, Postfix tools, Dovecot, a DNS server) from Debian's packages.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := requirements.lock
# pip-tools lives in its own environment: it must not move the versions it is locking.
TOOLS  := .venv-tools
COMPILE = $(TOOLS)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
          --all-build-deps --no-emit-index-url --no-emit-find-links --extra test -o $(LOCK)

.PHONY: install demo test test-fast bench lint lock upgrade system-deps clean

# Installs from the lock only: --require-hashes refuses any file whose hash is not in it, and
# the project itself goes in without resolving anything (--no-deps, no build isolation).
$(STAMP): $(LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/pip check
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
	bash scripts/system-deps.sh
	bash bench/run.sh

lint: $(STAMP)
	$(BIN)/ruff check letterpress tests bench

$(TOOLS)/bin/pip-compile:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet pip-tools

## After a change to the dependencies in pyproject.toml: pin what it now needs, moving
## nothing else.
lock: $(TOOLS)/bin/pip-compile
	$(COMPILE) pyproject.toml
	rm -f $(STAMP)

## Move every pin to the newest version pyproject.toml allows, reinstall and run the suite;
## commit the new lock on its own once it passes.
upgrade: $(TOOLS)/bin/pip-compile
	$(COMPILE) --upgrade pyproject.toml
	rm -rf $(VENV)
	$(MAKE) test

clean:
	rm -rf $(VENV) $(TOOLS) build outbox test-output bench/output subscribers.db*
