"""Tables of the audience module (filled in by that module)."""

from ..db import Base  # noqa: F401

