"""Counting a segment of a list from ``segment_values``: index ranges, not a join per member.

``segment_values`` (kept by the triggers of migration ``0010_segment_values``) holds the
attributes segments use — those registered in ``segment_attributes`` by
:func:`register_attributes` — of every subscription's person, beside the subscription's list
and status, indexed on ``(list_id, status, name, value, subscription_id)``.  So:

* a test (``role = elu``, ``departement in [04, 05]``, ``commune present``) is one range of
  that index, and its count reads only the matching entries (index-only on both databases),
  however large the segment: a third of a million-person list costs a third of the list's
  own ``COUNT(*)``;
* a conjunction is driven by its smallest operand that is such a range (each candidate is
  sized by reading at most :data:`PROBE_ROWS` entries), the other operands checked for each
  of its entries by a primary-key look-up ``(subscription_id, name)``;
* a disjunction of such operands is the UNION of their ranges; ``not X`` is the list's count
  minus X's;
* anything else (``not a and not b``…) walks the list's subscriptions and checks each: still
  one correct statement, as slow as the list is long.

A segment reading an attribute not registered yet is counted over the subscribers' JSON
(:meth:`.segments.Segment.clause`, one look-up per member): same result, slower.

Semantics are those of :mod:`.segments`: values compared as text exactly as stored, a person
without the attribute matches every negated test.  (A JSON object written by hand with the
same key twice would give a subscription two values for one name; letterpress never writes
one.)
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    func,
    or_,
    select,
    text,
    union,
    union_all,
)
from sqlalchemy.orm import Session

from .models import SegmentAttribute, SegmentValue, Subscriber, Subscription
from .segments import NAME, BoolOp, Node, Not, Segment, Test

__all__ = ["PROBE_ROWS", "count_in_list", "register_attributes"]

PROBE_ROWS = 2000  # entries read, at most, to size each candidate driver of a conjunction

_VALUES = SegmentValue.__table__


def _matches(row, test: Test) -> list[ColumnElement[bool]]:
    """The conditions a ``segment_values`` row meets when it satisfies ``test``."""
    conditions = [row.c.name == test.name]
    if test.op == "present":
        conditions.append(row.c.value > "")
    elif test.op == "=":
        conditions.append(row.c.value == test.values[0])
    else:
        conditions.append(row.c.value.in_(test.values))
    return conditions


def _holds(node: Node, subscription_id, negate: bool = False) -> ColumnElement[bool]:
    """``node`` as a condition on one subscription (EXISTS look-ups by primary key).

    Negation is pushed down to the tests (De Morgan); a negated test is NOT EXISTS, so a
    person without the attribute matches it (two-valued, as in :mod:`.segments`)."""
    if isinstance(node, Not):
        return _holds(node.operand, subscription_id, not negate)
    if isinstance(node, BoolOp):
        parts = [_holds(n, subscription_id, negate) for n in node.operands]
        return and_(*parts) if (node.op == "and") != negate else or_(*parts)
    row = _VALUES.alias()
    found = exists().where(row.c.subscription_id == subscription_id, *_matches(row, node))
    return ~found if negate else found


class _Counter:
    def __init__(self, session: Session, list_id: int, status: str | None):
        self.session = session
        self.list_id = list_id
        self.status = status

    def _scope(self, row) -> list[ColumnElement[bool]]:
        scope = [row.c.list_id == self.list_id]
        if self.status is not None:
            scope.append(row.c.status == self.status)
        return scope

    def driven(self, node: Node) -> Select | None:
        """The subscription ids of the list in ``node``, each once, read from index ranges;
        None when ``node`` has no positive test to start from (a negation)."""
        if isinstance(node, Test):
            if node.op == "in" and len(node.values) > 1:
                # One index range per value, each read index-only: with "value IN (…)" the
                # PostgreSQL planner takes a bitmap scan that visits the table.  The values
                # are distinct and a subscription has one value per name, so no id repeats.
                ranges = union_all(*(self.driven(Test(node.name, "=", (v,)))
                                     for v in node.values)).subquery()
                return select(ranges.c.subscription_id)
            row = _VALUES.alias()
            return select(row.c.subscription_id).where(*self._scope(row), *_matches(row, node))
        if isinstance(node, Not):
            return None
        parts = [(n, self.driven(n)) for n in node.operands]
        if node.op == "or":
            if any(d is None for _n, d in parts):
                return None
            ids = union(*(d for _n, d in parts)).subquery()
            return select(ids.c.subscription_id)
        candidates = [(n, d) for n, d in parts if d is not None]
        if not candidates:
            return None
        if len(candidates) > 1:
            sizes = [self._size(d) for _n, d in candidates]
            candidates = [candidates[sizes.index(min(sizes))]]
        first, start = candidates[0]
        ids = start.subquery()
        return select(ids.c.subscription_id).where(
            *(_holds(n, ids.c.subscription_id) for n in node.operands if n is not first))

    def _size(self, ids: Select) -> int:
        """How many entries ``ids`` has, counted up to PROBE_ROWS only."""
        return self.session.scalar(
            select(func.count()).select_from(ids.limit(PROBE_ROWS).subquery())) or 0

    def total(self) -> int:
        query = select(func.count()).select_from(Subscription).where(
            Subscription.list_id == self.list_id)
        if self.status is not None:
            query = query.where(Subscription.status == self.status)
        return self.session.scalar(query) or 0

    def count(self, node: Node) -> int:
        ids = self.driven(node)
        if ids is not None:
            return self.session.scalar(select(func.count()).select_from(ids.subquery())) or 0
        if isinstance(node, Not):
            return self.total() - self.count(node.operand)
        query = select(func.count()).select_from(Subscription).where(
            Subscription.list_id == self.list_id, _holds(node, Subscription.id))
        if self.status is not None:
            query = query.where(Subscription.status == self.status)
        return self.session.scalar(query) or 0


def count_in_list(session: Session, list_id: int, status: str | None,
                  segment: Segment | None) -> int:
    """How many subscriptions of list ``list_id`` (with ``status``; None: any) are in
    ``segment`` (None: the whole list)."""
    counter = _Counter(session, list_id, status)
    if segment is None:
        return counter.total()
    names = segment.attributes
    known = set(session.scalars(select(SegmentAttribute.name).where(
        SegmentAttribute.name.in_(sorted(names)))))
    if known == names:
        return counter.count(segment.tree)
    query = select(func.count()).select_from(Subscription).join(
        Subscriber, Subscriber.id == Subscription.subscriber_id).where(
        Subscription.list_id == list_id, segment.clause())
    if status is not None:
        query = query.where(Subscription.status == status)
    return session.scalar(query) or 0


# The copy the triggers make, for the rows of one newly registered attribute (see migration
# 0010_segment_values: the same text values, cut to MAX_VALUE_CHARS + 1 characters).
_BACKFILL = {
    "sqlite": """
        INSERT INTO segment_values (subscription_id, list_id, status, name, value)
        SELECT sub.id, sub.list_id, sub.status, a.key,
               substr(CASE a.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'
                      ELSE CAST(a.value AS TEXT) END, 1, :chars)
        FROM subscriptions AS sub JOIN subscribers AS s ON s.id = sub.subscriber_id,
             json_each(s.attributes) AS a
        WHERE json_type(s.attributes) = 'object' AND a.type <> 'null' AND a.key = :name""",
    "postgresql": """
        INSERT INTO segment_values (subscription_id, list_id, status, name, value)
        SELECT sub.id, sub.list_id, sub.status, CAST(:name AS text),
               left(s.attributes ->> CAST(:name AS text), :chars)
        FROM subscriptions AS sub JOIN subscribers AS s ON s.id = sub.subscriber_id
        WHERE json_typeof(s.attributes) = 'object'
          AND s.attributes ->> CAST(:name AS text) IS NOT NULL""",
}


def register_attributes(session: Session, names: Iterable[str]) -> list[str]:
    """Register the attributes segments use that are not yet, copying their values for every
    subscription; returns the names registered.  Writes: call it in a writing session, then
    commit.  On PostgreSQL the subscriptions and subscribers are locked against writes
    (SHARE) until the commit, so no row is written between the copy and the triggers' taking
    over; a million subscriptions take a few seconds, once."""
    from .segments import MAX_VALUE_CHARS

    wanted = sorted(set(names))
    for name in wanted:
        if not NAME.fullmatch(name):
            raise ValueError(f"not an attribute name: {name!r}")
    known = set(session.scalars(select(SegmentAttribute.name).where(
        SegmentAttribute.name.in_(wanted))))
    missing = [n for n in wanted if n not in known]
    if not missing:
        return []
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("LOCK TABLE subscriptions, subscribers IN SHARE MODE"))
    for name in missing:
        session.add(SegmentAttribute(name=name))
        session.flush()
        session.execute(text(_BACKFILL["postgresql" if dialect == "postgresql" else "sqlite"]),
                        {"name": name, "chars": MAX_VALUE_CHARS + 1})
    return missing
