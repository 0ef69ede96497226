"""The few mails the pages send (confirm your subscription, come back, you are subscribed),
sent from a background thread.

Sending in the background makes every answer of the subscription form take the same time,
whether a mail went out or not, so response times cannot tell who is on the list; a slow
mail server does not hold a request thread either.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from markupsafe import escape

from ..settings import Publication, Settings
from .i18n import gettext

__all__ = ["MailQueue", "page_mail"]

log = logging.getLogger("letterpress.web")


def page_mail(pub: Publication, settings: Settings, to: str, *, subject_key: str,
              text_key: str, url: str, button_key: str | None = None) -> bytes:
    """A short mail in the publication's language with ``url`` (and a button in HTML)."""
    from ..message import build_simple_message

    lang = pub.language
    subject = gettext(lang, subject_key, publication=pub.name)
    text = gettext(lang, text_key, publication=pub.name, url=url,
                   sender=pub.sender_name or pub.name)
    html = None
    if button_key:
        theme = pub.theme
        paragraphs = "".join(f"<p>{escape(p).replace(chr(10), '<br>')}</p>"
                             for p in text.split("\n\n") if p.strip() and p.strip() != url)
        html = (f'<!doctype html><html lang="{escape(lang)}"><body style="font-family:'
                f'{escape(theme.font_family)};color:{escape(theme.text_color)}">{paragraphs}'
                f'<p><a href="{escape(url)}" style="display:inline-block;padding:12px 20px;'
                f"background:{escape(theme.primary_color)};color:#ffffff;"
                f'text-decoration:none;font-weight:bold">{escape(gettext(lang, button_key))}'
                f'</a></p><p style="font-size:13px">{escape(url)}</p></body></html>')
    return build_simple_message(pub, settings, to, subject, text, html)


class MailQueue:
    """Hands mails to the publication's transport from worker threads."""

    def __init__(self, transport_factory: Callable[[Publication], Any], *, workers: int = 2):
        self.transport_factory = transport_factory
        self._executor = ThreadPoolExecutor(max_workers=workers,
                                            thread_name_prefix="letterpress-mail")
        self._pending: set[Future] = set()
        self._lock = threading.Lock()

    def submit(self, pub: Publication, to: str, build: Callable[[], bytes]) -> Future:
        """Queue the message ``build()`` makes for ``to``; failures are only logged."""
        future = self._executor.submit(self._send, pub, to, build)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future) -> None:
        with self._lock:
            self._pending.discard(future)

    def _send(self, pub: Publication, to: str, build: Callable[[], bytes]) -> None:
        transport = None
        try:
            data = build()  # DKIM signing too happens here, off the request thread
            transport = self.transport_factory(pub)
            transport.send(pub.sender_email, [to], data)
        except Exception as exc:  # noqa: BLE001 - logged; the reader already has their page
            log.warning("mail to a reader of %s failed: %s: %s", pub.slug,
                        exc.__class__.__name__, exc)
        finally:
            close = getattr(transport, "close", None) if transport is not None else None
            if close is not None:
                close()

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until every mail queued so far was handed over (or failed)."""
        with self._lock:
            pending = list(self._pending)
        wait(pending, timeout=timeout)

    def close(self) -> None:
        """Finish queued mails, then stop the workers."""
        self._executor.shutdown(wait=True)
