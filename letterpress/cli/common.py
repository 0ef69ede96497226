"""What every command shares: the project context, error conversion, shared options."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TextIO

import click

from ..errors import ContentError, LetterpressError
from ..project import Project

__all__ = ["IssueFile", "LetterpressGroup", "ProjectContext", "configure_logging",
           "force_option", "kept_file", "new_output_file", "pass_project",
           "publication_option"]


class ProjectContext(AbstractContextManager):
    """Opens the project only when a command needs it, so --help works anywhere."""

    def __init__(self, project_dir: str):
        self.project_dir = project_dir
        self._project: Project | None = None

    @property
    def project(self) -> Project:
        if self._project is None:
            self._project = Project.load(self.project_dir)
        return self._project

    def __exit__(self, *exc) -> None:
        if self._project is not None:
            self._project.close()


pass_context = click.make_pass_decorator(ProjectContext)


def pass_project(f):
    """Pass the loaded :class:`Project` as the command's first argument."""

    @pass_context
    def wrapper(pctx: ProjectContext, *args, **kwargs):
        return f(pctx.project, *args, **kwargs)

    return click.decorators.update_wrapper(wrapper, f)


class IssueFile(click.ParamType):
    """An issue file argument, found by :func:`~letterpress.content.loader.issue_file_path`:
    absolute as is, relative under the current directory, else under the project (``-C``).

    ``must_exist``: a file found nowhere is a usage error (exit 2) naming both places tried;
    otherwise the command itself reports it (e.g. ``check`` lists it with the other files).
    """

    name = "ISSUE.yaml"

    def __init__(self, must_exist: bool = True):
        self.must_exist = must_exist

    def convert(self, value, param, ctx) -> Path:
        from ..content.loader import issue_file_path  # pydantic: not for `--help`

        pctx = ctx.find_object(ProjectContext) if ctx is not None else None
        project_dir = Path(pctx.project_dir if pctx is not None else ".").resolve()
        path = issue_file_path(value, project_dir)
        if path.is_dir():
            self.fail(f"{str(value)!r} is a folder, not an issue file", param, ctx)
        if self.must_exist and not path.exists():
            where = "" if path.is_absolute() else (
                f" (looked in the current directory and in {project_dir})")
            self.fail(f"file {str(value)!r} does not exist{where}", param, ctx)
        return path


def publication_option(f):
    """``--publication/-p SLUG`` (default: the first publication of letterpress.toml)."""
    return click.option("-p", "--publication", "publication", default=None, metavar="SLUG",
                        help="Publication slug from letterpress.toml (default: the first).")(f)


def force_option(f):
    """``--force``: replace an existing output file (see :func:`kept_file`)."""
    return click.option("--force", is_flag=True,
                        help="Replace the output file if it exists.")(f)


def new_output_file(path: str | Path, *, force: bool = False, forceable: bool = True) -> Path:
    """``path`` checked for writing a new file, before any work is done: its folder exists,
    and nothing is there unless ``force`` (raises :class:`click.ClickException`, which
    mentions --force where the command has one: ``forceable``)."""
    target = Path(path)
    if not target.parent.is_dir():
        raise click.ClickException(f"{target.parent}: no such folder")
    if target.exists() and not force:
        hint = ", or add --force to replace it" if forceable else ""
        raise click.ClickException(f"{target} exists: choose another file name{hint}")
    return target


@contextmanager
def kept_file(path: str | Path, *, force: bool, encoding: str = "utf-8") -> Iterator[TextIO]:
    """Write a file people keep (an export of personal data): an existing ``path`` is
    refused unless ``force`` (it may be the only copy of an earlier export), and the text
    goes to a temporary file in the same folder, renamed over ``path`` only once complete —
    an export that fails halfway leaves neither a half file nor a damaged earlier one.  The
    file is readable by its owner only (mode 0600, mkstemp's): it holds personal data.

    Raises :class:`click.ClickException` for an existing file without ``force``, or a
    folder that does not exist.
    """
    target = new_output_file(path, force=force)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                     suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline="") as fh:
            yield fh
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def configure_logging(verbose: bool = False) -> None:
    """Log lines on stderr for the long-running commands (scheduler, serve)."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:
        for noisy in ("apscheduler", "alembic"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def report_content_error(error: ContentError) -> None:
    for problem in error.problems:
        click.echo(str(problem), err=True)
    n = len(error.problems)
    click.echo(f"{n} problem{'s' if n != 1 else ''} found.", err=True)


class LetterpressGroup(click.Group):
    """A group whose commands turn library errors into a message and exit code 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ContentError as exc:
            report_content_error(exc)
            sys.exit(1)
        except LetterpressError as exc:
            raise click.ClickException(str(exc)) from None
        except BrokenPipeError:
            # `letterpress runs | head -1`: the reader has what it wanted.  Point stdout at
            # /dev/null so the flush at exit does not fail again (Python's documented recipe).
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(0)
        except OSError as exc:
            # A file or folder that cannot be written, a port already in use: the system's
            # own words, without a traceback.
            where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
            raise click.ClickException(f"{where}{exc.strerror or exc}") from None
