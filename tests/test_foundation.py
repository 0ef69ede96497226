"""The project foundation: settings, database legs, loopback SMTP, CLI entry point."""

import smtplib

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from letterpress import errors
from letterpress.cli import main
from letterpress.db import current_revision, head_revision
from letterpress.errors import ConfigError
from letterpress.settings import load_settings


def test_settings_env_overrides_toml(project_dir):
    env = {
        "LETTERPRESS_DATABASE_URL": "postgresql+psycopg://x@db/lp",
        "LETTERPRESS_SMTP_URL": "smtp://u:p@relay:587?tls=starttls",
        "LETTERPRESS_BASE_URL": "https://lettre.example.org/",
        "LETTERPRESS_SECRET_KEY": "new-key, old-key",
    }
    s = load_settings(project_dir, env)
    assert s.database_url == "postgresql+psycopg://x@db/lp"
    assert s.base_url == "https://lettre.example.org"
    assert s.secret_keys == ("new-key", "old-key")
    pvd = s.publication("pvd")
    assert s.transport_for(pvd).url == "smtp://u:p@relay:587?tls=starttls"


def test_several_publications(project_dir):
    s = load_settings(project_dir, {})
    assert set(s.publications) >= {"pvd", "acv"}
    assert s.publication().slug == "pvd"
    assert s.publication("acv").lists == ("acv", "acv-elus")
    assert s.publication("pvd").list_id == "pvd.lettres.anct.gouv.fr"
    assert s.publication("acv").theme.primary_color != s.publication("pvd").theme.primary_color
    with pytest.raises(ConfigError, match="unknown publication 'nope'"):
        s.publication("nope")


def test_default_database_is_subscribers_db_in_project(project_dir):
    s = load_settings(project_dir, {})
    assert s.database_url == f"sqlite:///{project_dir / 'subscribers.db'}"


def test_secret_generated_once_and_kept(tmp_path, project_dir):
    (project_dir / ".letterpress-secret").unlink()
    first = load_settings(project_dir, {}).secret_keys
    second = load_settings(project_dir, {}).secret_keys
    assert first == second and len(first[0]) >= 40


def test_unknown_config_key_is_reported(project_dir):
    cfg = project_dir / "letterpress.toml"
    cfg.write_text(cfg.read_text().replace("[publications.pvd.theme]", "[publications.pvd.theme]\ncolour = 1"))
    with pytest.raises(ConfigError, match="colour"):
        load_settings(project_dir, {})


def test_database_is_migrated_on_both_legs(engine):
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1


def test_loopback_smtp_server_records(smtp_server):
    with smtplib.SMTP(smtp_server.host, smtp_server.port) as s:
        s.sendmail("a@example.org", ["b@example.org"], b"Subject: hi\r\n\r\nbody\r\n")
    assert smtp_server.received[0].message["Subject"] == "hi"


def test_errors_all_derive_from_root():
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, errors.LetterpressError), name


def test_cli_help_works_outside_a_project(tmp_path):
    result = CliRunner().invoke(main, ["-C", str(tmp_path), "--help"])
    assert result.exit_code == 0 and "letterpress" in result.output


def test_cli_outside_a_project_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["-C", str(tmp_path), "settings"])
    assert result.exit_code == 1
    assert "no letterpress.toml" in result.output


def test_read_then_write_survives_a_concurrent_commit(engine):
    """A transaction that reads, then writes after another connection committed, must wait
    for the lock rather than fail with "database is locked" (SQLite WAL snapshot rule)."""
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS t_probe (n INTEGER)"))
    import threading

    errors = []
    with engine.connect() as first:
        tx = first.begin()
        first.execute(text("SELECT count(*) FROM t_probe")).scalar()

        def other():
            try:
                with engine.begin() as second:
                    second.execute(text("INSERT INTO t_probe VALUES (1)"))
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        thread = threading.Thread(target=other)
        thread.start()
        thread.join(0.5)  # on SQLite the other writer waits for our lock
        first.execute(text("INSERT INTO t_probe VALUES (2)"))
        tx.commit()
        thread.join(10)
    assert not errors
    with engine.connect() as conn:
        assert sorted(conn.execute(text("SELECT n FROM t_probe")).scalars()) == [1, 2]


def test_read_only_streams_do_not_block_writers(engine):
    from letterpress.db import read_only

    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS t_probe (n INTEGER)"))
    with read_only(engine).connect() as reader:
        reader.begin()
        reader.execute(text("SELECT count(*) FROM t_probe")).scalar()
        with engine.begin() as writer:  # would wait 30 s for the lock if the reader held it
            writer.execute(text("INSERT INTO t_probe VALUES (3)"))


def test_settings_columns_line_up(project_dir, project_env):
    result = CliRunner(env=project_env).invoke(main, ["-C", str(project_dir), "settings"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "LETTERPRESS_" in line]
    assert len(lines) > 10
    assert len({line.index("LETTERPRESS_") for line in lines}) == 1  # one column of variables
