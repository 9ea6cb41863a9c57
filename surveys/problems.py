"""Problems found in an instrument file, and the error that carries them.

Every stage of loading an instrument (reading the bytes, parsing YAML, checking the
schema, the cross-reference rules) reports what it finds as :class:`Problem` records.
They are collected, not raised one by one, so a person fixing a file sees every
problem at once. :class:`InstrumentError` carries the list; it is the only exception
that loading an instrument raises on purpose.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from surveys.errors import TandemError

__all__ = ["InstrumentError", "Problem"]

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or doubtful) in an instrument file.

    Attributes
    ----------
    file
        The file name as given (or ``"<text>"`` for text without a file).
    line, column
        1-based position in the file; ``0`` when the problem concerns the whole file.
    item
        Id of the nearest enclosing question, matrix row, construct, page, unit or
        scale, or ``""``.
    rule
        The name of the rule that was broken (``unknown-key``, ``duplicate-id``, ...;
        the README lists them all).
    message
        What is wrong, in one sentence.
    fix
        How to fix it (with "Did you mean ..." where a name looks misspelt).
    severity
        ``"error"`` (the file is refused) or ``"warning"`` (the file loads).
    """

    file: str
    line: int
    column: int
    item: str
    rule: str
    message: str
    fix: str = ""
    severity: Severity = "error"

    def format(self) -> str:
        """``file:line:col: error [rule] item 'x': message. Fix: ...`` on one line."""
        where = f"{self.file}:{self.line}:{self.column}"
        item = f" item '{self.item}':" if self.item else ""
        text = f"{where}: {self.severity} [{self.rule}]{item} {self.message.rstrip('.')}."
        if self.fix:
            text += f" Fix: {self.fix}"
        return text


class InstrumentError(TandemError):
    """An instrument file that cannot be loaded.

    Parameters
    ----------
    problems
        Every problem found (errors first, then warnings, each in file order).
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        ordered = sorted(problems, key=lambda p: (p.severity != "error", p.file, p.line, p.column))
        self.problems: list[Problem] = ordered
        errors = [p for p in ordered if p.severity == "error"]
        first = errors[0].format() if errors else ordered[0].format() if ordered else "the instrument is not valid"
        more = len(errors) - 1
        super().__init__(first + (f" (and {more} more error{'s' if more > 1 else ''})" if more > 0 else ""))

    @property
    def message(self) -> str:
        """All problems, one per line."""
        return "\n".join(p.format() for p in self.problems)
