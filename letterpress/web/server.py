"""``letterpress serve``: the pages in waitress, a production WSGI server, optionally with the
scheduler in a background thread.

Waitress writes no access log, so the tokens in reader URLs are never logged; error logs go
through :func:`letterpress.web.app.redact`.  Behind a reverse proxy on the same host, ``X-Forwarded-For`` and
``X-Forwarded-Proto`` are trusted from loopback only (rate limits then see the real client).
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
from collections.abc import Callable

from ..project import Project
from ..settings import Settings

__all__ = ["DEFAULT_PORT", "DEFAULT_THREADS", "serve", "server_limits"]

log = logging.getLogger("letterpress.web")

DEFAULT_PORT = 8025
DEFAULT_THREADS = 8


def server_limits(settings: Settings) -> dict[str, int]:
    """waitress options that refuse what the pages never need to read.

    A body over ``max_request_body`` is refused (413) as soon as its Content-Length is read,
    or as soon as a chunked body goes past it, and the connection closed: nothing beyond the
    limit is read or buffered (waitress spills bodies to a temporary file only past 512 KiB,
    so with the default limit none is ever written).  Headers over
    ``max_request_header`` get 431.  At most ``max_connections`` clients at once; a connection
    silent for ``client_timeout`` seconds (a slow client) is closed.  A client that drips a
    byte at a time is never silent: the reverse proxy's total timeouts handle it
    (docs/web.md).
    """
    # waitress refuses a body of max_request_body_size bytes or more: + 1 accepts exactly the
    # documented largest size.
    return {"max_request_body_size": settings.max_request_body + 1,
            "max_request_header_size": settings.max_request_header,
            # waitress counts its listening socket and its wake-up pipe among the connections.
            "connection_limit": settings.max_connections + 2,
            "channel_timeout": settings.client_timeout,
            # waitress looks for silent connections every cleanup_interval (30 s by default):
            # look often enough that client_timeout means what it says.
            "cleanup_interval": max(1, min(30, settings.client_timeout // 2))}


def serve(project: Project, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
          threads: int = DEFAULT_THREADS, with_scheduler: bool = False,
          trusted_proxy: str | None = "127.0.0.1",
          on_ready: Callable[[str], None] | None = None) -> None:
    """Serve ``project``'s pages until SIGINT/SIGTERM."""
    from waitress.server import create_server

    from .app import ONE_CLICK_WRITERS_POSTGRESQL, create_app

    if project.pool_size is None and not project.is_open:
        # A connection for each request thread, the one-click writers, a WAL checkpoint and
        # the scheduler: no request ever waits for a connection, or opens one.
        project.size_pool(threads + ONE_CLICK_WRITERS_POSTGRESQL + 2)
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
                           **server_limits(project.settings), **proxy_options)
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
    # What exists now (the app, its templates, the configuration, SQLAlchemy's mappers) lives
    # as long as the server.  Python's full garbage collection walks every object each time
    # it runs — 85 ms for this heap, a pause of every request in flight, enough to make the
    # slowest percent of one-click answers.  Frozen objects are never walked again.
    gc.collect()
    gc.freeze()
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
        ctx = app.extensions["letterpress"]
        if ctx.one_clicks is not None:
            ctx.one_clicks.close()  # what is queued is committed (and answered) first
        ctx.mails.close()
