"""Per-recipient message cost: letterpress's byte template against a full EmailMessage.

The issue is rendered once; each recipient then needs only their own links and name.  The
baseline, measured in the same run, builds a complete ``email.message.EmailMessage`` from the
same personalised parts, as a straightforward implementation would.

    .venv/bin/python bench/bench_message.py
"""

from __future__ import annotations

import statistics
import time
from email.message import EmailMessage
from pathlib import Path

from letterpress.content import load_issue
from letterpress.message import MessageTemplate
from letterpress.render import render_issue
from letterpress.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
ISSUE = ROOT / "issues" / "2024-12-pvd-42.yaml"


def per_call(fn, n: int, repeats: int = 5) -> float:
    """Median seconds per call over ``repeats`` loops of ``n`` calls."""
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for i in range(n):
            fn(i)
        runs.append((time.perf_counter() - t0) / n)
    return statistics.median(runs)


def main() -> None:
    settings = load_settings(ROOT, env={"LETTERPRESS_SECRET_KEY": "bench"})
    rendered = render_issue(load_issue(ISSUE, settings), settings)
    template = MessageTemplate.from_rendered(rendered, settings)
    base = settings.base_url

    def byte_template(i: int) -> bytes:
        return template.for_recipient(f"lecteur{i}@example.org", f"Élu·e n°{i}",
                                      f"{base}/u/tok{i}", f"{base}/p/pref{i}")[1]

    def email_message(i: int) -> bytes:
        html, text = rendered.personalise(f"{base}/u/tok{i}", f"{base}/p/pref{i}", f"Élu·e n°{i}")
        msg = EmailMessage()
        msg["From"] = rendered.publication.sender
        msg["To"] = f"Élu·e n°{i} <lecteur{i}@example.org>"
        msg["Subject"] = rendered.subject
        msg["List-Unsubscribe"] = f"<{base}/u/tok{i}>"
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
        return msg.as_bytes()

    size = len(byte_template(0)) / 1024
    fast = per_call(byte_template, 2000)
    slow = per_call(email_message, 100, repeats=3)
    print(f"per-recipient message for issue #42 ({size:.0f} KB)")
    print(f"  full EmailMessage (baseline)   {slow * 1e6:9.0f} µs")
    print(f"  letterpress byte template      {fast * 1e6:9.0f} µs   {slow / fast:6.0f}× faster")


if __name__ == "__main__":
    main()
