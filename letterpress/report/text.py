"""The report of a send run for a terminal: aligned figures, rates against the limits."""

from __future__ import annotations

from .figures import COMPLAINT_LIMIT, RunFigures

__all__ = ["percent", "render_text"]


def percent(value: float | None, digits: int = 2) -> str:
    """``0.0031`` → ``"0.31 %"``; None → ``"—"``."""
    return "—" if value is None else f"{value * 100:.{digits}f} %"


def render_text(f: RunFigures, *, top_links: int = 10) -> str:
    """Several lines of plain text, for a terminal or a cron mail."""
    out: list[str] = []
    w = out.append
    test = " [TEST]" if f.is_test else ""
    w(f"Run {f.run_id}: {f.publication}#{f.issue_number}{test} «{f.subject}» → list {f.list_name}"
      f" ({f.state})")
    span = f"  created {f.created_at:%Y-%m-%d %H:%M} UTC"
    if f.started_at:
        span += f", started {f.started_at:%Y-%m-%d %H:%M}"
    if f.finished_at:
        span += f", finished {f.finished_at:%Y-%m-%d %H:%M}"
    w(span)
    w(f"  events counted until {f.window_end:%Y-%m-%d %H:%M} UTC")
    w("")
    w("Deliveries")
    rows = [("recipients", f.total), ("sent", f.sent), ("deferred", f.deferred),
            ("failed", f.failed), ("skipped (unsubscribed meanwhile)", f.n("skipped")),
            ("uncertain", f.n("uncertain")), ("not attempted yet", f.pending)]
    for label, n in rows:
        if n or label in ("recipients", "sent", "deferred", "failed"):
            w(f"  {label:<34}{n:>9,}".replace(",", " "))
    w("")
    w("What came back")
    w(f"  {'hard bounces':<34}{f.bounces.total:>9}   (during sending {f.bounces.synchronous}, "
      f"reported later {f.bounces.asynchronous})")
    o = f.bounces.outcomes
    w(f"  {'soft bounces reported later':<34}{f.bounces.soft:>9}   (temporary: retried, "
      "scored, not suppressed)")
    w(f"  {'spam complaints':<34}{f.complaints:>9}")
    w(f"  {'recorded by bounce processing':<34}{sum(o.values()):>9}   (hard {o['hard']}, "
      f"soft {o['soft']}, complaints {o['complaint']}, sender policy {o['policy']})")
    channels = ", ".join(f"{c} {n}" for c, n in f.unsubscribes_by_channel.items())
    w(f"  {'unsubscribes':<34}{f.unsubscribes:>9}" + (f"   ({channels})" if channels else ""))
    w(f"  {'new subscriptions to the list':<34}{f.new_subscriptions:>9}")
    if f.unsubscribes_by_day:
        w("  unsubscribes by day: " + ", ".join(f"{d} {n}"
                                                for d, n in f.unsubscribes_by_day.items()))
    w("")
    w("Sender problems (not the readers' addresses)")
    w(f"  {'refused by receiving policy':<34}{f.bounces.sender_rejections:>9}   (5.7.x: SPF, "
      "DKIM, DMARC or reputation; readers unchanged)")
    w("")
    w("Rates")
    flag = "  ABOVE THE LIMIT" if f.complaint_over_limit else ""
    w(f"  {'complaints / sent':<34}{percent(f.complaint_rate, 3):>9}   "
      f"(Gmail/Yahoo limit {percent(COMPLAINT_LIMIT, 1)}){flag}")
    w(f"  {'hard bounces / (sent + failed)':<34}{percent(f.bounce_rate):>9}")
    w(f"  {'unsubscribes / sent':<34}{percent(f.unsubscribe_rate):>9}")
    w("")
    w("By receiving provider")
    w(f"  {'provider':<16}{'total':>8}{'sent':>8}{'deferred':>10}{'failed':>8}{'bounced':>9}"
      f"{'other':>7}")
    for p in f.providers:
        w(f"  {p.provider:<16}{p.total:>8}{p.sent:>8}{p.deferred:>10}{p.failed:>8}{p.bounced:>9}"
          f"{p.other:>7}")
    if f.click_stats or f.clicks.total or f.clicks.scanner:
        w("")
        w(f"Clicks (people, per link; scanners counted apart: {f.clicks.scanner})")
        w(f"  total {f.clicks.total}")
        for link in f.clicks.top(top_links):
            w(f"  {link.clicks:>7}  {link.url}")
    if f.opens is not None:
        w("")
        w(f"Opens (rough indicator: Apple Mail preloads images, many readers block them): "
          f"{f.opens['total']} pixel loads, scanners {f.opens['scanner']}")
    for note in f.notes:
        w(f"Note: {note}")
    return "\n".join(out) + "\n"
