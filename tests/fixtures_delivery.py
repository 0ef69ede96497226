"""Fixtures for the delivery tests: a rendered issue, an audience, a real SMTP transport."""

from __future__ import annotations

from pathlib import Path

import pytest

from letterpress.audience import Consent, ensure_lists, subscribe
from letterpress.content import load_issue
from letterpress.render import render_issue
from letterpress.transports import SMTPTransport

__all__ = ["add_subscribers", "issue_path", "rendered", "smtp_transport"]

ISSUE = "issues/2024-12-pvd-42.yaml"


@pytest.fixture
def issue_path(project_dir) -> Path:
    return project_dir / ISSUE


@pytest.fixture
def rendered(project, issue_path):
    """Issue #42 of the reference publication, rendered once."""
    return render_issue(load_issue(issue_path, project.settings), project.settings)


@pytest.fixture
def add_subscribers(project):
    """``add_subscribers(n, list_name="pvd")`` → the addresses of n new active subscribers."""
    with project.session() as session:
        ensure_lists(session, project.settings)

    def add(n: int, list_name: str = "pvd", prefix: str = "lecteur", names: bool = True
            ) -> list[str]:
        emails = []
        with project.session() as session:
            for i in range(n):
                email = f"{prefix}{i:04d}@example.org"
                subscribe(session, email, list_name=list_name, clock=project.clock,
                          consent=Consent("import", "liste importée"),
                          name=f"Élu·e n°{i}" if names else None)
                emails.append(email)
        return emails

    return add


@pytest.fixture
def smtp_transport(smtp_server):
    """A one-connection SMTP transport to the loopback test server."""
    transport = SMTPTransport.from_url(smtp_server.url, pool=1)
    yield transport
    transport.close()
