"""``letterpress serve``: the pages in waitress, a production WSGI server, optionally with the
scheduler in a background thread.

Waitress writes no access log, so the tokens in reader URLs are never logged; error logs go
through :func:`letterpress.web.app.redact`.  Behind a reverse proxy on the same host, ``X-Forwarded-For`` and
``X-Forwarded-Proto`` are trusted from loopback only (rate limits then see the real client).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

from ..project import Project

__all__ = ["DEFAULT_PORT", "DEFAULT_THREADS", "serve"]

log = logging.getLogger("letterpress.web")

DEFAULT_PORT = 8025
DEFAULT_THREADS = 8


def serve(project: Project, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
          threads: int = DEFAULT_THREADS, with_scheduler: bool = False,
          trusted_proxy: str | None = "127.0.0.1",
          on_ready: Callable[[str], None] | None = None) -> None:
    """Serve ``project``'s pages until SIGINT/SIGTERM."""
    from waitress.server import create_server

    from .app import create_app

    app = create_app(project)
    # Under a burst, waitress warns about its task queue on every request; the depth is what
    # a burst looks like, not an error.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    proxy_options = {}
    if trusted_proxy:
        proxy_options = {"trusted_proxy": trusted_proxy, "trusted_proxy_count": 1,
                         "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto"},
                         "clear_untrusted_proxy_headers": True}
    server = create_server(app, host=host, port=port, threads=threads, ident="letterpress",
                           # Readers on slow mobile links: keep connections, bound the queue.
                           channel_timeout=60, connection_limit=1000, **proxy_options)
    stop = threading.Event()
    scheduler = None
    if with_scheduler:
        try:
            from ..schedule import start_background
        except ImportError:
            from ..schedule.daemon import start_background
        scheduler = start_background(project, stop)

    def _terminate(signum, frame):
        raise KeyboardInterrupt

    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main else None
    url = f"http://{host}:{server.effective_port}"
    if on_ready is not None:
        on_ready(url)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.close()
        if in_main:
            signal.signal(signal.SIGTERM, previous)
        if scheduler is not None:
            scheduler.join(timeout=10)
        app.extensions["letterpress"].mails.close()
