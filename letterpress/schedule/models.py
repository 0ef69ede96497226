"""Tables of the schedule module (filled in by that module)."""

from ..db import Base  # noqa: F401

