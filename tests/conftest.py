"""Shared fixtures: real components only.

* ``db_url`` / ``engine``: every database test runs twice, on SQLite (a file in tmp_path) and
  on PostgreSQL (a fresh database cloned from a migrated template).  The PostgreSQL leg is
  skipped — with the reason printed — only when no server answers on 127.0.0.1:5432
  (override with LETTERPRESS_TEST_PG_URL).
* ``smtp_server``: an aiosmtpd server on loopback that records what it receives and can be
  told to answer 4xx/5xx per recipient or to drop the connection.
* ``project_dir`` / ``project``: a copy of the repository's project (letterpress.toml,
  issues/, templates/mjml/) in tmp_path, pointed at the test database.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from letterpress.clock import FrozenClock
from letterpress.db import open_database, upgrade
from letterpress.project import Project
from letterpress.settings import load_settings

from .smtpd import SMTPTestServer

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get(
    "LETTERPRESS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TEST_OUTPUT = ROOT / "test-output"


# --------------------------------------------------------------------------- PostgreSQL leg

class _PostgresLeg:
    """Creates one migrated template database per test session; clones it per test."""

    def __init__(self) -> None:
        self.available: bool | None = None
        self.reason = ""
        self.template = f"lp_tmpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.created: list[str] = []
        self._admin = None

    def admin(self):
        if self._admin is None:
            self._admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT",
                                        pool_pre_ping=True)
        return self._admin

    def url_for(self, name: str) -> str:
        base = PG_ADMIN_URL.rsplit("/", 1)[0]
        return f"{base}/{name}"

    def ensure(self) -> None:
        if self.available is not None:
            return
        try:
            with self.admin().connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.template}"'))
            engine = open_database(self.url_for(self.template), auto_upgrade=False)
            upgrade(engine)
            engine.dispose()
            self.available = True
        except Exception as exc:  # noqa: BLE001 - any failure means "no PostgreSQL here"
            self.available = False
            self.reason = f"PostgreSQL unreachable at {PG_ADMIN_URL}: {exc.__class__.__name__}: {exc}"

    def fresh(self) -> str:
        self.ensure()
        if not self.available:
            pytest.skip(self.reason)
        name = f"lp_t_{uuid.uuid4().hex[:10]}"
        with self.admin().connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
        self.created.append(name)
        return self.url_for(name)

    def drop(self, name_or_url: str) -> None:
        name = name_or_url.rsplit("/", 1)[-1]
        with self.admin().connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def cleanup(self) -> None:
        if not self.available:
            return
        for name in self.created + [self.template]:
            with contextlib.suppress(Exception):  # best effort at session end
                self.drop(name)
        self.admin().dispose()


_PG = _PostgresLeg()


def pytest_sessionfinish(session, exitstatus):
    _PG.cleanup()


def pytest_terminal_summary(terminalreporter):
    if _PG.available is False:
        terminalreporter.write_line(f"NOTE: PostgreSQL leg skipped — {_PG.reason}", yellow=True)
    elif _PG.available:
        terminalreporter.write_line("PostgreSQL leg ran against " + PG_ADMIN_URL.rsplit("/", 1)[0])


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """A URL of an empty, migrated database: SQLite file, then PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'subscribers.db'}"
        engine = open_database(url)
        engine.dispose()
        yield url
    else:
        url = _PG.fresh()
        yield url
        _PG.drop(url)


@pytest.fixture
def engine(db_url):
    """An engine on the migrated test database."""
    engine = open_database(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database only (for tests that are about PostgreSQL itself)."""
    url = _PG.fresh()
    yield url
    _PG.drop(url)


# --------------------------------------------------------------------------- project

@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def project_dir(tmp_path) -> Path:
    """A copy of the repository's project files in a temporary directory."""
    dest = tmp_path / "project"
    dest.mkdir()
    shutil.copy(ROOT / "letterpress.toml", dest / "letterpress.toml")
    for folder in ("issues", "templates", "images"):
        if (ROOT / folder).exists():
            shutil.copytree(ROOT / folder, dest / folder)
    (dest / ".letterpress-secret").write_text("test-secret-key-" + "x" * 32 + "\n")
    return dest


@pytest.fixture
def project_env(db_url) -> dict[str, str]:
    """Environment that points a project at the test database (and nowhere else)."""
    return {"LETTERPRESS_DATABASE_URL": db_url, "LETTERPRESS_BASE_URL": "https://lettre.example.org"}


@pytest.fixture
def settings(project_dir, project_env):
    return load_settings(project_dir, project_env)


@pytest.fixture
def project(settings, clock):
    p = Project(settings, clock)
    yield p
    p.close()


# --------------------------------------------------------------------------- SMTP

@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1 (aiosmtpd), recording every message it accepts."""
    server = SMTPTestServer()
    server.start()
    yield server
    server.stop()


# --------------------------------------------------------------------------- browser

CHROMIUM = os.environ.get("LETTERPRESS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright (installed by scripts/system-deps.sh)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: run `make system-deps` (make test does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


# --------------------------------------------------------------------------- output

@pytest.fixture
def output_dir(request) -> Path:
    """test-output/<test name>/ for screenshots and artefacts a person may want to look at."""
    name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    path = TEST_OUTPUT / name
    path.mkdir(parents=True, exist_ok=True)
    return path
