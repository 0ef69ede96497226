"""Reader-facing web pages: unsubscribe (RFC 8058 one-click), double opt-in subscribe,
preferences, the online archive with its Atom feed, and issue images.

    app = create_app(project)            # a Flask app; `letterpress serve` runs it in waitress
"""

from __future__ import annotations

__all__ = ["create_app"]


def create_app(project, *, transport_factory=None):
    """The Flask app of ``project`` (see :func:`letterpress.web.app.create_app`)."""
    from .app import create_app as _create_app

    return _create_app(project, transport_factory=transport_factory)
