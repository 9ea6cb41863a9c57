"""The organisation tree in the disclosure policy: blocks along subtrees, node selections, manager scopes.

The disclosure policy (:mod:`services.disclosure`) cuts responses into blocks of at
least ``k``; step 1 takes the units of a wave as block candidates. With an organisation
(:class:`surveys.organisation.Organisation`) the candidates follow its tree, so that the
responses of every node (a store, its district, its region, the company) are a union of
whole blocks wherever they can be, and a node's children can be shown beside it without
revealing a hidden one (:func:`unit_groups`). Without an organisation the tree is the
wave with its units directly below, which is the flat rule the policy always had.

Also here: the columns that name each response's node at every level
(:func:`level_column`, :func:`node_columns`, :func:`child_column`), which selections of
a node and breakdowns by its children use (:mod:`services.selection`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

__all__ = ["LEVEL_PREFIX", "child_column", "level_column", "node_columns", "parents_of", "unit_groups"]

#: Prefix of the columns naming a response's node at one level (``org:district``); ``:``
#: never occurs in a question id, so these never collide with an instrument's columns.
LEVEL_PREFIX = "org:"
_TOP = "\x00wave"  # the virtual node above the organisation's root: one wave's responses


def level_column(level: str) -> str:
    """The column naming each response's node at ``level`` (``org:district``)."""
    return f"{LEVEL_PREFIX}{level}"


def parents_of(org: Any) -> dict[str, str | None]:
    """Unit id -> parent id (``None`` for the root) of an organisation."""
    return {unit_id: unit.parent for unit_id, unit in org.units.items()}


def child_column(org: Any, node: str) -> str | None:
    """The column of the level just below ``node`` (its children), ``None`` for a leaf."""
    depth = org.depth(node)
    return level_column(org.levels[depth + 1]) if depth + 1 < len(org.levels) else None


def node_columns(units: pd.Series, org: Any) -> pd.DataFrame:
    """For each response's unit, its node at every level of ``org`` (one column per level,
    :func:`level_column`; NA at the levels below the unit and for units outside the organisation)."""
    values = pd.Series(units).astype("string")
    lookup: dict[str, dict[str, str]] = {}
    for unit in values.dropna().unique():
        unit = str(unit)
        if unit in org:
            lookup[unit] = {org.level_of(u): u for u in (unit, *org.ancestors(unit))}
    columns = {}
    for level in org.levels:
        mapping = {unit: nodes[level] for unit, nodes in lookup.items() if level in nodes}
        columns[level_column(level)] = values.map(mapping).astype("string")
    return pd.DataFrame(columns, index=values.index)


def unit_groups(sizes: Mapping[str, int], k: int, parents: Mapping[str, str | None] | None = None) -> list[list[str]]:
    """Step 1 of the disclosure policy for one wave: its units as block candidates, along the tree.

    Parameters
    ----------
    sizes
        Unit -> counted respondents of the wave (every unit with responses, also those
        with 0 counted).
    k
        The minimum group size.
    parents
        Unit -> parent unit (``None`` for the root) of the organisation; units of
        ``sizes`` not in it, and the root, hang directly below the wave. ``None``: every
        unit directly below the wave (the flat rule).

    Returns
    -------
    list of list of str
        The candidates (each a list of units, each holding ``k`` or more counted
        respondents); ``[]`` when the wave holds fewer than ``k`` in all.

    Notes
    -----
    Bottom-up over the tree, at every node: a unit with ``k`` or more counted
    respondents is a candidate of its own; what its children leave over (units below
    ``k``, or pooled lower down) is pooled. A pool of ``k`` or more becomes a candidate.
    A smaller pool is topped up with the smallest candidates of the node's subtree, one at
    a time, until it holds ``k`` (complementary suppression at this level: otherwise the
    node's total minus its shown children would reveal the pool); only a node with fewer
    than ``k`` in its whole subtree passes its pool up to its parent. So small units are
    pooled with their siblings before anyone else, and a node holding ``k`` or more is a
    union of whole candidates unless a relative with fewer than ``k`` had to be pooled with
    it (then the parent minus this node would reveal the relative, so one of the two must
    stay hidden). Whatever is shown is a union of blocks (:mod:`services.disclosure`), so a
    parent minus its shown children is one too. Ties are broken by unit ids, so the result
    depends on the data and the tree alone.
    """
    parents = parents or {}
    children: dict[str, list[str]] = {_TOP: []}
    seen: set[str] = {_TOP}
    for unit in sorted(sizes):
        node = unit
        while node not in seen:
            seen.add(node)
            parent = parents.get(node) if node in parents else None
            parent = _TOP if parent is None or parent not in parents else parent
            children.setdefault(parent, []).append(node)
            node = parent
    if sum(sizes.values()) < k:
        return []
    closed, pool, size = _visit(_TOP, children, sizes, k)
    if pool:  # the wave itself: top up from anywhere (its total holds k, so this ends with k)
        closed, pool, size = _top_up(closed, pool, size, k)
        closed.append((size, pool))
    return [units for _, units in closed]


def _visit(node: str, children: Mapping[str, list[str]], sizes: Mapping[str, int],
           k: int) -> tuple[list[tuple[int, list[str]]], list[str], int]:
    """(candidates inside the subtree with their sizes, the pool left over, its size)."""
    closed: list[tuple[int, list[str]]] = []
    pool: list[str] = []
    size = 0
    if node in sizes:
        if sizes[node] >= k:
            closed.append((int(sizes[node]), [node]))
        else:
            pool, size = [node], int(sizes[node])
    for child in sorted(children.get(node, ())):
        inner, left, left_size = _visit(child, children, sizes, k)
        closed += inner
        pool += left
        size += left_size
    if not pool or node == _TOP:
        return closed, pool, size
    if size < k and not closed:  # the whole subtree holds fewer than k: its parent pools it
        return closed, pool, size
    closed, pool, size = _top_up(closed, pool, size, k)
    return [*closed, (size, pool)], [], 0


def _top_up(closed: list[tuple[int, list[str]]], pool: list[str], size: int,
            k: int) -> tuple[list[tuple[int, list[str]]], list[str], int]:
    """Join the smallest candidates (ties: the first by units) to ``pool`` until it holds ``k``."""
    remaining = sorted(closed, key=lambda c: (c[0], sorted(c[1])))
    pool = list(pool)
    while size < k and remaining:
        joined, units = remaining.pop(0)
        pool += units
        size += joined
    return remaining, pool, size
