"""Running ``letterpress -C DIR …`` in-process, as several test modules do."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner, Result

from letterpress.cli import main


def cli_runner(project_dir: Path, env: dict[str, str]) -> Callable[..., Result]:
    """``run(*args, ok=True)``: the command's result; with ``ok``, exit code 0 is asserted."""
    runner = CliRunner(env=env)

    def run(*args, ok=True) -> Result:
        result = runner.invoke(main, ["-C", str(project_dir), *args], catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output + result.stderr
        return result

    return run
