"""Safe reading of YAML instrument files, keeping the line and column of every node.

Stage one of loading an instrument: bytes -> text -> YAML tree -> plain Python data
(dicts, lists, str, int, float, bool, None, dates) plus a :class:`Locations` map
from each node's path (``("pages", 0, "questions", 2, "scale")``) to its 1-based
line and column, so later stages can point at the exact spot of a problem.

Hostile input is refused with an :class:`~surveys.problems.InstrumentError`, never a
traceback: a missing file or a directory, files over :data:`MAX_BYTES`, binary or
non-UTF-8 bytes, YAML syntax errors (tabs included), duplicate keys, nesting deeper
than :data:`MAX_DEPTH`, alias expansion beyond :data:`MAX_ALIASES` aliases or
:data:`MAX_NODES` nodes (the "billion laughs" attack is refused while the tree is
composed, before anything is expanded), and, before any parsing, instruments clearly
over the size limits of :mod:`surveys.limits` (a few regular expressions over the
text: parsing YAML in pure Python costs about 7 ms per KiB, so a 1 MiB file of 9,000
questions would otherwise take ten seconds just to be read). A document of more than
:data:`MAX_NODES` nodes without any alias is named as such (rule ``size-limit``), not
as an alias bomb.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import Composer, MaxDepthExceededError
from ruamel.yaml.error import MarkedYAMLError, ReusedAnchorWarning, YAMLError
from ruamel.yaml.events import AliasEvent

from surveys import limits
from surveys.problems import InstrumentError, Problem

__all__ = [
    "MAX_ALIASES", "MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "Document", "Locations", "decode", "parse_yaml", "read_text",
]

#: Largest instrument file accepted (2 MiB; real instruments are a few dozen KiB).
MAX_BYTES = 2 * 1024 * 1024
#: Most alias nodes (``*name``) accepted in one file.
MAX_ALIASES = 100
#: Most nodes the document may have once aliases are expanded.
MAX_NODES = 200_000
#: Deepest nesting of mappings and lists accepted.
MAX_DEPTH = 40

Path_ = tuple[str | int, ...]


def _refuse(source: str, rule: str, message: str, fix: str, line: int = 0, column: int = 0) -> InstrumentError:
    return InstrumentError([Problem(source, line, column, "", rule, message, fix)])


def read_text(path: str | Path) -> str:
    """The UTF-8 text of an instrument file, refusing what cannot be an instrument.

    Parameters
    ----------
    path
        The file to read.

    Returns
    -------
    str
        The decoded text (a leading byte-order mark removed).

    Raises
    ------
    InstrumentError
        Rule ``file``: missing, a directory, unreadable, larger than
        :data:`MAX_BYTES`, binary (NUL bytes) or not valid UTF-8.
    """
    source = str(path)
    p = Path(path)
    if not p.exists():
        raise _refuse(source, "file", "no such file", "Check the path (instruments live in instruments/*.yaml).")
    if p.is_dir():
        raise _refuse(source, "file", "this is a directory, not an instrument file",
                      f"Give the YAML files inside it, e.g. {source.rstrip('/')}/*.yaml.")
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise _refuse(source, "file", f"the file is {size / 1024 / 1024:.1f} MiB, more than the "
                          f"{MAX_BYTES // 1024 // 1024} MiB an instrument may have",
                          "Instruments are small text files; check that this is the right file.")
        with p.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise _refuse(source, "file", f"cannot read the file ({exc.strerror or exc})",
                      "Check the file's permissions.") from None
    if len(raw) > MAX_BYTES:  # the file grew while we looked
        raise _refuse(source, "file", f"the file is larger than {MAX_BYTES // 1024 // 1024} MiB",
                      "Instruments are small text files; check that this is the right file.")
    return decode(raw, source=source)


def decode(raw: bytes, *, source: str) -> str:
    """Decode instrument bytes as UTF-8, refusing binary data with a position."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _refuse(source, "file", "UTF-16 text, not UTF-8",
                      "Save the file as UTF-8 (most editors offer this under 'Save with encoding').", 1, 1)
    if b"\x00" in raw:
        offset = raw.index(b"\x00")
        raise _refuse(source, "file", f"binary data (a NUL byte at offset {offset}), not a YAML text file",
                      "Give the instrument's .yaml file, saved as UTF-8 text.", *_line_col(raw, offset))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _refuse(source, "file", f"not valid UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                      "Save the file as UTF-8 (most editors offer this under 'Save with encoding').",
                      *_line_col(raw, exc.start)) from None


def _line_col(raw: bytes, offset: int) -> tuple[int, int]:
    before = raw[:offset]
    return before.count(b"\n") + 1, offset - (before.rfind(b"\n") + 1) + 1


class Locations:
    """1-based (line, column) of every node of a parsed YAML document, by path.

    ``value(path)`` is where the value at ``path`` starts, ``key(path)`` where its
    mapping key is written (for list items and the root: the value itself).
    """

    def __init__(self) -> None:
        self._values: dict[Path_, tuple[int, int]] = {}
        self._keys: dict[Path_, tuple[int, int]] = {}

    def _set(self, path: Path_, value: tuple[int, int], key: tuple[int, int] | None = None) -> None:
        self._values[path] = (value[0] + 1, value[1] + 1)
        self._keys[path] = (key[0] + 1, key[1] + 1) if key else self._values[path]

    def value(self, path: Path_) -> tuple[int, int]:
        """Position of the value at ``path`` (or of its nearest located ancestor)."""
        return self._nearest(self._values, path)

    def key(self, path: Path_) -> tuple[int, int]:
        """Position of the key at ``path`` (or of its nearest located ancestor)."""
        return self._nearest(self._keys, path)

    @staticmethod
    def _nearest(table: Mapping[Path_, tuple[int, int]], path: Path_) -> tuple[int, int]:
        for end in range(len(path), -1, -1):
            if path[:end] in table:
                return table[path[:end]]
        return (1, 1)


@dataclass(frozen=True)
class Document:
    """A parsed YAML file: its text, its data as plain Python, and node positions."""

    source: str
    text: str
    data: Any
    locations: Locations


Prescan = Callable[..., list[Problem]]


def parse_yaml(text: str, *, source: str = "<text>", prescan: Prescan | None = limits.prescan) -> Document:
    """Parse YAML text safely into plain data with node positions.

    Parameters
    ----------
    text
        The YAML text.
    source
        The file name to report in problems.
    prescan
        A cheap check of the raw text run before parsing (``prescan(text, source=...)``
        returns problems; any problem refuses the text). The default,
        :func:`surveys.limits.prescan`, refuses instruments clearly over a size limit
        (rule ``size-limit``) in milliseconds, where parsing them would take seconds.
        ``None`` skips it (files that are not instruments).

    Returns
    -------
    Document

    Raises
    ------
    InstrumentError
        Rules ``file`` (too large), ``size-limit`` (the prescan, or more than
        :data:`MAX_NODES` nodes without aliases), ``yaml-syntax``, ``alias-limit``,
        ``nesting-limit`` and ``duplicate-key``.
    """
    if len(text) > MAX_BYTES:
        raise _refuse(source, "file", f"the text is larger than {MAX_BYTES // 1024 // 1024} MiB",
                      "Instruments are small text files; check that this is the right file.")
    if "\x00" in text:
        raise _refuse(source, "file", "binary data (a NUL character), not YAML text",
                      "Give the instrument's .yaml file, saved as UTF-8 text.")
    if prescan is not None:
        found = prescan(text, source=source)
        if found:
            raise InstrumentError(found)
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    yaml.max_depth = MAX_DEPTH
    yaml.Composer = _GuardedComposer
    try:
        with warnings.catch_warnings():  # a reused anchor name is legal YAML: the later one counts
            warnings.simplefilter("ignore", ReusedAnchorWarning)
            tree = yaml.load(text)
    except _LimitExceeded as exc:
        raise _refuse(source, exc.rule, str(exc), exc.fix, exc.line, exc.column) from None
    except MaxDepthExceededError as exc:
        mark = exc.problem_mark
        raise _refuse(source, "nesting-limit", f"mappings and lists are nested more than {MAX_DEPTH} deep",
                      "An instrument needs a few levels; check the indentation.",
                      *((mark.line + 1, mark.column + 1) if mark else (0, 0))) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        what = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        duplicate = "duplicate key" in str(exc).lower()
        raise _refuse(source, "duplicate-key" if duplicate else "yaml-syntax",
                      what.replace("\n", " ") or "invalid YAML",
                      "Remove or rename the repeated key." if duplicate else
                      "Fix the YAML syntax here (indent with spaces, never tabs; quote text containing ': ' or '#').",
                      line, column) from None
    except (YAMLError, ValueError, TypeError, RecursionError) as exc:
        raise _refuse(source, "yaml-syntax", f"cannot parse the YAML ({type(exc).__name__}: {exc})".replace("\n", " "),
                      "Fix the YAML syntax (indent with spaces, never tabs).") from None
    locations = Locations()
    if not isinstance(tree, CommentedMap | CommentedSeq):
        locations._set((), _first_content(text))
    data = _plain(tree, (), locations)
    return Document(source=source, text=text, data=data, locations=locations)


def _first_content(text: str) -> tuple[int, int]:
    """0-based (line, column) of the first line that is not blank or a comment."""
    for number, line in enumerate(text.splitlines()):
        stripped = line.lstrip()
        if stripped and not stripped.startswith("#"):
            return number, len(line) - len(stripped)
    return 0, 0


class _LimitExceeded(Exception):
    """Raised from inside the composer; turned into a problem by :func:`parse_yaml`."""

    def __init__(self, message: str, mark: Any, *, rule: str = "alias-limit",
                 fix: str = "Write the repeated parts out, without nested aliases.") -> None:
        super().__init__(message)
        self.line, self.column = mark.line + 1, mark.column + 1
        self.rule, self.fix = rule, fix


class _GuardedComposer(Composer):
    """ruamel's composer, counting aliases and the size of the document once they are expanded.

    Round-trip loading keeps an alias as a reference to the anchored node, so the
    bomb only explodes when the tree is walked. Each node's expanded size (itself
    plus its children's, memoised by identity) is known as soon as it is composed,
    so the count stops at :data:`MAX_NODES` without expanding anything.
    """

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader=loader)
        self._aliases = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        if isinstance(event, AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _LimitExceeded(f"more than {MAX_ALIASES} aliases (*name)", event.start_mark)
        node = super().compose_node(parent, index)
        size = self._sizes.get(id(node))
        if size is None:
            children = node.value if isinstance(node.value, list) else []
            size = 1 + sum(self._sizes.get(id(child), 1) for entry in children
                           for child in (entry if isinstance(entry, tuple) else (entry,)))
            self._sizes[id(node)] = size
        if size > MAX_NODES:
            if self._aliases:
                raise _LimitExceeded(f"the document expands to more than {MAX_NODES:,} nodes "
                                     "(aliases repeating aliases)", event.start_mark)
            raise _LimitExceeded(f"the document has more than {MAX_NODES:,} nodes (keys, values and list entries); "
                                 "an instrument has a few thousand", event.start_mark, rule="size-limit",
                                 fix="Instruments are small text files; check that this is the right file.")
        return node


def _plain(node: Any, path: Path_, locations: Locations) -> Any:
    """Convert a round-trip tree to plain Python, recording positions on the way."""
    if isinstance(node, CommentedMap):
        if path == ():
            locations._set(path, (node.lc.line, node.lc.col))
        out: dict[str, Any] = {}
        for key, value in node.items():
            name = key if isinstance(key, str) else _key_text(key)
            child = (*path, name)
            try:
                locations._set(child, node.lc.value(key), node.lc.key(key))
            except (KeyError, TypeError, AttributeError):  # merged (<<) keys have no own position
                locations._set(child, (node.lc.line, node.lc.col))
            out[name] = _plain(value, child, locations)
        return out
    if isinstance(node, CommentedSeq):
        if path == ():
            locations._set(path, (node.lc.line, node.lc.col))
        items = []
        for index, value in enumerate(node):
            child = (*path, index)
            try:
                locations._set(child, node.lc.item(index))
            except (KeyError, TypeError, AttributeError):
                locations._set(child, (node.lc.line, node.lc.col))
            items.append(_plain(value, child, locations))
        return items
    return _scalar(node)


def _key_text(key: Any) -> str:
    scalar = _scalar(key)
    if scalar is None:
        return "null"
    if isinstance(scalar, bool):
        return str(scalar).lower()
    return str(scalar)


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if type(value).__name__ == "ScalarBoolean":
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day, value.hour, value.minute, value.second)
    if isinstance(value, dt.date):
        return dt.date(value.year, value.month, value.day)
    if isinstance(value, Mapping):  # sets, ordered maps and other mapping-like tags
        return {_key_text(k): _scalar(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scalar(v) for v in value]
    return str(getattr(value, "value", value))
