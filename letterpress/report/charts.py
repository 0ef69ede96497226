"""Charts of a report, drawn on the server as SVG by pygal.

pygal draws each chart as one SVG document with its style inside; we strip the small
configuration ``<script>`` it always adds (only used for tooltips), so a chart loads no script
and no font from anywhere: the page shows it as a plain image.  Values are printed on the bars,
and every chart comes with a data table for screen readers and for copying figures.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

import pygal
from pygal.style import Style

from .figures import RunFigures
from .series import ListGrowth

__all__ = ["Chart", "clicks_per_day_chart", "clicks_per_link_chart", "deliveries_chart",
           "growth_charts", "providers_chart"]

_SCRIPT = re.compile(r"<script\b.*?</script\s*>", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)

STYLE = Style(
    background="#ffffff", plot_background="#ffffff", foreground="#1e1e1e",
    foreground_strong="#1e1e1e", foreground_subtle="#666666",
    font_family="Marianne, Arial, Helvetica, sans-serif",
    colors=("#000091", "#e1000f", "#f5a623", "#6a6a6a", "#18753c", "#8585f6"),
    title_font_size=18, label_font_size=13, major_label_font_size=13, legend_font_size=13,
    value_font_size=12, tooltip_font_size=12)


@dataclass(frozen=True)
class Chart:
    """One chart: its title, SVG text and the table of the values it draws."""

    key: str
    title: str
    svg: str
    table: list[tuple[str, ...]]  # header row first

    def data_uri(self) -> str:
        """``data:image/svg+xml;base64,…`` for an ``<img>`` (works under a strict CSP)."""
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg.encode()).decode()


def _config(**kwargs):
    base = dict(style=STYLE, js=[], disable_xml_declaration=True, width=860, height=380,
                legend_at_bottom=True, print_values=False, show_minor_x_labels=True,
                truncate_label=40, truncate_legend=40, margin=16, no_data_text="Aucune donnée")
    base.update(kwargs)
    return base


def _svg(chart) -> str:
    svg = chart.render(is_unicode=True)
    svg = _COMMENT.sub("", _SCRIPT.sub("", svg))
    if "<script" in svg.lower():  # pragma: no cover - a pygal change would be caught here
        raise RuntimeError("chart still holds a script")
    return svg


def deliveries_chart(points) -> Chart:
    """Messages accepted per interval during the run."""
    chart = pygal.Bar(**_config(title="Envois pendant la campagne", x_label_rotation=30,
                                show_legend=False, show_minor_x_labels=False,
                                x_labels_major_every=max(1, len(points) // 8)))
    labels = [at.strftime("%d/%m %H:%M") for at, _ in points]
    chart.x_labels = labels
    chart.add("Messages acceptés", [n for _, n in points])
    table = [("Début (UTC)", "Messages acceptés"), *((lbl, str(n)) for lbl, (_, n)
                                                    in zip(labels, points, strict=True))]
    return Chart("deliveries", "Envois pendant la campagne", _svg(chart), table)


def providers_chart(f: RunFigures) -> Chart:
    """Outcomes per receiving provider, stacked."""
    chart = pygal.StackedBar(**_config(title="Résultat par fournisseur de messagerie",
                                       x_label_rotation=20))
    chart.x_labels = [p.provider for p in f.providers]
    for label, attr in (("envoyés", "sent"), ("différés", "deferred"), ("échoués", "failed"),
                        ("autres", "other")):
        chart.add(label, [getattr(p, attr) for p in f.providers])
    table = [("Fournisseur", "total", "envoyés", "différés", "échoués", "dont rejets définitifs",
              "autres"),
             *((p.provider, str(p.total), str(p.sent), str(p.deferred), str(p.failed),
                str(p.bounced), str(p.other)) for p in f.providers)]
    return Chart("providers", "Résultat par fournisseur de messagerie", _svg(chart), table)


def clicks_per_link_chart(f: RunFigures, top: int = 10) -> Chart:
    """The most-clicked links (people only; scanners apart)."""
    links = f.clicks.top(top)
    chart = pygal.HorizontalBar(**_config(title="Clics par lien (hors robots)", print_values=True,
                                          show_legend=False, height=max(220, 60 + 34 * len(links))))
    chart.x_labels = [link.url for link in links][::-1]
    chart.add("clics", [link.clicks for link in links][::-1])
    table = [("Lien", "clics", "robots"), *((c.url, str(c.clicks), str(c.scanner)) for c in links)]
    return Chart("clicks_links", "Clics par lien (hors robots)", _svg(chart), table)


def clicks_per_day_chart(f: RunFigures) -> Chart:
    """Clicks by people per day."""
    days = list(f.clicks.by_day.items())
    chart = pygal.Bar(**_config(title="Clics par jour (hors robots)", print_values=True,
                                show_legend=False, x_label_rotation=30))
    chart.x_labels = [d for d, _ in days]
    chart.add("clics", [n for _, n in days])
    table = [("Jour (UTC)", "clics"), *((d, str(n)) for d, n in days)]
    return Chart("clicks_days", "Clics par jour (hors robots)", _svg(chart), table)


def growth_charts(g: ListGrowth) -> list[Chart]:
    """The list's active size at the end of each month (a line), and each month's arrivals and
    departures (bars)."""
    size = pygal.Line(**_config(title=f"Liste {g.list_name} : abonnés actifs en fin de mois",
                                x_label_rotation=30, show_legend=False, print_values=True,
                                height=320))
    size.x_labels = g.months
    size.add("abonnés actifs", g.size)
    moves = pygal.Bar(**_config(title=f"Liste {g.list_name} : inscriptions et départs par mois",
                                x_label_rotation=30, height=320))
    moves.x_labels = g.months
    moves.add("inscriptions", g.subscribes)
    moves.add("désinscriptions", g.unsubscribes)
    moves.add("rejets et plaintes", g.other_departures)
    table = [("Mois", "abonnés actifs", "inscriptions", "désinscriptions", "rejets et plaintes"),
             *((m, str(s), str(i), str(u), str(o)) for m, s, i, u, o in
               zip(g.months, g.size, g.subscribes, g.unsubscribes, g.other_departures,
                   strict=True))]
    return [Chart("growth", f"Liste {g.list_name} : abonnés actifs sur un an", _svg(size), table),
            Chart("movements", f"Liste {g.list_name} : inscriptions et départs par mois",
                  _svg(moves), table)]
