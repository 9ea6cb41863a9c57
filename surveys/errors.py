"""The project's exception classes.

Every error a person can cause says *where* (file, line, column, item id), *what*
went wrong and *how to fix it*. Code catches :class:`TandemError` at the edges (CLI,
Streamlit pages) and shows its message; nothing below those edges prints.
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

#: Longest name a suggestion is looked for (ids have at most 64 characters).
MAX_SUGGEST_NAME = 100
#: Most candidates compared in full for one suggestion: beyond it only those that start
#: with the same character (and then those closest in length) are compared.
MAX_SUGGEST_CANDIDATES = 500


@dataclass
class SuggestionBudget:
    """What the "did you mean" suggestions of one piece of work (a file) may cost.

    ``scans`` counts candidates looked at (a cheap length test each), ``comparisons``
    the full :class:`difflib.SequenceMatcher` ratios (about 12 microseconds each). Once
    either is spent, :func:`did_you_mean` returns ``""``: the problems are still
    reported, without suggestions. The defaults keep a file's suggestions under about a
    second however many misspelt names it has.
    """

    scans: int = 2_000_000
    comparisons: int = 50_000
    suggestions: int = 1_000


_BUDGET: contextvars.ContextVar[SuggestionBudget | None] = contextvars.ContextVar("tandem_suggestions", default=None)


@contextlib.contextmanager
def suggestion_budget(budget: SuggestionBudget | None = None) -> Iterator[SuggestionBudget]:
    """Bound the cost of every :func:`did_you_mean` inside the ``with`` block.

    Nested blocks share the outer budget (a file validated inside a study keeps the
    study's budget).
    """
    current = _BUDGET.get()
    if current is not None:
        yield current
        return
    token = _BUDGET.set(budget or SuggestionBudget())
    try:
        yield _BUDGET.get()  # type: ignore[misc]
    finally:
        _BUDGET.reset(token)


def _aligned(a: str, b: str) -> int:
    """Characters equal at the same place, counted from the start or from the end (the better):
    a cheap stand-in for similarity that survives one substitution, insertion or deletion."""
    front = sum(x == y for x, y in zip(a, b, strict=False))
    back = sum(x == y for x, y in zip(reversed(a), reversed(b), strict=False))
    return max(front, back)


def did_you_mean(name: str, candidates: Iterable[str], *, cutoff: float = 0.6) -> str:
    """A ``" Did you mean 'x'?"`` suffix for a misspelt ``name``, or ``""``.

    Uses difflib's ratio of matching characters (:func:`difflib.get_close_matches`),
    with a cheap prefilter: a ratio of at least ``cutoff`` needs
    ``2 * min(len) / (len(a) + len(b)) >= cutoff``, so candidates of a very different
    length are never compared. When more than :data:`MAX_SUGGEST_CANDIDATES` remain,
    only the :data:`MAX_SUGGEST_CANDIDATES` with the most characters in the same place
    as in ``name`` (aligned at the start or at the end) are compared.
    Inside :func:`suggestion_budget` the total work is bounded as described there.
    """
    name = str(name)
    budget = _BUDGET.get()
    if len(name) > MAX_SUGGEST_NAME or (budget is not None and (
            budget.scans <= 0 or budget.comparisons <= 0 or budget.suggestions <= 0)):
        return ""
    size = len(name)
    kept: list[str] = []
    scanned = 0
    for candidate in candidates:
        scanned += 1
        text = str(candidate)
        length = len(text)
        if 2 * min(length, size) >= cutoff * (length + size) and length <= MAX_SUGGEST_NAME:
            kept.append(text)
    if budget is not None:
        budget.scans -= scanned
        budget.suggestions -= 1
    if len(kept) > MAX_SUGGEST_CANDIDATES:
        kept = heapq.nlargest(MAX_SUGGEST_CANDIDATES, kept, key=lambda c: _aligned(c, name))
    if budget is not None:
        if budget.comparisons < len(kept):
            return ""
        budget.comparisons -= len(kept)
    matches = difflib.get_close_matches(name, kept, n=1, cutoff=cutoff)
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
