"""Fixtures for the scheduler tests: issue files written on the fly, subscribers, outbox mail."""

from __future__ import annotations

from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from pathlib import Path

from letterpress.audience import Consent, ensure_lists, subscribe

ISSUE_TEMPLATE = """\
publication: {publication}
number: {number}
date: {date}
subject: "{subject}"
status: {status}
intro: "Bonjour, voici la lettre du mois."
sections:
  - type: texte
    title: "Le mot de l'équipe"
    text: |
      {text}
"""


def write_issue(project_dir: Path, *, number: int = 43, when: date = date(2025, 1, 14),
                status: str = "ready", subject: str = "La lettre de janvier",
                text: str = "Un texte court.", publication: str = "pvd",
                name: str | None = None) -> Path:
    """Write a small valid issue in the project's issues folder and return its path."""
    path = project_dir / "issues" / (name or f"{when:%Y-%m}-{publication}-{number}.yaml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(ISSUE_TEMPLATE.format(publication=publication, number=number,
                                          date=when.isoformat(), subject=subject,
                                          status=status, text=text), encoding="utf-8")
    return path


def clear_issues(project_dir: Path) -> Path:
    """Remove the repository's sample issues from a project copy: tests write their own."""
    folder = project_dir / "issues"
    folder.mkdir(exist_ok=True)
    for path in list(folder.glob("*.y*ml")):
        path.unlink()
    return folder


def add_subscribers(project, count: int, *, list_name: str = "pvd",
                    prefix: str = "lecteur") -> list[str]:
    """``count`` active subscribers on ``list_name``; returns their addresses."""
    emails = [f"{prefix}{i}@example.org" for i in range(count)]
    with project.session() as session:
        ensure_lists(session, project.settings)
        for email in emails:
            subscribe(session, email, list_name=list_name,
                      consent=Consent(source="admin", text="test"), clock=project.clock)
    return emails


def outbox_mail(settings) -> list:
    """Every message the outbox transport wrote (notifications go there in tests)."""
    folder = Path(settings.outbox_dir)
    if not folder.exists():
        return []
    return [message_from_bytes(p.read_bytes(), policy=policy.SMTP)
            for p in sorted(folder.rglob("*.eml"))]


def notifications(settings, publication: str = "pvd") -> list:
    """Mail sent to the editors of ``publication``."""
    editors = settings.publication(publication).editors_email
    return [m for m in outbox_mail(settings) if editors in str(m.get("To", ""))]


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)
