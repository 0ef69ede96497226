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
    from .lifecycle import OccurrenceOutcome, ScheduleState
    from .models import ScheduledSend, ScheduleOccurrence

__all__ = ["MESSAGES", "REASONS", "explain", "notify_editors", "notify_occurrence",
           "notify_schedule"]

log = logging.getLogger("letterpress.schedule")

# Subjects and bodies keyed by language ('fr' first), then by the state the send or occurrence
# ended in (the values of ScheduleState / OccurrenceOutcome that are announced).
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


# What happened, in the editors' language, keyed by reason.  The scheduler's own detail
# (English, with file names and counts, as the CLI shows it) follows as technical detail
# for the reasons listed in TECHNICAL.
REASONS: dict[str, dict[str, str]] = {
    "fr": {
        "late": "Le planificateur ne fonctionnait pas à l'heure prévue ({late} de retard, "
                "au-delà du délai de grâce de {grace} h). Rien n'a été envoyé. Pour l'envoyer "
                "malgré tout : letterpress schedule run-now {ref}",
        "changed": "Le numéro a été modifié après sa validation. Rien n'a été envoyé. "
                   "Vérifiez-le, puis programmez-le à nouveau avec --replace :\n"
                   "  letterpress schedule {path} --at \"AAAA-MM-JJ HH:MM\" --replace",
        "broken": "Le fichier {path} ne se construit plus. Rien n'a été envoyé.",
        "sent": "Tous les destinataires ont été traités.",
        "sent_uncertain": "L'envoi est allé jusqu'au bout, mais {uncertain} message(s) sont "
                          "incertains : ils avaient été remis au serveur quand l'envoi a été "
                          "interrompu, ou le serveur n'a jamais confirmé leur réception. Ils "
                          "sont peut-être arrivés, peut-être pas, et n'ont pas été renvoyés. "
                          "Pour les envoyer (au risque d'un doublon) :\n"
                          "  letterpress runs retry {run} --uncertain",
        "failed": "L'envoi n'a pas pu aller jusqu'au bout. Une fois la cause corrigée, "
                  "reprenez-le avec : letterpress schedule run-now {ref}",
        "no_ready": "Aucun numéro daté de {month} n'est marqué « status: ready ». "
                    "Rien n'a été envoyé.",
        "ambiguous": "Plusieurs numéros sont marqués prêts pour {month}. Rien n'a été "
                     "envoyé : n'en laissez qu'un, puis : letterpress schedule run-now {ref}",
        "own_schedule": "Ce numéro a sa propre programmation ({when}), qui prévaut sur la "
                        "règle mensuelle.",
        "already_sent": "Ce numéro a déjà été envoyé à cette liste. Rien n'a été envoyé.",
        "technical": "Détail technique :",
    },
    "en": {
        "late": "The scheduler was not running at the planned time ({late} late, beyond the "
                "grace period of {grace} h). Nothing was sent. To send it anyway: "
                "letterpress schedule run-now {ref}",
        "changed": "The issue changed after it was approved. Nothing was sent. Check it, "
                   "then schedule it again with --replace:\n"
                   "  letterpress schedule {path} --at \"YYYY-MM-DD HH:MM\" --replace",
        "broken": "The file {path} no longer builds. Nothing was sent.",
        "sent": "Every recipient has been handled.",
        "sent_uncertain": "The send went to the end, but {uncertain} message(s) are "
                          "uncertain: they had been handed to the server when the send was "
                          "interrupted, or the server never confirmed them. They may or may "
                          "not have arrived and were not sent again. To send them (a reader "
                          "may get two copies):\n  letterpress runs retry {run} --uncertain",
        "failed": "The send could not finish. Once the cause is fixed, continue it with: "
                  "letterpress schedule run-now {ref}",
        "no_ready": "No issue dated {month} is marked `status: ready`. Nothing was sent.",
        "ambiguous": "Several issues are marked ready for {month}. Nothing was sent: leave "
                     "one, then: letterpress schedule run-now {ref}",
        "own_schedule": "This issue has its own schedule ({when}), which takes precedence "
                        "over the monthly rule.",
        "already_sent": "This issue was already sent to this list. Nothing was sent.",
        "technical": "Technical detail:",
    },
}
TECHNICAL = ("broken", "failed", "no_ready", "ambiguous", "already_sent")


def explain(publication: Publication, reason: str | None, detail: str,
            params: Mapping[str, object] | None = None) -> str:
    """The body paragraph for ``reason`` in the publication's language, else ``detail``."""
    texts = REASONS.get(publication.language, REASONS["en"])
    if reason is None or reason not in texts:
        return detail
    text = texts[reason].format(**(params or {}))
    if reason in TECHNICAL and detail:
        text += f"\n\n{texts['technical']}\n{detail}"
    return text


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


def _compose(publication: Publication, outcome: ScheduleState | OccurrenceOutcome, *, what: str, list_name: str,
             planned: str, detail: str) -> tuple[str, str]:
    texts = _texts(publication)
    subject_t, body_t = texts.get(outcome, texts["failed"])
    values = {"slug": publication.slug, "name": publication.name, "what": what, "list": list_name, "planned": planned,
              "detail": detail}
    return subject_t.format(**values), body_t.format(**values) + texts["footer"][0]


def notify_schedule(project: Project, row: ScheduledSend, outcome: ScheduleState,
                    detail: str, *,
                    counts: Mapping[str, int] | None = None, reason: str | None = None,
                    params: Mapping[str, object] | None = None) -> bool:
    """Tell the editors what became of a one-off scheduled send."""
    publication = project.settings.publication(row.publication)
    planned = f"{row.planned_at.astimezone(publication.tz):%Y-%m-%d %H:%M %Z}"
    detail = explain(publication, reason, detail,
                     {"ref": row.id, "path": row.issue_path, **(params or {})})
    what = f"n°{row.issue_number} « {row.subject} »" if publication.language == "fr" \
        else f"#{row.issue_number} '{row.subject}'"
    subject, body = _compose(publication, outcome, what=what, list_name=row.list_name,
                             planned=planned, detail=_with_counts(detail, counts))
    return notify_editors(project, publication, subject, body + f"\n(schedule {row.id})\n")


def notify_occurrence(project: Project, publication: Publication, row: ScheduleOccurrence,
                      outcome: OccurrenceOutcome, detail: str, *,
                      counts: Mapping[str, int] | None = None, reason: str | None = None,
                      params: Mapping[str, object] | None = None) -> bool:
    """Tell the editors what became of an occurrence of the recurring rule."""
    planned = f"{row.planned_at.astimezone(publication.tz):%Y-%m-%d %H:%M %Z}"
    detail = explain(publication, reason, detail,
                     {"ref": f"R{row.id}", "path": row.issue_path or "", **(params or {})})
    what = f"{publication.name} ({row.occurrence_key})"
    subject, body = _compose(publication, outcome, what=what,
                             list_name=publication.default_list, planned=planned,
                             detail=_with_counts(detail, counts))
    return notify_editors(project, publication, subject, body + f"\n(occurrence R{row.id})\n")


def _with_counts(detail: str, counts: Mapping[str, int] | None) -> str:
    if not counts:
        return detail
    return detail + "\n\n" + "\n".join(f"  {k}: {v}" for k, v in counts.items())
