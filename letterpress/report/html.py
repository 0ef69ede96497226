"""The report of a send run as one self-contained HTML page (SVG charts inside, nothing
loaded from anywhere: it can be mailed, archived or opened offline)."""

from __future__ import annotations

from datetime import datetime

from markupsafe import Markup, escape

from .charts import (
    Chart,
    clicks_per_day_chart,
    clicks_per_link_chart,
    deliveries_chart,
    growth_charts,
    providers_chart,
)
from .figures import COMPLAINT_LIMIT, RunFigures
from .series import delivery_timeline, list_growth
from .text import percent

__all__ = ["chart_figure", "report_body", "report_charts", "report_page", "summary_rows"]

CSS = """
body{font-family:Marianne,Arial,Helvetica,sans-serif;color:#1e1e1e;margin:0;background:#f5f5fe}
main{max-width:920px;margin:0 auto;padding:16px;background:#fff}
h1{color:#000091;font-size:1.6rem}h2{color:#000091;border-bottom:2px solid #e1000f;padding-bottom:4px}
table{border-collapse:collapse;width:100%;margin:8px 0}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}
.cards{display:flex;flex-wrap:wrap;gap:8px}.card{flex:1 1 130px;border:1px solid #ddd;padding:8px}
.card b{display:block;font-size:1.5rem;color:#000091}.alert{color:#b00020;font-weight:bold}
figure{margin:16px 0}figure img,figure svg{width:100%;height:auto;max-width:860px}
.muted{color:#555;font-size:.9rem}td.url{word-break:break-all;text-align:left}
"""


def report_charts(session, figures: RunFigures, *, now: datetime) -> list[Chart]:
    """The charts of a run's report (the click charts only when clicks were counted)."""
    charts = [deliveries_chart(delivery_timeline(session, figures.run_id)),
              providers_chart(figures)]
    if figures.click_stats or figures.clicks.total or figures.clicks.scanner:
        charts += [clicks_per_link_chart(figures), clicks_per_day_chart(figures)]
    charts += growth_charts(list_growth(session, figures.list_name, now=now))
    return charts


def summary_rows(f: RunFigures) -> list[tuple[str, str]]:
    """(label, value) of the headline figures, in French."""
    return [
        ("Destinataires", str(f.total)), ("Envoyés", str(f.sent)),
        ("Différés", str(f.deferred)), ("Échoués", str(f.failed)),
        ("Incertains", str(f.n("uncertain"))), ("Ignorés (désinscrits entre-temps)",
                                                 str(f.n("skipped"))),
        ("Rejets définitifs (hard bounces)",
         f"{f.bounces.total} (pendant l'envoi {f.bounces.synchronous}, signalés ensuite "
         f"{f.bounces.asynchronous})"),
        ("Rejets temporaires signalés ensuite (soft bounces)", str(f.bounces.soft)),
        ("Plaintes pour spam", str(f.complaints)),
        ("Retours traités (DSN, ARF, webhooks)",
         f"{sum(f.bounces.outcomes.values())} (définitifs {f.bounces.outcomes['hard']}, "
         f"temporaires {f.bounces.soft}, plaintes {f.bounces.outcomes['complaint']}, "
         f"politique d'expéditeur {f.bounces.sender_rejections})"),
        ("Refus de l'expéditeur par la politique du destinataire (problème d'expéditeur : "
         "SPF, DKIM, DMARC, réputation — pas un rejet du lecteur)",
         str(f.bounces.sender_rejections)),
        ("Désinscriptions", str(f.unsubscribes)),
        ("Nouvelles inscriptions à la liste", str(f.new_subscriptions)),
        ("Taux de plaintes", f"{percent(f.complaint_rate, 3)} (limite Gmail/Yahoo "
                             f"{percent(COMPLAINT_LIMIT, 1)})"),
        ("Taux de rejets définitifs", percent(f.bounce_rate)),
        ("Taux de désinscription", percent(f.unsubscribe_rate)),
    ]


def _table(rows: list[tuple[str, ...]], url_column: int | None = None) -> Markup:
    head, *body = rows
    out = ["<table><thead><tr>", *(f"<th scope=col>{escape(h)}</th>" for h in head),
           "</tr></thead><tbody>"]
    for row in body:
        out.append("<tr>")
        for i, cell in enumerate(row):
            cls = ' class="url"' if i == url_column else ""
            out.append(f"<td{cls}>{escape(cell)}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return Markup("".join(out))


def chart_figure(chart: Chart, *, inline: bool) -> Markup:
    """A chart with its caption and data table; inline SVG, or an image for strict CSPs."""
    if inline:
        body = Markup(chart.svg)
    else:
        body = Markup('<img src="{}" alt="{}" width="860">').format(chart.data_uri(), chart.title)
    table = _table(chart.table, url_column=0 if chart.key == "clicks_links" else None)
    return Markup('<figure id="chart-{}">{}<figcaption>{}</figcaption><details><summary>'
                  'Données du graphique</summary>{}</details></figure>').format(
        chart.key, body, chart.title, table)


def report_body(f: RunFigures, charts: list[Chart], *, inline: bool) -> Markup:
    """The report without page chrome (the dashboard wraps it in its own layout)."""
    parts = [Markup("<h1>Campagne {} — n° {} : « {} »</h1>").format(f.publication,
                                                                    f.issue_number, f.subject)]
    parts.append(Markup('<p class="muted">Envoi {} vers la liste {} ; état : {}. Événements comptés '
                        "jusqu'au {} UTC.</p>").format(
        f.run_id, f.list_name, f.state, f"{f.window_end:%d/%m/%Y %H:%M}"))
    if f.complaint_over_limit:
        parts.append(Markup('<p class="alert">Taux de plaintes au-dessus de la limite de 0,3 % '
                            "fixée par Gmail et Yahoo.</p>"))
    cards = [("Envoyés", f.sent), ("Échoués", f.failed), ("Rejets", f.bounces.total),
             ("Plaintes", f.complaints), ("Désinscriptions", f.unsubscribes)]
    if f.click_stats or f.clicks.total:
        cards.append(("Clics", f.clicks.total))
    parts.append(Markup('<div class="cards">{}</div>').format(Markup("").join(
        Markup('<div class="card"><b>{}</b>{}</div>').format(n, label) for label, n in cards)))
    parts.append(Markup("<h2>Chiffres</h2>"))
    parts.append(_table([("Indicateur", "Valeur"), *summary_rows(f)]))
    if f.unsubscribes_by_channel:
        parts.append(_table([("Désinscriptions par canal", "nombre"),
                             *((c, str(n)) for c, n in f.unsubscribes_by_channel.items())]))
    if f.opens is not None:
        parts.append(Markup("<p>Ouvertures (indicateur approximatif : la protection de la vie "
                            "privée d'Apple Mail charge les images sans lecture, beaucoup de "
                            "lecteurs les bloquent) : {} chargements, {} par des robots.</p>"
                            ).format(f.opens["total"], f.opens["scanner"]))
    if f.click_stats or f.clicks.total or f.clicks.scanner:
        parts.append(Markup("<p class=muted>Clics comptés par lien et par jour, sans identifier "
                            "aucun lecteur ; {} requêtes de robots de messagerie comptées à part."
                            "</p>").format(f.clicks.scanner))
    parts.append(Markup("<h2>Graphiques</h2>"))
    parts.extend(chart_figure(c, inline=inline) for c in charts)
    return Markup("\n").join(parts)


def report_page(project, figures: RunFigures) -> str:
    """The whole page: figures, tables and every chart, self-contained."""
    with project.read_session() as session:
        charts = report_charts(session, figures, now=project.clock.now())
    body = report_body(figures, charts, inline=True)
    title = f"Rapport — {figures.publication} n° {figures.issue_number}"
    return str(Markup('<!doctype html>\n<html lang="fr"><head><meta charset="utf-8">'
                      '<meta name="viewport" content="width=device-width, initial-scale=1">'
                      "<title>{}</title><style>{}</style></head><body><main>{}</main></body>"
                      "</html>\n").format(title, Markup(CSS), body))
