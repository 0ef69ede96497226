"""letterpress: newsletter authoring and mailing.

The library's main entry points; everything else lives in the modules named after what it
does (content, render, audience, message, transports, delivery, schedule, web).

    >>> from letterpress import Project, load_issue, render_issue
    >>> project = Project.load("path/to/project")
    >>> rendered = render_issue(load_issue("issues/2024-12-pvd-42.yaml", project.settings),
    ...                         project.settings)
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("letterpress")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

# Imported on first use (PEP 562), so that ``import letterpress.render`` stays free of the
# database and web layers: each layer pulls in only what it needs.
_EXPORTS = {
    "Clock": "clock", "FrozenClock": "clock", "SystemClock": "clock",
    "LetterpressError": "errors",
    "Project": "project",
    "RenderedIssue": "render", "render_issue": "render",
    "Settings": "settings", "load_settings": "settings",
    "load_issue": "content",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'letterpress' has no attribute {name!r}")


__all__ = [
    "Clock",
    "FrozenClock",
    "LetterpressError",
    "Project",
    "RenderedIssue",
    "Settings",
    "SystemClock",
    "__version__",
    "load_issue",
    "load_settings",
    "render_issue",
]
