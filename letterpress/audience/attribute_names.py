"""Which attribute names the subscribers have: to tell a misspelt segment from an empty one.

``depatement = 04`` and ``departement = 99`` both count 0; only the first names an attribute
that nobody has, which is almost always a typing mistake worth a warning — and not worth an
expression index or a ``segment_values`` registration (see :mod:`.segments`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import exists, select, text
from sqlalchemy.orm import Session

from .models import Subscriber
from .segments import AttributeValue

__all__ = ["UnknownAttribute", "attribute_names", "unknown_attributes"]

# Every key with a non-null value, over every subscriber: a full read, made only once an
# attribute has turned out unknown (the warning path), never on a send's way.
_KEYS = {
    "sqlite": """
        SELECT DISTINCT a.key FROM subscribers AS s, json_each(s.attributes) AS a
        WHERE json_type(s.attributes) = 'object' AND a.type <> 'null' ORDER BY 1""",
    "postgresql": """
        SELECT DISTINCT a.key FROM subscribers AS s,
             json_each(CASE WHEN json_typeof(s.attributes) = 'object' THEN s.attributes
                       ELSE '{}'::json END) AS a
        WHERE json_typeof(a.value) <> 'null' ORDER BY 1""",
}


@dataclass(frozen=True)
class UnknownAttribute:
    """An attribute name that no subscriber has: ``known`` the names subscribers do have
    (sorted), ``suggestion`` the closest of them (difflib, ratio ≥ 0.6) or None."""

    name: str
    known: tuple[str, ...]
    suggestion: str | None


def attribute_names(session: Session) -> tuple[str, ...]:
    """The attribute names at least one subscriber has a (non-null) value for, sorted.

    Reads every subscriber: for messages, not for a hot path.
    """
    dialect = session.get_bind().dialect.name
    sql = _KEYS["postgresql" if dialect == "postgresql" else "sqlite"]
    return tuple(session.scalars(text(sql)))


def unknown_attributes(session: Session, names: Iterable[str]) -> list[UnknownAttribute]:
    """Those of ``names`` that no subscriber has a value for, sorted by name.

    One query of one ``EXISTS`` per name, written as the send reads the value (so an
    attribute index serves it, and it stops at the first subscriber that has it); the known
    names are read only when one is missing.  ValueError for a name that is not an
    attribute name (see :data:`.segments.NAME`).
    """
    wanted = sorted(set(names))
    if not wanted:
        return []
    tests = [exists().where(AttributeValue(name).is_not(None)).select_from(Subscriber)
             for name in wanted]
    found = session.execute(select(*tests)).one()
    missing = [name for name, has in zip(wanted, found, strict=True) if not has]
    if not missing:
        return []
    known = attribute_names(session)
    return [UnknownAttribute(name, known,
                             next(iter(difflib.get_close_matches(name, known, n=1)), None))
            for name in missing]
