"""letterpress: newsletter authoring and mailing.

The library's main entry points; everything else lives in the modules named after what it
does (content, render, audience, message, transports, delivery, schedule, web).

    >>> from letterpress import Project, load_issue, render_issue
    >>> project = Project.load("path/to/project")
    >>> rendered = render_issue(load_issue("issues/2024-12-pvd-42.yaml", project.settings),
    ...                         project.settings)
"""

from importlib.metadata import PackageNotFoundError, version

from .clock import Clock, FrozenClock, SystemClock
from .content import load_issue
from .errors import LetterpressError
from .project import Project
from .render import RenderedIssue, render_issue
from .settings import Settings, load_settings

try:
    __version__ = version("letterpress")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

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
