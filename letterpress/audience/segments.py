"""Segments: part of a list, chosen by an expression over subscriber attributes.

The language is deliberately small::

    departement in [04, 05, 06] and role = elu
    commune present and not (role = agent or role != "élu local")

    expression := term ("or" term)*
    term       := factor ("and" factor)*
    factor     := "not" factor | "(" expression ")" | test
    test       := NAME "=" VALUE | NAME "!=" VALUE
                | NAME "in" "[" VALUE ("," VALUE)* "]" | NAME "not" "in" "[" … "]"
                | NAME "present"
    NAME       := an attribute name: a letter or "_", then letters, digits, "_" (ASCII)
    VALUE      := a bare word (letters, digits, "_", "-", ".", "@", "+") or a quoted string
                  ("…" or '…'; a quote inside is doubled)

Keywords (``and or not in present``) are case-insensitive.  Values are text (at most
MAX_VALUE_CHARS characters) and compared exactly as stored (``04`` is not ``4``; a number
stored as an attribute compares as its text, as PostgreSQL's ``->>`` writes it).
``present`` means the attribute has a non-empty value.  A person without the attribute does
not match ``role = elu`` and does match ``not role = elu`` / ``role != elu``: comparisons
are two-valued, never SQL's NULL logic.

An expression is parsed here into a small tree — never executed as SQL or Python — and
compiled into a SQLAlchemy clause evaluated by the database.  Errors carry the column of the
problem (:class:`~letterpress.errors.SegmentError`).  :meth:`Segment.clause` reads attribute
values with an expression that an index can serve (``json_extract(attributes, '$.name')`` on
SQLite, ``attributes ->> 'name'`` on PostgreSQL; :func:`ensure_attribute_indexes` creates
those indexes): the send filters its recipient stream with it.  :func:`count_segment` reads
the trigger-kept ``segment_values`` table instead (:mod:`.segment_counts`), where every test
is one index range, so counting even a large segment reads only its entries.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, String, and_, or_, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.visitors import InternalTraversal

from ..errors import SegmentError
from .models import Subscriber
from .service import get_list

__all__ = [
    "MAX_EXPRESSION",
    "MAX_VALUES",
    "MAX_VALUE_CHARS",
    "AttributeValue",
    "BoolOp",
    "Node",
    "Not",
    "Segment",
    "Test",
    "attribute_index_name",
    "count_segment",
    "ensure_attribute_indexes",
    "parse",
    "resolve_segment",
]

MAX_EXPRESSION = 4000  # characters
MAX_VALUES = 1000  # values in one "in [...]" list
MAX_DEPTH = 50  # nested parentheses / "not"
# Characters in one value: ``segment_values`` keeps one more (a b-tree entry has a size
# limit), so a value cut there never equals a value of an expression.
MAX_VALUE_CHARS = 500
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
KEYWORDS = {"and", "or", "not", "in", "present"}
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<op>!=|=|\(|\)|\[|\]|,)
  | (?P<quoted>"(?:[^"]|"")*"|'(?:[^']|'')*')
  | (?P<word>[\w.@+\-]+)
""", re.VERBOSE)


# --------------------------------------------------------------------------- tree

@dataclass(frozen=True)
class Test:
    """``name op values``: op is ``=`` (one value), ``in`` (several) or ``present`` (none)."""

    name: str
    op: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class BoolOp:
    """``and`` / ``or`` of two or more operands."""

    op: str
    operands: tuple[Node, ...]


Node = Test | Not | BoolOp


@dataclass(frozen=True)
class _Token:
    kind: str  # "op", "word", "quoted", "end"
    text: str
    pos: int

    @property
    def keyword(self) -> str | None:
        low = self.text.lower()
        return low if self.kind == "word" and low in KEYWORDS else None


def _tokens(expression: str) -> list[_Token]:
    out: list[_Token] = []
    pos = 0
    while pos < len(expression):
        m = _TOKEN.match(expression, pos)
        if m is None:
            raise SegmentError(expression, pos, f"unexpected character {expression[pos]!r}")
        kind = m.lastgroup or ""
        if kind != "space":
            out.append(_Token(kind, m.group(), pos))
        pos = m.end()
    out.append(_Token("end", "", len(expression)))
    return out


class _Parser:
    def __init__(self, expression: str):
        self.expression = expression
        self.tokens = _tokens(expression)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def fail(self, reason: str, tok: _Token | None = None):
        raise SegmentError(self.expression, (tok or self.tok).pos, reason)

    def take(self) -> _Token:
        tok = self.tok
        self.i += 1
        return tok

    def expect_op(self, op: str, what: str) -> None:
        if self.tok.kind != "op" or self.tok.text != op:
            self.fail(f"expected {what}, found {self._found()}")
        self.take()

    def _found(self) -> str:
        tok = self.tok
        return "the end of the expression" if tok.kind == "end" else repr(tok.text)

    def parse(self) -> Node:
        if self.tok.kind == "end":
            self.fail("empty expression")
        node = self.expression_()
        if self.tok.kind != "end":
            if self.tok.kind == "op" and self.tok.text == ")":
                self.fail("')' without a matching '('")
            self.fail(f"expected 'and', 'or' or the end, found {self._found()}")
        return node

    def expression_(self) -> Node:
        operands = [self.term()]
        while self.tok.keyword == "or":
            self.take()
            operands.append(self.term())
        return operands[0] if len(operands) == 1 else BoolOp("or", tuple(operands))

    def term(self) -> Node:
        operands = [self.factor()]
        while self.tok.keyword == "and":
            self.take()
            operands.append(self.factor())
        return operands[0] if len(operands) == 1 else BoolOp("and", tuple(operands))

    def factor(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"nested more than {MAX_DEPTH} levels deep")
        try:
            tok = self.tok
            if tok.keyword == "not":
                self.take()
                return Not(self.factor())
            if tok.kind == "op" and tok.text == "(":
                self.take()
                node = self.expression_()
                if self.tok.kind != "op" or self.tok.text != ")":
                    self.fail(f"expected ')' to close the '(' at column {tok.pos + 1}, "
                              f"found {self._found()}")
                self.take()
                return node
            return self.test()
        finally:
            self.depth -= 1

    def test(self) -> Test:
        tok = self.tok
        if tok.kind != "word" or tok.keyword is not None or not NAME.fullmatch(tok.text):
            if tok.kind == "end":
                self.fail("expected an attribute name, found the end of the expression")
            self.fail(f"expected an attribute name (letters, digits, _), found {tok.text!r}")
        name = self.take().text
        op = self.tok
        if op.kind == "op" and op.text in ("=", "!="):
            self.take()
            test = Test(name, "=", (self.value(),))
            return test if op.text == "=" else Not(test)  # type: ignore[return-value]
        if op.keyword == "present":
            self.take()
            return Test(name, "present")
        if op.keyword == "not" and self.tokens[self.i + 1].keyword == "in":
            self.take()
            self.take()
            return Not(Test(name, "in", self.value_list()))  # type: ignore[return-value]
        if op.keyword == "in":
            self.take()
            return Test(name, "in", self.value_list())
        self.fail(f"expected '=', '!=', 'in', 'not in' or 'present' after {name!r}, "
                  f"found {self._found()}")
        raise AssertionError  # unreachable

    def value(self) -> str:
        tok = self.tok
        if tok.kind == "quoted":
            value = tok.text[1:-1].replace(tok.text[0] * 2, tok.text[0])
        elif tok.kind == "word":
            value = tok.text
        else:
            self.fail(f"expected a value, found {self._found()}")
        if len(value) > MAX_VALUE_CHARS:
            self.fail(f"value longer than {MAX_VALUE_CHARS} characters")
        self.take()
        return value

    def value_list(self) -> tuple[str, ...]:
        self.expect_op("[", "'[' to open the list of values")
        values = [self.value()]
        while self.tok.kind == "op" and self.tok.text == ",":
            self.take()
            if len(values) >= MAX_VALUES:
                self.fail(f"more than {MAX_VALUES} values in one list")
            values.append(self.value())
        self.expect_op("]", "',' or ']' in the list of values")
        return tuple(dict.fromkeys(values))


def parse(expression: str) -> Node:
    """The tree of ``expression``, or :class:`SegmentError` with the column of the problem."""
    if len(expression) > MAX_EXPRESSION:
        raise SegmentError(expression[:80] + "…", None,
                           f"segment expression longer than {MAX_EXPRESSION} characters")
    return _Parser(expression).parse()


def _attributes(node: Node) -> set[str]:
    if isinstance(node, Test):
        return {node.name}
    if isinstance(node, Not):
        return _attributes(node.operand)
    return set().union(*(_attributes(n) for n in node.operands))


# --------------------------------------------------------------------------- SQL

class AttributeValue(ColumnElement):
    """The text value of one subscriber attribute, in the form an expression index matches."""

    inherit_cache = True
    type = String()
    _traverse_internals = [("name", InternalTraversal.dp_string)]

    def __init__(self, name: str):
        if not NAME.fullmatch(name):  # the name is spliced into SQL: identifiers only
            raise ValueError(f"not an attribute name: {name!r}")
        self.name = name


@compiles(AttributeValue)
def _attribute_default(element: AttributeValue, compiler, **kw) -> str:
    column = compiler.process(Subscriber.__table__.c.attributes, **kw)
    return f"json_extract({column}, '$.{element.name}')"


@compiles(AttributeValue, "postgresql")
def _attribute_postgresql(element: AttributeValue, compiler, **kw) -> str:
    column = compiler.process(Subscriber.__table__.c.attributes, **kw)
    return f"({column} ->> '{element.name}')"


def _clause(node: Node, negate: bool = False) -> ColumnElement[bool]:
    # Negation is pushed down to the tests (De Morgan), so that every test is two-valued —
    # a person without the attribute matches "not role = elu" — and positive tests keep the
    # plain form an index serves.
    if isinstance(node, Not):
        return _clause(node.operand, not negate)
    if isinstance(node, BoolOp):
        parts = [_clause(n, negate) for n in node.operands]
        use_and = (node.op == "and") != negate
        return and_(*parts) if use_and else or_(*parts)
    value = AttributeValue(node.name)
    if node.op == "present":
        return or_(value.is_(None), value == "") if negate else value > ""
    if node.op == "=":
        return or_(value.is_(None), value != node.values[0]) if negate \
            else value == node.values[0]
    return or_(value.is_(None), value.not_in(node.values)) if negate \
        else value.in_(node.values)


def _show(node: Node, top: bool = True) -> str:
    def quote(v: str) -> str:
        return v if re.fullmatch(r"[\w.@+\-]+", v) and v.lower() not in KEYWORDS \
            else '"' + v.replace('"', '""') + '"'

    if isinstance(node, Test):
        if node.op == "present":
            return f"{node.name} present"
        if node.op == "=":
            return f"{node.name} = {quote(node.values[0])}"
        return f"{node.name} in [{', '.join(quote(v) for v in node.values)}]"
    if isinstance(node, Not):
        return f"not {_show(node.operand, False)}"
    inner = f" {node.op} ".join(_show(n, False) for n in node.operands)
    return inner if top else f"({inner})"


@dataclass(frozen=True)
class Segment:
    """A parsed segment: its name (None for an ad-hoc ``--where``) and expression."""

    expression: str
    name: str | None = None
    tree: Node = field(default=None, compare=False, repr=False)  # type: ignore[assignment]

    @classmethod
    def parse(cls, expression: str, name: str | None = None) -> Segment:
        """Parse ``expression``; :class:`SegmentError` names the column of the problem."""
        return cls(expression.strip(), name, parse(expression.strip()))

    @property
    def attributes(self) -> set[str]:
        """The attribute names the expression reads."""
        return _attributes(self.tree)

    @property
    def canonical(self) -> str:
        """The expression re-written in one normal spacing (what runs record)."""
        return _show(self.tree)

    @property
    def label(self) -> str:
        """``elus_sud (departement in [04, 05] and role = elu)`` or the bare expression."""
        return f"{self.name} ({self.canonical})" if self.name else self.canonical

    def clause(self) -> ColumnElement[bool]:
        """A WHERE clause over ``subscribers`` (the query must select from or join it)."""
        return _clause(self.tree)


def resolve_segment(segments: Mapping[str, str], *, name: str | None = None,
                    where: str | None = None) -> Segment | None:
    """The segment named ``name`` in ``segments`` (from letterpress.toml), or ``where``.

    None when neither is given; :class:`SegmentError` for an unknown name or a bad expression.
    """
    if name is not None and where is not None:
        raise SegmentError(where, None, "give a segment name or an expression, not both")
    if name is not None:
        if name not in segments:
            known = ", ".join(sorted(segments)) or "none defined"
            raise SegmentError(name, None, f"unknown segment {name!r} (known: {known})")
        return Segment.parse(segments[name], name)
    if where is not None:
        return Segment.parse(where)
    return None


def count_segment(session: Session, list_name: str, segment: Segment | None, *,
                  status: str | None = "active") -> int:
    """How many subscriptions of ``list_name`` (with ``status``; None: any) are in ``segment``.

    ``segment=None`` counts the whole list.  Read from ``segment_values`` by index ranges
    when its attributes are registered (:func:`ensure_attribute_indexes`; see
    :mod:`.segment_counts`): a large segment costs a share of the list's own count, not one
    look-up per member.
    """
    from .segment_counts import count_in_list  # it builds on this module's tree

    list_id = get_list(session, list_name).id
    return count_in_list(session, list_id, status, segment)


# --------------------------------------------------------------------------- indexes

def attribute_index_name(name: str) -> str:
    """``ix_subscribers_attr_<name>``, the expression index serving attribute ``name``."""
    return f"ix_subscribers_attr_{name.lower()}"[:63]


def ensure_attribute_indexes(session: Session, names: Iterable[str]) -> list[str]:
    """Create the missing expression indexes for these attributes (what a send filters
    with) and register them for segment counts (``segment_values``, see
    :func:`.segment_counts.register_attributes`); returns the indexes created.

    Writes (DDL): call it in a writing session, then commit.  Creating one on a million
    subscribers takes a few seconds, once.
    """
    from .segment_counts import register_attributes

    names = set(names)
    register_attributes(session, names)
    dialect = session.get_bind().dialect.name
    existing = _existing_indexes(session, dialect)
    created = []
    for name in sorted(set(names)):
        if not NAME.fullmatch(name):
            raise ValueError(f"not an attribute name: {name!r}")
        index = attribute_index_name(name)
        if index in existing:
            continue
        if dialect == "postgresql":
            ddl = f"CREATE INDEX IF NOT EXISTS {index} ON subscribers ((attributes ->> '{name}'))"
        else:
            ddl = (f"CREATE INDEX IF NOT EXISTS {index} ON subscribers "
                   f"(json_extract(attributes, '$.{name}'))")
        session.execute(text(ddl))
        created.append(index)
    if created and dialect == "sqlite":
        # Statistics let SQLite's planner prefer a selective attribute index over walking
        # the whole list.
        session.execute(text("ANALYZE subscribers"))
    elif created and dialect == "postgresql":
        session.execute(text("ANALYZE subscribers"))
    return created


def _existing_indexes(session: Session, dialect: str) -> set[str]:
    if dialect == "postgresql":
        rows = session.execute(text(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'subscribers'"))
    else:
        rows = session.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'subscribers'"))
    return {row[0] for row in rows}
