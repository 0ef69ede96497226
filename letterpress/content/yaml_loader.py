"""YAML → plain Python data, remembering where every key and value sits in the file.

PyYAML's own constructors lose positions, accept duplicate keys silently and apply YAML 1.1
guesses (``NO`` → False, ``03`` → 3, ``14:00`` → 840).  Here every plain scalar stays a
string (pydantic does the typing, so ``14:00`` becomes a time and ``03`` stays "03"); only
``null``/``~``/empty become None.  Positions are 1-based (line, column).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..errors import Problem

__all__ = ["Document", "Position", "parse_yaml"]

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Position:
    """Where a node starts: 1-based line and column, plus offsets into the source text."""

    line: int
    column: int
    start: int = 0
    end: int = 0


def _pos(node: Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1,
                    node.start_mark.index, node.end_mark.index)


@dataclass
class Document:
    """The parsed data plus, for every path, the position of its key and of its value."""

    data: Any
    text: str
    values: dict[Path, Position] = field(default_factory=dict)
    keys: dict[Path, Position] = field(default_factory=dict)

    def value_at(self, path: Path) -> Position:
        """The position of the value at ``path``, or of its nearest existing ancestor."""
        while path not in self.values and path:
            path = path[:-1]
        return self.values.get(path, Position(1, 1))

    def key_at(self, path: Path) -> Position:
        """The position of the key naming ``path`` (falls back to its value's position)."""
        return self.keys.get(path) or self.value_at(path)


# libyaml is about 30 times faster than the pure-Python parser and gives the same positions.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# "  title: value" or "  - title: value" on one source line.
_KEY_VALUE = re.compile(r"^(\s*(?:-\s+)*)([^\s:#][^:#]*?):[ \t]+(\S.*)$")
# A plain value followed, on its line, by " #word": YAML reads a comment there.
_CUT_BY_COMMENT = re.compile(r"^([ \t]+)(#\S.*)$")
_SPECIAL_START = {"*": "starts an alias", "&": "starts an anchor", "@": "is reserved",
                  "`": "is reserved", "%": "starts a directive", "!": "starts a tag",
                  "|": "starts a block", ">": "starts a block"}


def _format(path: Path) -> str:
    from .problems import format_path

    return format_path(path)


def _slip(exc: yaml.MarkedYAMLError, text: str) -> tuple[int, int, str] | None:
    """The usual slips of people who do not write YAML every day, in their words:
    (line, column, message) at the value that needs quotes, or None."""
    mark = exc.problem_mark
    if mark is None:
        return None
    lines = text.split("\n")
    for index in (mark.line, mark.line - 1):
        if not 0 <= index < len(lines):
            continue
        match = _KEY_VALUE.match(lines[index])
        if not match:
            continue
        key, value = match.group(2).strip(), match.group(3)
        column = match.start(3) + 1
        if value[0] in _SPECIAL_START and value[0] not in "|>!" and value[0] not in "'\"":
            return (index + 1, column, f"a value starting with '{value[0]}' "
                    f"{_SPECIAL_START[value[0]]} in YAML: put the whole value in quotes, e.g. "
                    f"{key}: \"{value}\"")
        if "mapping values" in (exc.problem or "") and index == mark.line:
            above = _field_above(lines, index)
            if above is not None and len(match.group(1)) > len(above.group(1)):
                # "subject: Test" then " preheader: x": the second line, indented further,
                # continues the value above; quotes would not help, the indentation does.
                return (index + 1, len(match.group(1)) + 1,
                        f"'{key}' is indented more than '{above.group(2).strip()}' on line "
                        f"{index}, so YAML reads it as the rest of that value: indent "
                        f"'{key}' like the field it belongs with")
            return (index + 1, column, f"the value of '{key}' contains ': ', which YAML reads "
                    f"as a new field: put the whole value in quotes, e.g. {key}: \"{value}\"")
    return None


def _field_above(lines: list[str], index: int) -> re.Match[str] | None:
    """The ``key: value`` match of the line just above ``index`` (blank lines skipped)."""
    for before in range(index - 1, -1, -1):
        if lines[before].strip():
            return _KEY_VALUE.match(lines[before])
    return None


def _message(exc: yaml.MarkedYAMLError, text: str) -> str:
    problem = exc.problem or "malformed YAML"
    mark = exc.problem_mark
    at_tab = mark is not None and 0 <= mark.index < len(text) and text[mark.index] == "\t"
    if at_tab or "'\\t'" in problem or " tab " in problem:
        return "tab character: YAML is indented with spaces, never tabs"
    text = f"malformed YAML: {problem}"
    if exc.context:
        text += f" ({exc.context}"
        if exc.context_mark is not None:
            text += f" at line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1}"
        text += ")"
    return text


# An issue is a handful of levels deep (sections → items → links).  Far deeper input is a
# mistake or an attack; it is refused by this guard, at the place it crosses the limit, before
# the parser's own limit (PyYAML's is 1,000 levels, and its wording changes between releases)
# or Python's recursion limit can fire.  MIN_REPORTED_DEPTH: a parser error raised deeper than
# this is also reported as too deep, so the message does not depend on which guard fires first.
MAX_DEPTH = 64
MIN_REPORTED_DEPTH = 16
_TOO_DEEP = "values are nested too deeply"
_OPENING = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSING = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _walk_depth(text: str) -> tuple[Any, int, Any]:
    """(mark where MAX_DEPTH is crossed or None, deepest level seen, mark of a parse error)."""
    depth = deepest = 0
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            if isinstance(event, _OPENING):
                depth += 1
                deepest = max(deepest, depth)
                if depth > MAX_DEPTH:
                    return event.start_mark, deepest, None
            elif isinstance(event, _CLOSING):
                depth -= 1
    except yaml.MarkedYAMLError as exc:
        return None, deepest, exc.problem_mark or exc.context_mark
    except yaml.YAMLError:
        pass
    return None, deepest, None


def _nesting_problem(text: str, file: str) -> Problem | None:
    """The first place where collections nest deeper than MAX_DEPTH, as a Problem, or None.

    Walks the event stream (no tree is built, so this cannot recurse).  The scanner reads up
    to 1,024 characters ahead, so its own depth limit can fire before the events reach ours:
    then the text before its error is walked again, where the events do reach our limit; a
    parser error met deeper than MIN_REPORTED_DEPTH is reported as nesting too, in our words.
    Other syntax errors are left to the composer, which reports them at their position.
    """
    def at(mark: Any) -> Problem:
        return Problem(file, mark.line + 1, mark.column + 1, "", _TOO_DEEP)

    try:
        crossing, deepest, error = _walk_depth(text)
        if crossing is not None:
            return at(crossing)
        if error is None or not 0 < error.index <= len(text):
            return None
        crossing, prefix_deepest, _ = _walk_depth(text[:error.index])
    except RecursionError:
        return Problem(file, 1, 1, "", _TOO_DEEP)
    if crossing is not None:
        return at(crossing)
    if max(deepest, prefix_deepest) > MIN_REPORTED_DEPTH:
        return at(error)
    return None


# An issue has a few thousand nodes; aliases expanding far beyond that are an attack
# ("billion laughs") or a mistake, and would exhaust memory.
MAX_NODES = 200_000


class _TooLarge(Exception):
    pass


class _Builder:
    def __init__(self, file: str, doc: Document):
        self.file = file
        self.doc = doc
        self.problems: list[Problem] = []
        self.count = 0
        self.open: set[int] = set()  # the nodes being built: an alias to one is a cycle
        self.lines = doc.text.split("\n")  # for the slips seen on a value's own line

    def build(self, node: Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooLarge
        self.doc.values[path] = _pos(node)
        if id(node) in self.open:
            self.problems.append(self._problem(node, path, "an alias refers to itself"))
            return None
        if isinstance(node, SequenceNode | MappingNode):
            self.open.add(id(node))
            try:
                return self._collection(node, path)
            finally:
                self.open.discard(id(node))
        if isinstance(node, ScalarNode):
            plain = not node.style  # None from PyYAML, "" from libyaml
            if plain and path and isinstance(path[-1], str):
                line = self.lines[node.start_mark.line]
                match = _KEY_VALUE.match(line) if "&" in line else None
                if match and match.group(3).startswith("&") and match.group(2).strip() == path[-1]:
                    value = match.group(3)
                    self.problems.append(Problem(
                        self.file, node.start_mark.line + 1, match.start(3) + 1, _format(path),
                        f"a value starting with '&' starts an anchor in YAML, so the text is "
                        f"lost: put the whole value in quotes, e.g. {path[-1]}: \"{value}\""))
            if plain and (node.tag == "tag:yaml.org,2002:null" or _NULL.match(node.value)):
                return None
            if plain and path and isinstance(path[-1], str):
                end = node.end_mark
                rest = self.lines[end.line][end.column:] if end.line < len(self.lines) else ""
                cut = _CUT_BY_COMMENT.match(rest) if "#" in rest else None
                if cut:
                    self.problems.append(Problem(
                        self.file, node.end_mark.line + 1,
                        node.end_mark.column + len(cut.group(1)) + 1,
                        _format(path), f"'{cut.group(2)}' starts a comment here, so "
                        f"'{path[-1]}' stops at '{node.value[-30:]}': put the whole value in "
                        "quotes to keep the '#'"))
            return node.value
        return None  # pragma: no cover - PyYAML has no other node kinds

    def _collection(self, node: Node, path: Path) -> Any:
        if isinstance(node, SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode):
                    self.problems.append(self._problem(key_node, path, "keys must be plain words"))
                    continue
                key = key_node.value
                if key == "<<":
                    self.problems.append(self._problem(
                        key_node, path, "merge keys ('<<') are not supported; write the fields"))
                    continue
                if key in result:
                    first = self.doc.keys[path + (key,)]
                    self.problems.append(self._problem(
                        key_node, path + (key,),
                        f"duplicate key '{key}' (first defined at line {first.line})"))
                    continue
                self.doc.keys[path + (key,)] = _pos(key_node)
                result[key] = self.build(value_node, path + (key,))
            return result
        return None  # pragma: no cover

    def _problem(self, node: Node, path: Path, message: str) -> Problem:
        from .problems import format_path

        return Problem(self.file, node.start_mark.line + 1, node.start_mark.column + 1,
                       format_path(path), message)


def parse_yaml(text: str, file: str) -> tuple[Document | None, list[Problem]]:
    """Parse ``text``; returns the document (None if unreadable) and the problems found."""
    too_deep = _nesting_problem(text, file)
    if too_deep is not None:
        return None, [too_deep]
    try:
        nodes = list(yaml.compose_all(text, Loader=_LOADER))
    except yaml.MarkedYAMLError as exc:
        slip = _slip(exc, text)
        if slip is not None:
            return None, [Problem(file, slip[0], slip[1], "", slip[2])]
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return None, [Problem(file, line, column, "", _message(exc, text))]
    except yaml.YAMLError as exc:
        return None, [Problem(file, 1, 1, "", f"malformed YAML: {exc}")]
    except RecursionError:
        return None, [Problem(file, 1, 1, "", _TOO_DEEP)]
    if len(nodes) > 1:
        second = nodes[1]
        return None, [Problem(file, second.start_mark.line + 1, second.start_mark.column + 1, "",
                              "one issue per file: remove the second '---' document")]
    doc = Document(None, text)
    if not nodes or nodes[0] is None:
        return doc, [Problem(file, 1, 1, "", "the file is empty")]
    builder = _Builder(file, doc)
    try:
        doc.data = builder.build(nodes[0], ())
    except RecursionError:
        return None, [Problem(file, 1, 1, "", _TOO_DEEP)]
    except _TooLarge:
        return None, [Problem(file, 1, 1, "", f"too many values (over {MAX_NODES}, counting "
                              "what aliases repeat): an issue is much smaller than that")]
    return doc, builder.problems
