"""A selection (waves, units, an organisation node, demographic filters) and what of it the disclosure policy lets out.

A :class:`Selection` is what a user chose; :func:`select` turns it, for one side of a
:class:`~services.sources.Dataset`, into a :class:`SideView`: the rows every output of
that selection is computed on (the largest union of disclosure blocks inside the
selection, :meth:`services.disclosure.Partition.inside`), the breakdowns it may show,
and in words what was left out and why. Outputs never see the other rows.

An organisation node (``node``: a store, a district, a region, the company) selects the
responses of its subtree; :attr:`SideView.children_column` is the column that breaks it
down by the units directly below it (``org:<level>``, :mod:`services.hierarchy`).

A manager's selection carries their ``scope`` (the units of the subtrees they manage,
set by the sign-in, :func:`surveys.auth.access_for_email`): :func:`select` keeps every
view inside it whatever else the selection says, and refuses a node or unit outside it
(:class:`ScopeError`), so a tampered widget state or a selection built by hand never
leaves the manager's subtree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from services.disclosure import NO_ANSWER
from services.hierarchy import child_column
from services.sources import Dataset, SideData
from surveys.errors import TandemError, did_you_mean

__all__ = ["HIDDEN_LABEL", "PARTIAL_LABEL", "Choices", "ScopeError", "Selection", "SelectionError", "SideView",
           "choices", "select"]

#: Shown for a group hidden so that it cannot be told apart from a smaller one.
HIDDEN_LABEL = "hidden (protects a smaller group)"
#: The units filter of a view whose node and scope hold no unit of the data (no unit id looks like it).
NO_UNITS = "(no unit of yours)"
#: Shown beside a group whose figures leave out some of its responses.
PARTIAL_LABEL = "part: some responses left out to protect a smaller group"


class SelectionError(TandemError):
    """A selection that cannot be applied to the data (an unknown organisation node)."""


class ScopeError(SelectionError):
    """A selection reaching outside the units a signed-in manager may see."""


@dataclass(frozen=True)
class Selection:
    """Waves, units, an organisation node and demographic answers chosen (empty: everything).

    Attributes
    ----------
    waves, units
        Waves and units chosen (empty: all).
    where
        ``(column, values)`` pairs, e.g. ``(("tenure_band", ("long",)),)``.
    node
        An organisation unit id: its subtree's responses ("": no node, the whole data).
    scope
        The units a scoped (manager) sign-in may see, every unit of their subtrees;
        ``None``: no limit. Set by the session, never by a widget.
    """

    waves: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()
    node: str = ""
    scope: frozenset[str] | None = None

    @classmethod
    def of(cls, *, waves: Sequence[Any] = (), units: Sequence[Any] = (),
           where: Mapping[str, Sequence[Any]] | None = None, node: str | None = None,
           scope: Any = None) -> Selection:
        """A selection from plain sequences (values compared as text)."""
        return cls(tuple(str(w) for w in waves), tuple(str(u) for u in units),
                   tuple((c, tuple(str(v) for v in vs)) for c, vs in (where or {}).items() if vs),
                   str(node or ""), None if scope is None else frozenset(str(u) for u in scope))

    @property
    def is_everything(self) -> bool:
        """No filter chosen and no scope."""
        return not (self.waves or self.units or self.where or self.node) and self.scope is None

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
        if self.node:
            parts.append(f"unit {self.node} and the units below it")
        if self.units:
            parts.append("units " + ", ".join(self.units))
        parts += [f"{column} = {' or '.join(values)}" for column, values in self.where]
        if self.scope is not None:
            parts.append("within the units you manage")
        return "; ".join(parts) if parts else "all responses"


@dataclass(frozen=True)
class Choices:
    """The waves and units a dataset's responses hold (the filters offered), as text, sorted."""

    waves: tuple[str, ...]
    units: tuple[str, ...]


def choices(dataset: Dataset) -> Choices:
    """The waves and units of every side's responses (:class:`Choices`)."""
    frames = [d.frame for d in dataset.sides.values()]
    waves = {str(w) for f in frames if "wave" in f for w in f["wave"].dropna().unique()}
    units = {str(u) for f in frames if "unit" in f for u in f["unit"].dropna().unique()}
    return Choices(tuple(sorted(waves)), tuple(sorted(units)))


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
    with_nodes
        Whether :attr:`frame` carries the organisation's node columns (:meth:`nodes_view`).
    """

    side: str
    data: SideData = field(repr=False)
    selection: Selection
    chosen: np.ndarray = field(repr=False)
    shown: np.ndarray = field(repr=False)
    with_nodes: bool = False

    @property
    def instrument(self) -> Any:
        """The side's instrument."""
        return self.data.instrument

    @property
    def k(self) -> int:
        """The minimum group size."""
        return self.data.min_group_size

    @property
    def min_comment_group_size(self) -> int:
        """The minimum group size of open answers."""
        return self.data.min_comment_group_size

    @cached_property
    def frame(self) -> pd.DataFrame:
        """The responses every output of this selection describes (thin item answers withheld);
        in a :meth:`nodes_view`, with the organisation's node columns (``org:<level>``) as the
        policy lets them out: a node where the row's block lies inside it, else empty."""
        frame = self.data.masked[self.shown]
        if not self.with_nodes:
            return frame
        nodes = {column: self._labels(column) for column in self.data.nodes.columns}
        return frame.assign(**{column: pd.Series(labels, index=frame.index, dtype=object).replace(NO_ANSWER, None)
                               for column, labels in nodes.items()})

    def nodes_view(self) -> SideView:
        """This view with the node columns in :attr:`frame`, for breakdowns by an organisation
        level (``headline_metrics(view.nodes_view(), group=view.children_column)``). Row-level
        files are written from plain views: their comment groups do not know these columns."""
        return replace(self, with_nodes=True)

    @cached_property
    def _breakdowns(self) -> dict[str, tuple[np.ndarray, dict[str, str]]]:
        return {}

    def _breakdown(self, column: str) -> tuple[np.ndarray, dict[str, str]]:
        """:meth:`services.disclosure.Partition.breakdown` of the shown rows by ``column``, once per column."""
        if column not in self._breakdowns:
            self._breakdowns[column] = self.data.blocks.breakdown(self.shown, self.data.column(column))
        return self._breakdowns[column]

    def _labels(self, column: str) -> np.ndarray:
        return self._breakdown(column)[0]

    @property
    def children_column(self) -> str | None:
        """The column breaking the selection down by the units directly below its node (the
        root's children without a node, unless scoped); ``None`` without an organisation or at a leaf."""
        org = self.data.org
        if org is None or (self.selection.node and self.selection.node not in org) or (
                not self.selection.node and self.selection.scope is not None):
            return None
        return child_column(org, self.selection.node or org.root)

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
        if not self.data.has_column(column):
            return {}
        return dict(self._breakdown(column)[1])

    def grouped(self, column: str, hidden: str = "\x00hidden") -> pd.Series:
        """``column`` of :attr:`frame` with every response that belongs to no group's row
        (its block mixes groups) given the label ``hidden``: one pooled group of whole
        blocks, which is never shown itself."""
        return pd.Series(self._labels(column), index=self.frame.index, dtype=object).fillna(hidden)

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
    """Each side of ``dataset`` under ``selection`` (default: everything).

    A node keeps the responses of its subtree, a scope those of the units it holds; a
    side without a ``unit`` column then keeps none. Each view's :attr:`SideView.selection`
    names the units it may list (those of the node and scope the side holds).

    Raises
    ------
    SelectionError
        A node the data's organisation does not have (or data without an organisation).
    ScopeError
        A node or unit outside the selection's scope.
    """
    selection = selection or Selection()
    reach = _reach(dataset, selection)
    views = {}
    for side, data in dataset.sides.items():
        chosen = selection.mask(data.frame)
        narrowed = selection
        if reach is not None:
            inside = np.zeros(len(data.frame), dtype=bool)
            present = {u for u in reach if u in data.unit_rows}
            for unit in present:
                inside[data.unit_rows[unit]] = True
            chosen &= inside
            known = present | {u.id for u in data.instrument.units}  # units of the survey without responses too
            listed = [u for u in (selection.units or sorted(known)) if u in reach]
            # an empty units filter would mean "all": name one unit of the reach that holds nothing instead
            narrowed = replace(selection, units=tuple(listed) or (selection.node or min(reach, default=NO_UNITS),))
        views[side] = SideView(side, data, narrowed, chosen, data.blocks.inside(chosen))
    return views


def _reach(dataset: Dataset, selection: Selection) -> frozenset[str] | None:
    """The units a selection's node and scope allow (``None``: no limit), after checking them."""
    reach = selection.scope
    if reach is not None:
        outside = [u for u in (selection.node, *selection.units) if u and u not in reach]
        if outside:
            raise ScopeError(f"unit '{outside[0][:80]}' is outside the units you manage", where="selection",
                             fix="choose one of your own units; ask an admin if you need to see others.")
    if not selection.node:
        return reach
    org = dataset.org
    if org is None:
        raise SelectionError(f"{dataset.name} has no organisation, so unit '{selection.node[:80]}' cannot be "
                             "chosen as a node", where="node",
                             fix="import the organisation ('tandem org import') and choose campaigns whose units "
                                 "belong to it, or choose units instead of a node.")
    if selection.node not in org:
        raise SelectionError(f"no unit '{selection.node[:80]}' in the organisation of {dataset.name}",
                             where="node", fix=did_you_mean(selection.node, list(org.units)).strip()
                             or f"choose a unit of the organisation (its root is '{org.root}').")
    subtree = frozenset(org.subtree(selection.node))
    return subtree if reach is None else subtree & reach
