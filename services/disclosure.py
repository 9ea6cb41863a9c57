"""The disclosure policy: which groups of respondents any output of Tandem may describe.

Every number, chart, table, comment and file that leaves Tandem describes a *group*
of responses: a filtered selection, a unit, a wave, a demographic band, a row of a
breakdown. Suppressing each group below the minimum size on its own is not enough: two
groups that are both large may differ by one person (north, and north with long
tenure), and subtracting them reveals that person; a total minus its visible rows
reveals the hidden ones. This module makes such subtraction impossible by construction.

The rule
--------
The responses of a data source are cut once into **blocks** (:func:`partition`), each
holding at least ``k`` counted respondents (the instrument's ``min_group_size``).
Every output is computed over a union of whole blocks, never over part of one:

* a selection (waves, units, demographic filters) is narrowed to the largest union of
  blocks inside it (:meth:`Partition.inside`); what that leaves out is said in words;
* a breakdown (by unit, wave, tenure ...) shows for each group the largest union of
  blocks inside it (:meth:`Partition.breakdown`): a group whose blocks all mix with
  other groups is hidden, one that loses some responses is marked as partial.

Any set of responses an attacker can form by adding and subtracting shown groups is
then itself a union of blocks, so it holds ``k`` or more respondents: no count, sum or
mean of fewer than ``k`` people can be recovered from any combination of outputs. The
same holds for item answers: in a block where 1 to ``k - 1`` counted respondents answered
an item, that item's answers are withheld (:func:`mask_items`), so every shown item
statistic pools 0 or at least ``k`` answers per block. Open answers use their own
partition with the higher ``min_comment_group_size``.

How blocks are formed (deterministic, from the data alone)
---------------------------------------------------------
1. Per wave, every unit with at least ``k`` counted respondents is a block candidate.
   Units below ``k`` are pooled ("other units"); if the pool holds fewer than ``k``, the
   smallest large units join it until it does (complementary suppression: otherwise the
   wave total minus the shown units would reveal the pool). A wave with fewer than ``k``
   counted respondents in all is withheld from every output. With an organisation tree
   (``tree``) this is done at every node, bottom-up (:func:`services.hierarchy.unit_groups`):
   small units are pooled with their siblings first, and a node's pool below ``k`` is
   topped up inside the node's subtree, so every node (store, district, region, company)
   with ``k`` or more respondents is a union of whole blocks, and a node minus its shown
   children is one too. Without a tree, the units hang directly below the wave.
2. Each candidate is split by the cross-classification of the demographic columns the
   pages offer as filters (single-choice and drop-down questions, in the instrument's
   order). A cell below ``k`` is merged with the cell it shares most answers with (ties:
   the one sharing the earlier questions, then the smaller, then the first by value)
   until every cell holds ``k`` or more.

Units therefore stay whole first, and demographic detail is kept inside them where the
cells allow. "Counted" respondents are every response, except in employee campaigns
whose links are open to anyone: there only invited (verified) responses count, so
made-up answers cannot pad a small unit up to the threshold.

References
----------
Hundepool, A. et al. (2012). *Statistical Disclosure Control*. Wiley: primary and
secondary (complementary) cell suppression, and differencing attacks on nested tables.
Duncan, G. T., Elliot, M. & Salazar-González, J.-J. (2011). *Statistical
Confidentiality*. Springer, ch. 5 (disclosure by differencing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from services.hierarchy import unit_groups

__all__ = [
    "NO_ANSWER",
    "NO_UNIT",
    "Partition",
    "mask_items",
    "partition",
]

#: Value a missing unit or demographic answer is grouped under.
NO_UNIT = "(no unit)"
NO_ANSWER = "(no answer)"
_ANY = "\x00any"


@dataclass(frozen=True)
class Partition:
    """Responses cut into blocks of at least ``k`` counted respondents.

    Attributes
    ----------
    block
        Block number of each row (positions of the frame it was built on); -1 for rows
        withheld from every output (a wave below ``k`` in all).
    k
        The minimum group size the blocks satisfy.
    counted
        Which rows count toward ``k``.
    """

    block: np.ndarray
    k: int
    counted: np.ndarray

    @property
    def n_blocks(self) -> int:
        """Number of blocks."""
        return int(self.block.max()) + 1 if len(self.block) else 0

    @property
    def withheld(self) -> np.ndarray:
        """Rows that no output may include."""
        return self.block < 0

    def inside(self, mask: Any) -> np.ndarray:
        """The largest union of whole blocks within ``mask`` (a boolean row mask).

        Rows of a block that lies only partly inside ``mask``, and withheld rows, are
        dropped; the result is the set an output of the selection ``mask`` describes.
        """
        mask = np.asarray(mask, dtype=bool)
        valid = ~self.withheld
        outside = np.bincount(self.block[valid & ~mask], minlength=self.n_blocks)
        whole = np.zeros(len(mask), dtype=bool)
        whole[valid] = outside[self.block[valid]] == 0
        return mask & whole

    def is_union(self, mask: Any) -> bool:
        """Whether ``mask`` is exactly a union of whole blocks (no withheld row in it)."""
        mask = np.asarray(mask, dtype=bool)
        return bool(np.array_equal(self.inside(mask), mask))

    def breakdown(self, rows: Any, values: pd.Series) -> tuple[np.ndarray, dict[str, str]]:
        """A breakdown of ``rows`` (a union of blocks) by ``values``, as it may be shown.

        Each group's row describes the largest union of blocks inside it: the blocks
        whose rows all share that value. A block mixing values (cells merged because
        one was below ``k``) belongs to no group's row.

        Parameters
        ----------
        rows
            Boolean row mask, normally the result of :meth:`inside`.
        values
            The breakdown column (unit, wave, a demographic answer), aligned with the
            frame's rows; missing values form the group ``"(no answer)"``.

        Returns
        -------
        labels
            Per row of ``rows`` (in order): its group, or None when its block mixes groups.
        status
            Group -> ``"whole"`` (the row holds every response of the group),
            ``"partial"`` (some are left out) or ``"hidden"`` (none may be shown).
        """
        rows = np.asarray(rows, dtype=bool)
        keys = _text(pd.Series(values).iloc[np.flatnonzero(rows)], NO_ANSWER)  # only the rows described
        frame = pd.DataFrame({"block": self.block[rows], "value": keys})
        pure = frame.groupby("block")["value"].transform("nunique").to_numpy() == 1
        labels = np.where(pure, keys, None)
        status = {}
        for value, part in frame.assign(pure=pure).groupby("value", sort=True):
            kept = int(part["pure"].sum())
            status[str(value)] = "whole" if kept == len(part) else "partial" if kept else "hidden"
        return labels, status


def _text(values: pd.Series | Any, missing: str) -> np.ndarray:
    series = pd.Series(values)
    out = series.astype("string").fillna(missing)
    return out.to_numpy(dtype=object)


def partition(frame: pd.DataFrame, *, k: int, dimensions: Sequence[str] = (), counted: Any = None,
              wave: str = "wave", unit: str = "unit", tree: Mapping[str, str | None] | None = None) -> Partition:
    """Cut a response frame into blocks of at least ``k`` counted respondents.

    Parameters
    ----------
    frame
        One row per response, with the ``wave`` and ``unit`` columns where present
        (absent: one wave, one unit).
    k
        Minimum group size (``min_group_size``, or ``min_comment_group_size`` for open
        answers).
    dimensions
        The demographic columns offered as filters and breakdowns.
    counted
        Boolean per row: counts toward ``k`` (default: every row).
    tree
        Unit -> parent unit (``None`` for the root) of the organisation the units belong
        to (:func:`services.hierarchy.parents_of`); ``None``: no organisation.

    Returns
    -------
    Partition

    Notes
    -----
    The procedure is the module's "How blocks are formed". It depends only on the
    data, never on the selection being shown, which is what makes every pair of
    outputs safe to compare.
    """
    n = len(frame)
    counted = np.ones(n, dtype=bool) if counted is None else np.asarray(counted, dtype=bool)
    waves = _text(frame[wave], "") if wave in frame else np.full(n, "", dtype=object)
    units = _text(frame[unit], NO_UNIT) if unit in frame else np.full(n, NO_UNIT, dtype=object)
    dims = [_text(frame[d], NO_ANSWER) for d in dimensions if d in frame]
    cells = np.column_stack(dims) if dims else np.empty((n, 0), dtype=object)
    # each row's demographic cell as one integer (rows of equal cells share it), so that
    # _split groups a candidate's rows without a Python loop over them
    codes = (pd.DataFrame(cells).groupby(list(range(cells.shape[1])), sort=False).ngroup().to_numpy()
             if dims else np.zeros(n, dtype=np.int64))
    block = np.full(n, -1, dtype=np.int64)
    next_id = 0
    table = pd.DataFrame({"wave": waves, "unit": units, "counted": counted.astype(int)})
    for _, rows in table.groupby("wave", sort=True):
        by_unit = rows.groupby("unit", sort=True)
        sizes = by_unit["counted"].sum()
        at = by_unit.indices  # unit -> its rows' positions in ``rows``, once (not one scan per group)
        index = rows.index.to_numpy()
        for group in unit_groups(sizes.to_dict(), k, tree):
            chosen = [at[u] for u in group if u in at]
            positions = index[np.sort(np.concatenate(chosen))] if chosen else index[:0]
            for part in _split(positions, cells, counted, k, codes):
                block[part] = next_id
                next_id += 1
    return Partition(block=block, k=int(k), counted=counted)


def _split(positions: np.ndarray, cells: np.ndarray, counted: np.ndarray, k: int,
           codes: np.ndarray) -> list[np.ndarray]:
    """Step 2: split one candidate by its demographic cells (``codes``: each row's cell as an
    integer), merging cells below k."""
    if cells.shape[1] == 0 or len(positions) == 0:
        return [positions]
    order = np.argsort(codes[positions], kind="stable")
    ordered, sorted_codes = positions[order], codes[positions][order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    members: dict[tuple, list[int]] = {tuple(cells[rows[0]]): rows.tolist()
                                       for rows in np.split(ordered, starts[1:])}
    size = {key: int(counted[rows].sum()) for key, rows in members.items()}
    while len(members) > 1:
        small = [key for key in members if size[key] < k]
        if not small:
            break
        cell = min(small, key=lambda key: (size[key], key))
        others = sorted(key for key in members if key != cell)
        partner = max(others, key=lambda key: (*_agreement(cell, key), -size[key]))  # first of equals
        merged = tuple(a if a == b else _ANY for a, b in zip(cell, partner, strict=True))
        rows = members.pop(cell) + members.pop(partner)
        total = size.pop(cell) + size.pop(partner)
        if merged in members:  # an earlier merge already generalised to the same key
            rows += members.pop(merged)
            total += size.pop(merged)
        members[merged], size[merged] = rows, total
    return [np.asarray(sorted(rows), dtype=np.int64) for _, rows in sorted(members.items())]


def _agreement(a: tuple, b: tuple) -> tuple[int, tuple[bool, ...]]:
    """How alike two cells are: the number of shared answers, then which ones (an earlier
    dimension first), so merging gives up the later demographic questions first."""
    same = tuple(x == y and x != _ANY for x, y in zip(a, b, strict=True))
    return sum(same), same


def mask_items(frame: pd.DataFrame, blocks: Partition, items: Sequence[str]) -> pd.DataFrame:
    """The frame with each item's answers withheld in blocks where someone answered it
    but fewer than k counted respondents did (so every item statistic pools no answer or
    answers of at least k counted respondents per block). Returns a copy when anything
    is withheld, else ``frame`` itself."""
    out = frame
    valid = ~blocks.withheld
    for item in items:
        if item not in frame:
            continue
        given = frame[item].notna().to_numpy() & valid
        anyone = np.bincount(blocks.block[given], minlength=blocks.n_blocks)
        counted = np.bincount(blocks.block[given & blocks.counted], minlength=blocks.n_blocks)
        thin = (anyone > 0) & (counted < blocks.k)
        if not thin.any():
            continue
        rows = np.zeros(len(frame), dtype=bool)
        rows[valid] = thin[blocks.block[valid]]
        if out is frame:
            out = frame.copy()
        out.loc[rows, item] = np.nan if pd.api.types.is_numeric_dtype(frame[item]) else None
    return out
