"""Mail to a publication's editors when a scheduled send finishes, fails, is missed or refused.

Written in the publication's language (the editors are its team).  A notification that cannot
be delivered is logged and never turns a successful send into a failure.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..project import Project
    from ..settings import Publication
    from ..transports import Transport
    from .models import ScheduledSend, ScheduleOccurrence

__all__ = ["MESSAGES", "notify_editors", "notify_occurrence", "notify_schedule"]

log = logging.getLogger("letterpress.schedule")

# Subjects and bodies keyed by language ('fr' first), then by outcome.
MESSAGES: dict[str, dict[str, tuple[str, str]]] = {
    "fr": {
        "done": ("[{slug}] Envoi programmé terminé : {what}",
                 "L'envoi programmé de {what} vers la liste « {list} » est terminé.\n\n{detail}\n"),
        "sent": ("[{slug}] Envoi programmé terminé : {what}",
                 "L'envoi programmé de {what} vers la liste « {list} » est terminé.\n\n{detail}\n"),
        "failed": ("[{slug}] ÉCHEC de l'envoi programmé : {what}",
                   "L'envoi programmé de {what} (prévu le {planned}) a échoué.\n\n{detail}\n"),
        "missed": ("[{slug}] Envoi programmé MANQUÉ : {what}",
                   "L'envoi prévu le {planned} n'a pas eu lieu.\n\n{detail}\n"),
        "refused": ("[{slug}] Envoi programmé REFUSÉ : {what}",
                    "L'envoi de {what} prévu le {planned} a été refusé : le contenu a changé "
                    "depuis sa validation.\n\n{detail}\n"),
        "skipped": ("[{slug}] Envoi programmé sans objet : {what}",
                    "Rien n'a été envoyé le {planned}.\n\n{detail}\n"),
        "footer": ("\n--\nMessage automatique de letterpress. Commandes utiles :\n"
                   "  letterpress schedule list\n  letterpress schedule show ID\n"
                   "  letterpress schedule run-now ID\n", ""),
    },
    "en": {
        "done": ("[{slug}] Scheduled send finished: {what}",
                 "The scheduled send of {what} to list '{list}' has finished.\n\n{detail}\n"),
        "sent": ("[{slug}] Scheduled send finished: {what}",
                 "The scheduled send of {what} to list '{list}' has finished.\n\n{detail}\n"),
        "failed": ("[{slug}] Scheduled send FAILED: {what}",
                   "The scheduled send of {what} (planned {planned}) failed.\n\n{detail}\n"),
        "missed": ("[{slug}] Scheduled send MISSED: {what}",
                   "The send planned {planned} did not happen.\n\n{detail}\n"),
        "refused": ("[{slug}] Scheduled send REFUSED: {what}",
                    "The send of {what} planned {planned} was refused: the content changed "
                    "after it was approved.\n\n{detail}\n"),
        "skipped": ("[{slug}] Scheduled send skipped: {what}",
                    "Nothing was sent on {planned}.\n\n{detail}\n"),
        "footer": ("\n--\nAutomatic message from letterpress. Useful commands:\n"
                   "  letterpress schedule list\n  letterpress schedule show ID\n"
                   "  letterpress schedule run-now ID\n", ""),
    },
}


def _texts(publication: Publication) -> Mapping[str, tuple[str, str]]:
    return MESSAGES.get(publication.language, MESSAGES["en"])


def notify_editors(project: Project, publication: Publication, subject: str, body: str, *,
                   transport: Transport | None = None) -> bool:
    """Mail ``publication.editors_email``; False (and a log line) when it could not be sent."""
    if not publication.editors_email:
        log.info("no editors_email for %s; notification not sent: %s", publication.slug, subject)
        return False
    try:
        # message/transports are imported here: a notification problem must never stop the
        # scheduler from loading.
        message = importlib.import_module("letterpress.message")
        transports = importlib.import_module("letterpress.transports")
        data = message.build_simple_message(publication, project.settings,
                                            publication.editors_email, subject, body)
        own = transport is None
        transport = transport or transports.transport_for(project.settings, publication)
        try:
            transport.send(publication.sender_email, [publication.editors_email], data)
        finally:
            if own:
                transport.close()
    except Exception as exc:  # noqa: BLE001 - logged; the send's own outcome is already recorded
        log.error("could not notify the editors of %s (%s): %s", publication.slug, subject, exc)
        return False
    log.info("notified %s: %s", publication.editors_email, subject)
    return True


def _compose(publication: Publication, outcome: str, *, what: str, list_name: str,
             planned: str, detail: str) -> tuple[str, str]:
    texts = _texts(publication)
    subject_t, body_t = texts.get(outcome, texts["failed"])
    values = {"slug": publication.slug, "name": publication.name, "what": what, "list": list_name, "planned": planned,
              "detail": detail}
    return subject_t.format(**values), body_t.format(**values) + texts["footer"][0]


def notify_schedule(project: Project, row: ScheduledSend, outcome: str, detail: str, *,
                    counts: Mapping[str, int] | None = None) -> bool:
    """Tell the editors what became of a one-off scheduled send."""
    publication = project.settings.publication(row.publication)
    planned = f"{row.planned_at.astimezone(publication.tz):%Y-%m-%d %H:%M %Z}"
    what = f"n°{row.issue_number} « {row.subject} »" if publication.language == "fr" \
        else f"#{row.issue_number} '{row.subject}'"
    subject, body = _compose(publication, outcome, what=what, list_name=row.list_name,
                             planned=planned, detail=_with_counts(detail, counts))
    return notify_editors(project, publication, subject, body + f"\n(schedule {row.id})\n")


def notify_occurrence(project: Project, publication: Publication, row: ScheduleOccurrence,
                      outcome: str, detail: str, *,
                      counts: Mapping[str, int] | None = None) -> bool:
    """Tell the editors what became of an occurrence of the recurring rule."""
    planned = f"{row.planned_at.astimezone(publication.tz):%Y-%m-%d %H:%M %Z}"
    what = f"{publication.name} ({row.occurrence_key})"
    subject, body = _compose(publication, outcome, what=what,
                             list_name=publication.default_list, planned=planned,
                             detail=_with_counts(detail, counts))
    return notify_editors(project, publication, subject, body + f"\n(occurrence R{row.id})\n")


def _with_counts(detail: str, counts: Mapping[str, int] | None) -> str:
    if not counts:
        return detail
    return detail + "\n\n" + "\n".join(f"  {k}: {v}" for k, v in counts.items())
