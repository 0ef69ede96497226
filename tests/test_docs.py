"""The README documents every command and every setting, and every command explains itself."""

from pathlib import Path

import click
import pytest

from letterpress.cli import main
from letterpress.settings import PROJECT_SETTINGS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        yield path, command
        if isinstance(command, click.Group):
            yield from _commands(command, path)


COMMANDS = list(_commands(main))


@pytest.mark.parametrize("path,command", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_command_has_help(path, command):
    assert (command.help or "").strip(), f"letterpress {' '.join(path)} has no help text"
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert (param.help or "").strip() or param.is_flag and param.name == "help", (
                f"letterpress {' '.join(path)} {param.opts[0]} has no help text")


@pytest.mark.parametrize("path,command", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_command_is_in_readme(path, command):
    assert f"letterpress {' '.join(path)}" in README, f"README does not mention letterpress {' '.join(path)}"


@pytest.mark.parametrize("setting", PROJECT_SETTINGS, ids=[s.name for s in PROJECT_SETTINGS])
def test_setting_is_in_readme(setting):
    assert setting.name in README and setting.env in README


def test_readme_starts_with_the_two_commands():
    head = README[:600]
    assert "make demo" in head and "make test" in head
