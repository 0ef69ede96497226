"""Tables of the delivery module (filled in by that module)."""

from ..db import Base  # noqa: F401

