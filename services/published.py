"""The Insight pages' first view of every chosen organisation node, computed ahead and kept in the store.

At real scale (a million responses) reading the responses from the store takes about
20 s and the analyses most of a minute, so every first visit of a page would wait that
long. :func:`publish` runs, once per data version, what each Insight page shows first
(:func:`page_results`: the same functions of :mod:`services.insight` the pages call,
with the pages' default choices), for the whole data and for the organisation nodes
asked for, and stores it (:mod:`surveys.published`) as JSON (:mod:`services.result_codec`).

A page whose selection is a published one (no filter, a published node; a manager's
own node counts, since their scope does not narrow it) renders from the publication
without reading a response (:func:`publication`). Anything else (a filter, another
breakdown, a search, the report) reads the data and computes, exactly as with no
publication. Numbers are the same either way: a publication holds the pages' own
results, computed through the disclosure policy, for exactly the version it names; a
new response or a closed campaign makes a new version, for which nothing is published.

Nothing in a publication is more than the pages show: the disclosure policy has been
applied, the per-respondent scored frame of instrument health and fitted models are
left out (``metadata={"stored": False}``), and an analysis that failed is kept as its
refusal (:class:`Refused`), so the page says the same thing it would have said.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from services import insight as results
from services.hierarchy import LEVEL_PREFIX
from services.invariance import health_invariance
from services.result_codec import dumps, loads
from services.selection import Choices, Selection, SideView, choices, select
from services.sources import Dataset, SideData, campaign_dataset, campaign_version
from services.studies import study_for
from surveys import published as stored
from surveys.errors import TandemError, did_you_mean
from surveys.organisation import Organisation, OrgUnit

__all__ = ["DATA_NODE", "Publication", "PublishedData", "Refused", "SideSummary", "page_results", "publication",
           "publish", "published_data", "published_node", "sorted_version"]

#: Node key of the data's description (not a unit id: those start with a letter or digit).
DATA_NODE = "#data"


@dataclass(frozen=True)
class Refused:
    """An analysis that could not run on the data, kept so the page says why (as it would live)."""

    message: str
    where: str = ""
    fix: str = ""

    def error(self) -> TandemError:
        """The refusal as the error the analysis raised."""
        return TandemError(self.message, where=self.where, fix=self.fix)


@dataclass(frozen=True)
class SideSummary:
    """What the pages read of a :class:`~services.selection.SideView` besides its results."""

    side: str
    n: int
    empty: bool
    note: str | None
    k: int
    min_comment_group_size: int


@dataclass(frozen=True)
class Publication:
    """One node's published page results.

    Attributes
    ----------
    node
        The organisation node (``""``: everything).
    summaries
        Side -> :class:`SideSummary`.
    results
        Page result key (``("metrics", "customer", "unit")``, as the pages' caches name
        them) -> the result, or :class:`Refused`.
    computed_at
        When it was computed (UTC).
    """

    node: str
    summaries: Mapping[str, SideSummary]
    results: Mapping[tuple, Any]
    computed_at: dt.datetime


@dataclass(frozen=True)
class _SideShell:
    campaigns: tuple[str, ...]
    columns: tuple[str, ...]
    min_group_size: int
    min_comment_group_size: int


@dataclass(frozen=True)
class _DataShell:
    name: str
    sides: Mapping[str, _SideShell]
    choices: Choices
    kpis: pd.DataFrame | None
    org_units: tuple[OrgUnit, ...] | None
    computed_at: dt.datetime


@dataclass(frozen=True)
class PublishedData:
    """A publication's description of the data: a :class:`~services.sources.Dataset` without
    responses (instruments, thresholds, organisation, study, KPIs), the filter choices and
    the nodes published."""

    dataset: Dataset
    choices: Choices
    nodes: tuple[str, ...]
    computed_at: dt.datetime = field(compare=False)


# --------------------------------------------------------------------------- what the pages show first
def _attempt(function: Callable[[], Any]) -> Any:
    try:
        return function()
    except TandemError as exc:
        return Refused(str(getattr(exc, "message", exc)), getattr(exc, "where", "") or "",
                       getattr(exc, "fix", "") or "")


def page_results(dataset: Dataset, views: Mapping[str, SideView]) -> dict[tuple, Any]:
    """What every Insight page computes on its first visit of ``views``, under the keys the
    pages cache it by (:func:`views.insight.memo`): per side the breakdown choices,
    headline metrics (by unit and by the node's children), trends, responses, instrument
    health, invariance, parallel analysis, drivers, the first comparison and the comments;
    the linkage when the data are linked; the parent's benchmark for a node's manager."""
    out: dict[tuple, Any] = {}
    for side, view in views.items():
        out["has_comments", side] = bool(view.comment_rows.any()) if not view.empty else False
        if view.empty:
            continue
        breakdowns = out["breakdowns", side] = results.metric_breakdowns(view)
        compare_by = out["compare_breakdowns", side] = _attempt(lambda v=view: results.compare_breakdowns(v))
        metrics = out["metrics", side, "unit"] = results.headline_metrics(view)
        for group in breakdowns:
            if group != "unit" and group.startswith(LEVEL_PREFIX):
                out["metrics", side, group] = results.headline_metrics(view.nodes_view(), group=group)
        for name in metrics:
            out["trend", side, name] = results.metric_trend(view, name)
        out["responses", side] = results.responses_by_unit(view)
        out["health", side] = _attempt(lambda v=view: results.instrument_health(v))
        out["invariance", side] = _attempt(lambda v=view: health_invariance(v))
        out["parallel", side] = _attempt(lambda v=view: results.parallel_analysis(v))
        out["drivers", side] = _attempt(lambda v=view: results.respondent_drivers(v))
        if isinstance(compare_by, dict) and compare_by:
            first = next(iter(compare_by))
            out["compare", side, first, "holm"] = _attempt(lambda v=view, by=first: results.compare(v, by=by))
        if out["has_comments", side]:
            out["comments", side, ""] = results.comments(view)
    study = dataset.study.study
    if study is not None and len(views) == 2 and not any(v.empty for v in views.values()):
        out["linkage",] = _attempt(lambda: results.linkage(views, study, kpis=dataset.kpis))
    node = next(iter(views.values())).selection.node if views else ""
    if node:
        out["benchmark",] = results.parent_benchmark(dataset, node)
    return out


def _summary(view: SideView) -> SideSummary:
    return SideSummary(view.side, view.n, view.empty, view.note, view.k, view.data.min_comment_group_size)


# --------------------------------------------------------------------------- publishing
def _nodes(dataset: Dataset, levels: Iterable[str] | None, under: str | None = None) -> list[str]:
    """``""`` and the organisation's units at ``levels`` (None: every level but the leaves');
    with ``under``, only the units at ``levels`` in that unit's subtree (no ``""``)."""
    org = dataset.org
    if org is None:
        if under:
            raise TandemError(f"{dataset.name} has no organisation, so nothing is under '{under[:80]}'",
                              where="--under", fix="import the organisation first ('tandem org import').")
        return [""]
    chosen = set(org.levels[:-1] if levels is None else levels)
    unknown = chosen - set(org.levels)
    if unknown:
        raise TandemError(f"no level '{sorted(unknown)[0]}' in the organisation", where="--level",
                          fix="choose among: " + ", ".join(org.levels) + ".")
    if under and under not in org:
        raise TandemError(f"no unit '{under[:80]}' in the organisation", where="--under",
                          fix=did_you_mean(under, list(org.units)).strip() or f"its root is '{org.root}'.")
    inside = [u for u in org.subtree(under or org.root) if org.level_of(u) in chosen]
    return inside if under else ["", *inside]


def publish(store: Any, campaign_ids: Sequence[str], *, levels: Iterable[str] | None = None,
            under: str | None = None, progress: Callable[[str, int, int], None] | None = None) -> pd.DataFrame:
    """Compute and store the Insight pages' first view of the campaigns, for everything
    and for the organisation's nodes at ``levels``.

    Parameters
    ----------
    store
        The open store (:func:`surveys.store.open_store`).
    campaign_ids
        The campaigns, as a page would choose them (order does not matter).
    levels
        Organisation level names to publish every node of; None: every level above
        the leaves.
    under
        An organisation unit: publish only the nodes at ``levels`` in its subtree (for
        example ``levels=["store"], under="region_north"``), adding them to what is
        already published for the same data version.
    progress
        Called with ``(node, done, total)`` before each node.

    Returns
    -------
    DataFrame
        ``node, n_employee, n_customer, seconds, bytes, refused`` per published node
        (``refused``: the analyses kept as refusals).
    """
    ids = sorted(campaign_ids)
    dataset = campaign_dataset(store, ids)
    nodes = _nodes(dataset, levels, under)
    now = dt.datetime.now(dt.UTC)
    payloads: dict[str, bytes] = {}
    rows = []
    for done, node in enumerate(nodes):
        if progress is not None:
            progress(node, done, len(nodes))
        start = time.perf_counter()
        views = select(dataset, Selection.of(node=node))
        found = page_results(dataset, views)
        payload = dumps(Publication(node, {s: _summary(v) for s, v in views.items()}, found, now))
        payloads[node] = payload
        rows.append({"node": node or "(everything)", **{f"n_{s}": v.n for s, v in views.items()},
                     "seconds": round(time.perf_counter() - start, 2), "bytes": len(payload),
                     "refused": ", ".join(" ".join(map(str, k)) for k, v in found.items() if isinstance(v, Refused))})
    org = dataset.org
    shell = _DataShell(
        name=dataset.name, choices=choices(dataset), kpis=dataset.kpis, computed_at=now,
        org_units=None if org is None else tuple(org.units.values()),
        sides={side: _SideShell(data.campaigns, tuple(data.frame.columns), data.min_group_size,
                                data.min_comment_group_size) for side, data in dataset.sides.items()})
    payloads[DATA_NODE] = dumps(shell)
    stored.save(store, dataset.version, payloads)
    return pd.DataFrame(rows)


def _read(store: Any, version: tuple, node: str, kind: type) -> Any:
    data = stored.load(store, version, node)
    if data is None:
        return None
    value = loads(data)
    if not isinstance(value, kind):
        raise TandemError(f"the published results of node '{node}' are not what was published", where="store",
                          fix="publish the results again (`tandem analyze publish`).")
    return value


# --------------------------------------------------------------------------- reading
def published_data(store: Any, version: tuple) -> PublishedData | None:
    """The published description of the data at ``version`` (see
    :func:`services.sources.campaign_version`, campaigns sorted), or None when nothing is
    published for exactly that version."""
    from surveys import campaigns

    shell = _read(store, version, DATA_NODE, _DataShell)
    if shell is None:
        return None
    org = None if shell.org_units is None else Organisation(shell.org_units)
    sides = {}
    for side, part in shell.sides.items():
        chosen = [campaigns.get_campaign(store, c) for c in part.campaigns]
        latest = max(chosen, key=lambda c: (str(c.wave), c.id))
        sides[side] = SideData(instrument=latest.instrument, frame=pd.DataFrame(columns=list(part.columns)),
                               counted=np.zeros(0, dtype=bool), min_group_size=part.min_group_size,
                               min_comment_group_size=part.min_comment_group_size, campaigns=part.campaigns,
                               org=org)
    instruments = {side: data.instrument for side, data in sides.items()}
    dataset = Dataset("campaigns", shell.name, version, sides, study_for(instruments, kpis=shell.kpis), shell.kpis)
    published = tuple(node for node in stored.node_names(store, version) if node != DATA_NODE)
    return PublishedData(dataset, shell.choices, published, shell.computed_at)


def published_node(selection: Selection, data: PublishedData) -> str | None:
    """The published node that shows exactly ``selection``, or None: no filter, a published
    node, and a scope (a manager's) that holds the node's whole subtree."""
    if selection.waves or selection.units or selection.where or selection.node not in data.nodes:
        return None
    if selection.scope is None:
        return selection.node
    org = data.dataset.org
    if not selection.node or org is None:
        return None
    return selection.node if set(org.subtree(selection.node)) <= selection.scope else None


def publication(store: Any, version: tuple, node: str) -> Publication | None:
    """The published page results of ``node`` at ``version``, or None."""
    return _read(store, version, node, Publication)


def sorted_version(store: Any, campaign_ids: Sequence[str]) -> tuple:
    """:func:`services.sources.campaign_version` of the campaigns in sorted order (the order
    publications are computed and found in)."""
    return campaign_version(store, sorted(campaign_ids))

