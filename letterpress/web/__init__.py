"""Reader-facing web pages: unsubscribe (RFC 8058 one-click), double opt-in subscribe,
preferences, the online archive with its Atom feed, and issue images.

    app = create_app(project)            # a Flask app; `letterpress serve` runs it in waitress

Another WSGI server can run it through the factory: ``gunicorn 'letterpress.web:wsgi_app()'``
(the project directory comes from ``LETTERPRESS_PROJECT``, default the current directory).
"""

from __future__ import annotations

__all__ = ["create_app", "wsgi_app"]


def create_app(project, *, transport_factory=None):
    """The Flask app of ``project`` (see :func:`letterpress.web.app.create_app`)."""
    from .app import create_app as _create_app

    return _create_app(project, transport_factory=transport_factory)


def wsgi_app(project_dir: str | None = None):
    """A WSGI app for the project in ``project_dir`` (or ``$LETTERPRESS_PROJECT``, or ``.``)."""
    import os

    from ..project import Project

    directory = project_dir or os.environ.get("LETTERPRESS_PROJECT", ".")
    return create_app(Project.load(directory))
