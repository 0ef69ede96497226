"""The report of a run of a project: its publication's settings and time zone applied."""

from __future__ import annotations

from ..delivery.runs import get_run
from .figures import RunFigures, run_figures

__all__ = ["report_for"]


def report_for(project, run_id: int) -> RunFigures:
    """The figures of run ``run_id`` of ``project`` now (raises SendRunNotFound)."""
    with project.read_session() as session:
        run = get_run(session, run_id)
        pub = project.settings.publications.get(run.publication)
        return run_figures(session, run_id, now=project.clock.now(),
                           tz=pub.tz if pub else None,
                           click_stats=bool(pub and pub.click_stats),
                           open_stats=bool(pub and pub.open_stats))
