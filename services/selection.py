"""A selection (waves, units, demographic filters) and what of it the disclosure policy lets out.

A :class:`Selection` is what a user chose; :func:`select` turns it, for one side of a
:class:`~services.sources.Dataset`, into a :class:`SideView`: the rows every output of
that selection is computed on (the largest union of disclosure blocks inside the
selection, :meth:`services.disclosure.Partition.inside`), the breakdowns it may show,
and in words what was left out and why. Outputs never see the other rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from services.sources import Dataset, SideData

__all__ = ["HIDDEN_LABEL", "PARTIAL_LABEL", "Selection", "SideView", "select"]

#: Shown for a group hidden so that it cannot be told apart from a smaller one.
HIDDEN_LABEL = "hidden (protects a smaller group)"
#: Shown beside a group whose figures leave out some of its responses.
PARTIAL_LABEL = "part: some responses left out to protect a smaller group"


@dataclass(frozen=True)
class Selection:
    """Waves, units and demographic answers chosen (empty: everything).

    ``where`` is a tuple of ``(column, values)`` pairs, e.g. ``(("tenure_band", ("long",)),)``.
    """

    waves: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def of(cls, *, waves: Sequence[Any] = (), units: Sequence[Any] = (),
           where: Mapping[str, Sequence[Any]] | None = None) -> Selection:
        """A selection from plain sequences (values compared as text)."""
        return cls(tuple(str(w) for w in waves), tuple(str(u) for u in units),
                   tuple((c, tuple(str(v) for v in vs)) for c, vs in (where or {}).items() if vs))

    @property
    def is_everything(self) -> bool:
        """No filter chosen."""
        return not (self.waves or self.units or self.where)

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows of ``frame`` the selection keeps (a filter on a column the frame lacks keeps all)."""
        keep = np.ones(len(frame), dtype=bool)
        for column, values in (("wave", self.waves), ("unit", self.units), *self.where):
            if values and column in frame:
                keep &= frame[column].astype("string").isin(values).fillna(False).to_numpy(dtype=bool)
        return keep

    def describe(self) -> str:
        """The selection in words."""
        parts = []
        if self.waves:
            parts.append("waves " + ", ".join(self.waves))
        if self.units:
            parts.append("units " + ", ".join(self.units))
        parts += [f"{column} = {' or '.join(values)}" for column, values in self.where]
        return "; ".join(parts) if parts else "all responses"


@dataclass(frozen=True)
class SideView:
    """One side of a dataset under a selection, as the disclosure policy lets it out.

    Attributes
    ----------
    side
        ``"employee"`` or ``"customer"``.
    data
        The side's :class:`~services.sources.SideData`.
    selection
        What was chosen.
    chosen
        Rows the selection names.
    shown
        Rows outputs are computed on: the largest union of disclosure blocks in ``chosen``.
    """

    side: str
    data: SideData = field(repr=False)
    selection: Selection
    chosen: np.ndarray = field(repr=False)
    shown: np.ndarray = field(repr=False)

    @property
    def instrument(self) -> Any:
        """The side's instrument."""
        return self.data.instrument

    @property
    def k(self) -> int:
        """The minimum group size."""
        return self.data.min_group_size

    @cached_property
    def frame(self) -> pd.DataFrame:
        """The responses every output of this selection describes (thin item answers withheld)."""
        return self.data.masked[self.shown]

    @property
    def n(self) -> int:
        """Responses shown."""
        return int(self.shown.sum())

    @property
    def empty(self) -> bool:
        """Nothing of the selection may be shown."""
        return not self.shown.any()

    @property
    def note(self) -> str | None:
        """In words, why the selection shows nothing or leaves something out (None when
        it shows exactly what was chosen). Never says how many were left out."""
        k, side = self.k, self.side
        if not self.chosen.any():
            return f"No {side} responses match these filters."
        if self.empty:
            return (f"Nothing is shown for these filters: the {side} responses they select cannot be separated from "
                    f"groups of fewer than {k} respondents (directly, or by comparing with another choice or a "
                    "total), which would let someone work out individual answers. Widen the filters: choose whole "
                    "units, more units, or drop a demographic filter.")
        if not np.array_equal(self.shown, self.chosen):
            return (f"Some {side} responses of this choice are left out: they belong to groups of fewer than {k} "
                    "respondents, or to groups that cannot be split this way without revealing one. The numbers "
                    "describe the rest.")
        return None

    def groups(self, column: str) -> dict[str, str]:
        """Breakdown of the shown rows by ``column``: group -> ``"whole"``, ``"partial"``
        or ``"hidden"`` (:meth:`services.disclosure.Partition.breakdown`)."""
        if column not in self.data.frame:
            return {}
        return self.data.blocks.breakdown(self.shown, self.data.frame[column])[1]

    def grouped(self, column: str, hidden: str = "\x00hidden") -> pd.Series:
        """``column`` of :attr:`frame` with every response that belongs to no group's row
        (its block mixes groups) given the label ``hidden``: one pooled group of whole
        blocks, which is never shown itself."""
        labels, _ = self.data.blocks.breakdown(self.shown, self.data.frame[column])
        return pd.Series(labels, index=self.frame.index, dtype=object).fillna(hidden)

    @cached_property
    def comment_rows(self) -> np.ndarray:
        """Rows whose open answers may be shown: whole blocks of at least
        ``min_comment_group_size`` inside the selection."""
        return self.data.comment_blocks.inside(self.chosen)

    def comment_labels(self, column: str) -> pd.Series:
        """``column`` of the comment rows, None where the row's comment block mixes groups
        (its group may not be named beside its open answer)."""
        rows = self.data.frame[self.comment_rows]
        if column not in rows:
            return pd.Series(None, index=rows.index, dtype=object)
        labels, _ = self.data.comment_blocks.breakdown(self.comment_rows, self.data.frame[column])
        return pd.Series(labels, index=rows.index, dtype=object)


def select(dataset: Dataset, selection: Selection | None = None) -> dict[str, SideView]:
    """Each side of ``dataset`` under ``selection`` (default: everything)."""
    selection = selection or Selection()
    views = {}
    for side, data in dataset.sides.items():
        chosen = selection.mask(data.frame)
        views[side] = SideView(side, data, selection, chosen, data.blocks.inside(chosen))
    return views
