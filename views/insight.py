"""Shared parts of the Insight pages (``views/insight_*.py``): the data choice, the filters, caches.

Thin: the data comes from :mod:`services.sources` (demo, campaigns with their pinned
instrument versions, or an uploaded file), the selection and every number from
:mod:`services.insight`, i.e. through the disclosure policy. This module only draws the
sidebar, keeps the choice in the session, and caches results.

The choice stays put: the data source, the campaigns, the upload and every filter are
kept in the session under keys of their own, so moving between pages never resets them
and never falls back to the demo without saying so. Every page names the data in use at
its top (:func:`context`).

Organisation and scope: when the data's units belong to an organisation, the filters
offer a node (a store, district, region or the company: its subtree's responses) and the
metrics a breakdown by the node's children. A unit manager's session (``views.signin
.current_access``) is offered only the nodes and units of their subtrees, and the scope
goes into the :class:`~services.selection.Selection` itself, so the services keep every
number of every page and of the report inside it, whatever the widgets' state says.

Caches: analyses of the demo and of campaigns are kept per process, keyed by the data's
version (campaign ids with their response count and state) and the selection, so a page
reopens from the cache and recomputes only when new responses arrive. An upload and
everything computed from it live only in the session that uploaded it.

Published results (:mod:`services.published`, ``tandem analyze publish``): when the chosen
campaigns have a publication for exactly their current version, the filters come from it,
and a selection it holds (no filter, a published node) is shown from it without reading a
response: the views are :class:`PublishedView` and :func:`memo` answers from the
publication. Anything it lacks (another breakdown, a search, the report) reads the data
then, once per process, and computes as without a publication.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from services import insight as results
from services import published
from services.hierarchy import LEVEL_PREFIX
from services.selection import Choices, Selection, SideView, choices, select
from services.settings import DEFAULTS
from services.sources import Dataset, campaign_dataset, demo_dataset, file_dataset, read_upload
from surveys.errors import TandemError
from surveys.yamlsource import decode

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(p.stem for p in (ROOT / "instruments").glob("*.yaml"))
BOOTSTRAP = DEFAULTS.bootstrap

DEMO, CAMPAIGNS, UPLOAD = "Demo data (simulated service-profit chain)", "Campaigns", "Upload a file"
INDENT = "\u00a0\u00a0"  # per level of the organisation in the node picker (no-break spaces do not collapse)
_UPLOAD = "insight:upload:data"  # session key of the uploaded (name, bytes, instrument text)


class PublishedView:
    """A side's view as a publication describes it (:class:`services.published.SideSummary`);
    any other attribute reads the data and answers from the real
    :class:`~services.selection.SideView` (once per process)."""

    def __init__(self, summary: published.SideSummary, instrument: Any, load: Callable[[], SideView]) -> None:
        self.side, self.n, self.empty, self.note = summary.side, summary.n, summary.empty, summary.note
        self.k, self.min_comment_group_size = summary.k, summary.min_comment_group_size
        self.instrument = instrument
        self._load = load
        self._view: SideView | None = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # never load for a private lookup (copying, pickling probes)
            raise AttributeError(name)
        if self._view is None:  # the disclosure policy's view is built once, not per attribute
            self._view = self._load()
        return getattr(self._view, name)


@dataclass(frozen=True)
class Context:
    """What the pages show: the dataset, the selection and each side's view of it.

    With a publication (:mod:`services.published`), ``dataset`` has no responses,
    ``views`` are :class:`PublishedView` and ``load`` reads the real dataset.
    """

    dataset: Dataset
    selection: Selection
    views: dict[str, Any]
    publication: published.Publication | None = None
    load: Callable[[], Dataset] | None = None

    def full(self) -> Dataset:
        """The dataset with its responses (read now if only a publication was used)."""
        return self.dataset if self.load is None else self.load()

    @property
    def sides(self) -> tuple[str, ...]:
        """The sides of the data (``employee``, ``customer``)."""
        return tuple(self.views)

    @property
    def linked(self) -> bool:
        """Whether a study links the two sides."""
        return self.dataset.study.study is not None and len(self.views) == 2

    @property
    def key(self) -> tuple:
        """Cache key: the data's version and the selection."""
        return (self.dataset.version, self.selection)


# --------------------------------------------------------------------------- state that stays put
def _keep(key: str) -> Callable[[], None]:
    """Restore a widget's value kept from another page, and keep it on change.

    Streamlit forgets a widget's state when another page runs, even if that page draws a
    widget with the same key; the value is therefore also kept under a key of its own
    and written back before the widget is drawn (the ``on_change`` callback updates it
    before the script reruns).
    """
    shadow = f"_kept:{key}"
    if shadow in st.session_state:
        st.session_state[key] = st.session_state[shadow]

    def remember() -> None:
        st.session_state[shadow] = st.session_state[key]

    return remember


def _widget(factory: Callable[..., Any], label: str, *args: Any, key: str, **options: Any) -> Any:
    remember = _keep(key)
    value = factory(label, *args, key=key, on_change=remember, **options)
    st.session_state[f"_kept:{key}"] = value
    return value


# --------------------------------------------------------------------------- caches
@st.cache_resource(show_spinner=False)
def _process_cache() -> dict[tuple, Any]:
    return {}


def memo(ctx: Context, name: str, function: Callable[[], Any], *extra: Any) -> Any:
    """``function()`` cached under the context's key, ``name`` and ``extra``: per process for
    the demo and campaigns, per session for an upload (nothing of it outlives the session);
    taken from the context's publication when it holds ``(name, *extra)``."""
    if ctx.publication is not None and (name, *extra) in ctx.publication.results:
        found = ctx.publication.results[name, *extra]
        if isinstance(found, published.Refused):
            raise found.error()
        return found
    if ctx.dataset.kind == "file":
        store = st.session_state.setdefault("insight:memo", {})
    else:
        store = _process_cache()
    key = (ctx.key, name, *extra)
    if key not in store:
        if len(store) > 256:
            store.clear()
        store[key] = function()
    return store[key]


@st.cache_resource(show_spinner="Loading the demo data ...")
def _demo() -> Dataset:
    return demo_dataset()


@st.cache_resource(show_spinner="Loading responses ...", max_entries=8)
def _campaigns(version: tuple) -> Dataset:
    from views.gateway import current_store

    dataset = campaign_dataset(current_store(), [entry[0] for entry in version[1:]])
    return dataset


def _published_data(version: tuple) -> published.PublishedData | None:
    """The publication of the campaigns' version (kept per process once found; looked up
    again on every run until there is one, so a new publication is seen at once)."""
    from views.gateway import current_store

    cache = _process_cache()
    key = ("published", version)
    if key not in cache:
        found = published.published_data(current_store(), version)
        if found is None:
            return None
        cache[key] = found
    return cache[key]


def _publication(version: tuple, node: str) -> published.Publication | None:
    from views.gateway import current_store

    cache = _process_cache()
    key = ("publication", version, node)
    if key not in cache:
        cache[key] = published.publication(current_store(), version, node)
    return cache[key]


def _upload_dataset() -> Dataset | None:
    stored = st.session_state.get(_UPLOAD)
    if stored is None:
        return None
    name, data, instrument_text, digest = stored
    cached = st.session_state.get("insight:upload:dataset")
    if cached is not None and cached.version == ("file", digest):
        return cached
    from surveys.loader import load_instrument, parse_instrument

    instrument = (load_instrument(ROOT / "instruments" / f"{instrument_text}.yaml") if instrument_text in SHIPPED
                  else parse_instrument(instrument_text, source="uploaded instrument"))
    dataset = file_dataset({"upload": (instrument, read_upload(name, data))}, name=f"the uploaded file {name}",
                           version=("file", digest))
    st.session_state["insight:upload:dataset"] = dataset
    return dataset


# --------------------------------------------------------------------------- sidebar
def _choose() -> Dataset | published.PublishedData | None:
    """The chosen data: a dataset, the publication of the chosen campaigns' version, or None."""
    kind = _widget(st.sidebar.radio, "Data", [DEMO, CAMPAIGNS, UPLOAD], key="insight:source")
    if kind == DEMO:
        st.sidebar.caption("40 simulated units from a known service-profit chain (the data of `tandem demo`).")
        return _demo()
    if kind == CAMPAIGNS:
        from surveys import campaigns
        from views.gateway import current_store

        try:
            listing = campaigns.list_campaigns(current_store())
        except TandemError as exc:
            st.sidebar.warning(f"The campaign store is not available: {exc}")
            return None
        if listing.empty:
            st.sidebar.info("No campaigns yet.")
            return None
        known = listing["campaign"].tolist()
        if "_kept:insight:campaigns" in st.session_state:
            st.session_state["_kept:insight:campaigns"] = [c for c in st.session_state["_kept:insight:campaigns"]
                                                          if c in known]
        chosen = _widget(st.sidebar.multiselect, "Campaigns (waves of a survey are combined; an employee and a "
                         "customer survey are linked through their units)", known, key="insight:campaigns")
        if not chosen:
            return None
        version = published.sorted_version(current_store(), chosen)
        try:
            found = _published_data(version)
        except TandemError as exc:  # altered or unreadable: the responses are still there
            st.sidebar.warning(f"The published results cannot be used ({exc}); computing from the responses.")
            found = None
        return found or _campaigns(version)
    return _choose_upload()


def _choose_upload() -> Dataset | None:
    stored = st.session_state.get(_UPLOAD)
    if stored is not None:
        st.sidebar.caption(f"Using the uploaded file **{stored[0]}** (kept for this session only).")
        if st.sidebar.button("Remove the upload", key="insight:upload:remove"):
            for key in (_UPLOAD, "insight:upload:dataset", "insight:memo"):
                st.session_state.pop(key, None)
            st.rerun()
        return _upload_dataset()
    data = st.sidebar.file_uploader("Responses (CSV, Excel or SPSS .sav)", type=["csv", "xlsx", "sav"],
                                    key="insight:upload")
    shipped = _widget(st.sidebar.selectbox, "Instrument", ["(upload a YAML file)", *SHIPPED], key="insight:shipped")
    yaml_file = None
    if shipped == "(upload a YAML file)":
        yaml_file = st.sidebar.file_uploader("Instrument YAML", type=["yaml", "yml"], key="insight:yaml")
    if data is None or (yaml_file is None and shipped == "(upload a YAML file)"):
        st.sidebar.caption("One row per response, one column per item id, and a `unit` column for unit results.")
        return None
    content = data.getvalue()
    instrument_text = shipped if yaml_file is None else decode(yaml_file.getvalue(), source=yaml_file.name)
    digest = hashlib.sha256(content + instrument_text.encode("utf-8")).hexdigest()
    st.session_state[_UPLOAD] = (data.name, content, instrument_text, digest)
    return _upload_dataset()


def _filters(dataset: Dataset, offered: Choices, scope: frozenset[str] | None) -> Selection:
    waves = list(offered.waves)
    units = [u for u in offered.units if scope is None or u in scope]
    where: dict[str, list[str]] = {}
    node = _node(dataset, scope)
    with st.sidebar.expander("Filters", expanded=False):
        chosen_waves = _pick("Wave", waves, "insight:waves") if len(waves) > 1 else []
        chosen_units = _pick("Units", units, "insight:units")
        for side, data in dataset.sides.items():
            instrument = data.instrument
            for column in data.dimensions:
                question = next(q for q in instrument.questions if q.id == column)
                labels = {o.value: instrument.text(o.label) for o in question.options}
                values = _pick(f"{instrument.text(question.text)} ({side}s)", list(labels),
                               f"insight:where:{side}:{column}", format_func=labels.get)
                if values:
                    where[column] = values
    return Selection.of(waves=chosen_waves, units=chosen_units, where=where, node=node, scope=scope)


def _node(dataset: Dataset, scope: frozenset[str] | None) -> str:
    """The organisation node picker (only the nodes of the scope): "" for the whole data."""
    org = dataset.org
    if org is None:
        return ""
    nodes = [u for u in org.subtree(org.root) if scope is None or u in scope]
    tops = [u for u in nodes if scope is not None and org.parent(u) not in scope]
    options = nodes if len(tops) == 1 else ["", *nodes]  # a manager of one unit starts at it
    shadow = "_kept:insight:node"
    if st.session_state.get(shadow) not in options:  # a node of another organisation, or outside the scope
        st.session_state.pop(shadow, None)
        st.session_state.pop("insight:node", None)
    everything = "Everything" if scope is None else "All the units you manage"

    def name(unit: str) -> str:
        if not unit:
            return everything
        return f"{INDENT * org.depth(unit)}{org.unit(unit).name} ({org.level_of(unit)})"

    return _widget(st.sidebar.selectbox, "Organisation unit (with the units below it)", options, key="insight:node",
                   format_func=name)


def _pick(label: str, options: list[str], key: str, **extra: Any) -> list[str]:
    shadow = f"_kept:{key}"
    if shadow in st.session_state:  # drop kept values the data no longer has
        st.session_state[shadow] = [v for v in st.session_state[shadow] if v in options]
    return _widget(st.multiselect, label, options, key=key, **extra)


def context() -> Context:
    """The sidebar's data and filters, named at the top of the page; stops the page when
    there is no data yet."""
    try:
        chosen = _choose()
    except TandemError as exc:
        st.error(str(exc))
        st.stop()
    if chosen is None:
        st.info("Choose the data in the sidebar.")
        st.stop()
    from views.signin import current_access

    access = current_access()
    try:
        if isinstance(chosen, published.PublishedData):
            selection = _filters(chosen.dataset, chosen.choices, access.scope if access is not None else None)
            ctx = _published_context(chosen, selection)
        else:
            selection = _filters(chosen, choices(chosen), access.scope if access is not None else None)
            ctx = Context(chosen, selection, select(chosen, selection))
    except TandemError as exc:  # e.g. a node outside a manager's units (services.selection.ScopeError)
        st.error(str(exc))
        st.stop()
    sizes = ", ".join(f"{view.n:,} {side} responses" for side, view in ctx.views.items())
    st.info(f"**Data:** {ctx.dataset.name}. **Selection:** {selection.describe()} ({sizes}).",
            icon=":material/database:")
    if ctx.publication is not None:
        st.caption(f"Shown from the results published {ctx.publication.computed_at:%Y-%m-%d %H:%M} UTC for exactly "
                   "these responses; other choices are computed from the responses when asked for.")
    _report_button(ctx)
    return ctx


def _published_context(data: published.PublishedData, selection: Selection) -> Context:
    """The context of a selection on published data: from the publication when it holds the
    selection, else from the responses (read now)."""
    version = data.dataset.version

    def load() -> Dataset:
        return _campaigns(version)

    node = published.published_node(selection, data)
    found = _publication(version, node) if node is not None else None
    if found is None:
        dataset = load()
        return Context(dataset, selection, select(dataset, selection))

    def side_view(side: str) -> Callable[[], SideView]:
        return lambda: select(load(), selection)[side]

    views = {side: PublishedView(summary, data.dataset.sides[side].instrument, side_view(side))
             for side, summary in found.summaries.items()}
    return Context(data.dataset, selection, views, found, load)


def shown(view: SideView) -> bool:
    """Whether a side's selection may be shown; otherwise says why, in words, and returns False.
    A selection that leaves some responses out says so too."""
    if view.empty:
        st.warning(view.note)
        return False
    if view.note:
        st.caption(view.note)
    return True


def side_choice(ctx: Context, label: str = "Survey") -> str:
    """A radio between the sides of the data (employee/customer), kept across pages."""
    if len(ctx.sides) == 1:
        return ctx.sides[0]
    return _widget(st.radio, label, list(ctx.sides), key="insight:side", horizontal=True,
                   format_func=str.capitalize)


def _report_button(ctx: Context) -> None:
    def build() -> str:
        from reports.html import render_report

        def plans() -> object:
            if ctx.dataset.kind != "campaigns":
                return None
            from services.action_plans import plan_report
            from views.gateway import current_store

            return plan_report(current_store(), ctx.full())

        return memo(ctx, "report", lambda: render_report(results.collect_insight(ctx.full(), ctx.selection),
                                                         action_plans=plans()))

    st.sidebar.download_button("Download the report (HTML)", data=build, file_name="tandem-report.html",
                               mime="text/html", key="insight:report", on_click="ignore")


def labels(ctx: Context) -> dict[str, str]:
    """Construct labels of the data's instruments."""
    return results.construct_labels(*ctx.dataset.instruments.values())


def breakdowns(ctx: Context, side: str) -> dict[str, str]:
    """:func:`services.insight.metric_breakdowns` of a side."""
    return memo(ctx, "breakdowns", lambda: results.metric_breakdowns(ctx.views[side]), side)


def compare_options(ctx: Context, side: str) -> dict[str, str]:
    """:func:`services.insight.compare_breakdowns` of a side."""
    return memo(ctx, "compare_breakdowns", lambda: results.compare_breakdowns(ctx.views[side]), side)


def has_comments(ctx: Context, side: str) -> bool:
    """Whether any open answer of the side's selection may be shown."""
    return memo(ctx, "has_comments", lambda: bool(ctx.views[side].comment_rows.any()), side)


def figure(ctx: Context, name: str, builder: str, /, *args: Any, **options: Any) -> Any:
    """``reports.charts.<builder>(*args, **options)``, cached with the context and ``name``
    (which must name everything else the figure depends on, e.g. the chosen outcome)."""
    from reports import charts

    return memo(ctx, "figure", lambda: getattr(charts, builder)(*args, **options), name)


# --------------------------------------------------------------------------- cached results
def metrics(ctx: Context, side: str, group: str = "unit") -> dict[str, Any]:
    """:func:`services.insight.headline_metrics` of a side, by ``group``."""
    def compute() -> dict[str, Any]:
        view = ctx.views[side]
        return results.headline_metrics(view.nodes_view() if group.startswith(LEVEL_PREFIX) else view, group=group)

    return memo(ctx, "metrics", compute, side, group)


def trend(ctx: Context, side: str, name: str) -> Any:
    """:func:`services.insight.metric_trend` of a side's metric."""
    return memo(ctx, "trend", lambda: results.metric_trend(ctx.views[side], name), side, name)


def responses(ctx: Context, side: str) -> Any:
    """:func:`services.insight.responses_by_unit` of a side."""
    return memo(ctx, "responses", lambda: results.responses_by_unit(ctx.views[side]), side)


def health(ctx: Context, side: str) -> Any:
    """:func:`services.insight.instrument_health` of a side."""
    with st.spinner("Checking the instrument (reliability, CFA, HTMT) ..."):
        return memo(ctx, "health", lambda: results.instrument_health(ctx.views[side]), side)


def parallel(ctx: Context, side: str) -> Any:
    """:func:`services.insight.parallel_analysis` of a side."""
    with st.spinner("Parallel analysis ..."):
        return memo(ctx, "parallel", lambda: results.parallel_analysis(ctx.views[side]), side)


def drivers(ctx: Context, side: str) -> dict[str, Any]:
    """:func:`services.insight.respondent_drivers` of a side."""
    with st.spinner("Key drivers with bootstrap intervals ..."):
        return memo(ctx, "drivers", lambda: results.respondent_drivers(ctx.views[side]), side)


def linkage(ctx: Context) -> Any:
    """:func:`services.insight.linkage` of the two sides with the dataset's study."""
    with st.spinner("Linking employees and customers through units ..."):
        return memo(ctx, "linkage", lambda: results.linkage(ctx.views, ctx.dataset.study.study,
                                                            kpis=ctx.dataset.kpis))


def benchmark(ctx: Context) -> Any:
    """The parent of a manager's node as their comparison (:func:`services.insight.parent_benchmark`),
    or None: only for a scoped session on its own node without other filters, whose parent
    lies outside the scope (leadership chooses the parent itself)."""
    selection = ctx.selection
    if selection.scope is None or not selection.node or selection.waves or selection.units or selection.where:
        return None
    found = memo(ctx, "benchmark", lambda: results.parent_benchmark(ctx.full(), selection.node))
    return found if found is not None and found.parent not in selection.scope else None


def comments(ctx: Context, side: str, search: str) -> Any:
    """:func:`services.insight.comments` of a side."""
    return memo(ctx, "comments", lambda: results.comments(ctx.views[side], search=search), side, search)


def campaign_table(ctx: Context) -> Any:
    """The chosen campaigns (name, instrument, wave, state, invitations, responses), or None;
    without invitations and responses for a scoped (manager) session."""
    if ctx.dataset.kind != "campaigns":
        return None
    from views.gateway import current_store

    chosen = [c for data in ctx.dataset.sides.values() for c in data.campaigns]
    listing = results.campaign_list(current_store())
    listing = listing[listing["campaign"].isin(chosen)]
    columns = ["campaign", "name", "instrument", "version", "audience", "wave", "state", "invited", "responses"]
    if ctx.selection.scope is not None:  # a manager: the campaign's totals are the whole organisation's
        columns = columns[:-2]
    return listing[columns]
