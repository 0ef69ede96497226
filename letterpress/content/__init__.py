"""Issue content: the YAML issue file, its model and its validation.

Knows nothing of HTML or the database: ``load_issue`` turns a file into a validated
:class:`Issue` or raises :class:`~letterpress.errors.ContentError` with every problem.
"""

from .loader import issue_file_path, load_issue, validate_issue_text
from .model import DEFAULT_TITLES, SECTION_TYPES, Image, Issue, Section, default_title

__all__ = [
    "DEFAULT_TITLES",
    "SECTION_TYPES",
    "Image",
    "Issue",
    "Section",
    "default_title",
    "issue_file_path",
    "load_issue",
    "validate_issue_text",
]
