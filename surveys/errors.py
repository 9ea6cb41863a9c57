"""The project's exception classes.

Every error a person can cause says *where* (file, line, column, item id), *what*
went wrong and *how to fix it*. Code catches :class:`TandemError` at the edges (CLI,
Streamlit pages) and shows its message; nothing below those edges prints.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, candidates: Iterable[str], *, cutoff: float = 0.6) -> str:
    """A ``" Did you mean 'x'?"`` suffix for a misspelt ``name``, or ``""``.

    Uses :func:`difflib.get_close_matches` (ratio of matching characters).
    """
    matches = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=1, cutoff=cutoff)
    return f" Did you mean '{matches[0]}'?" if matches else ""


class TandemError(Exception):
    """Base class of every error Tandem raises on purpose.

    Parameters
    ----------
    what
        What went wrong, in one sentence.
    where
        Where it happened (``"instruments/x.yaml:12:5, question 'q3'"``, a campaign id,
        a column name); empty when there is no better place to name.
    fix
        What the person can do about it.
    """

    def __init__(self, what: str, *, where: str = "", fix: str = "") -> None:
        self.what = what
        self.where = where
        self.fix = fix
        super().__init__(self.message)

    @property
    def message(self) -> str:
        text = f"{self.where}: {self.what}" if self.where else self.what
        if self.fix:
            text += f" Fix: {self.fix}"
        return text

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message
