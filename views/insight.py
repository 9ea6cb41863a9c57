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
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from services import insight as results
from services.hierarchy import LEVEL_PREFIX
from services.selection import Selection, SideView, select
from services.settings import DEFAULTS
from services.sources import Dataset, campaign_dataset, campaign_version, demo_dataset, file_dataset, read_upload
from surveys.errors import TandemError
from surveys.yamlsource import decode

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(p.stem for p in (ROOT / "instruments").glob("*.yaml"))
BOOTSTRAP = DEFAULTS.bootstrap

DEMO, CAMPAIGNS, UPLOAD = "Demo data (simulated service-profit chain)", "Campaigns", "Upload a file"
INDENT = "\u00a0\u00a0"  # per level of the organisation in the node picker (no-break spaces do not collapse)
_UPLOAD = "insight:upload:data"  # session key of the uploaded (name, bytes, instrument text)


@dataclass(frozen=True)
class Context:
    """What the pages show: the dataset, the selection and each side's view of it."""

    dataset: Dataset
    selection: Selection
    views: dict[str, SideView]

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
    the demo and campaigns, per session for an upload (nothing of it outlives the session)."""
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
def _choose() -> Dataset | None:
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
        return _campaigns(campaign_version(current_store(), chosen)) if chosen else None
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


def _filters(dataset: Dataset, scope: frozenset[str] | None) -> Selection:
    frames = {side: d.frame for side, d in dataset.sides.items()}
    waves = sorted({str(w) for f in frames.values() if "wave" in f for w in f["wave"].dropna()})
    units = sorted({str(u) for f in frames.values() if "unit" in f for u in f["unit"].dropna()
                    if scope is None or str(u) in scope})
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
        dataset = _choose()
    except TandemError as exc:
        st.error(str(exc))
        st.stop()
    if dataset is None:
        st.info("Choose the data in the sidebar.")
        st.stop()
    from views.signin import current_access

    access = current_access()
    try:
        selection = _filters(dataset, access.scope if access is not None else None)
        views = select(dataset, selection)
    except TandemError as exc:  # e.g. a node outside a manager's units (services.selection.ScopeError)
        st.error(str(exc))
        st.stop()
    sizes = ", ".join(f"{view.n:,} {side} responses" for side, view in views.items())
    st.info(f"**Data:** {dataset.name}. **Selection:** {selection.describe()} ({sizes}).", icon=":material/database:")
    _report_button(Context(dataset, selection, views))
    return Context(dataset, selection, views)


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

            return plan_report(current_store(), ctx.dataset)

        return memo(ctx, "report", lambda: render_report(results.collect_insight(ctx.dataset, ctx.selection),
                                                         action_plans=plans()))

    st.sidebar.download_button("Download the report (HTML)", data=build, file_name="tandem-report.html",
                               mime="text/html", key="insight:report", on_click="ignore")


def labels(ctx: Context) -> dict[str, str]:
    """Construct labels of the data's instruments."""
    return results.construct_labels(*ctx.dataset.instruments.values())


def breakdowns(ctx: Context, side: str) -> dict[str, str]:
    """Columns a side's metrics can be broken down by: ``unit``, the units directly below the
    chosen organisation node, and the demographic questions (column -> label)."""
    data = ctx.dataset.sides[side]
    options = {"unit": "Unit", **results.children_breakdown(ctx.views[side])}
    options.update({q.id: data.instrument.text(q.text) for q in data.instrument.questions if q.id in data.dimensions})
    return options


def figure(ctx: Context, name: str, builder: str, /, *args: Any, **options: Any) -> Any:
    """``reports.charts.<builder>(*args, **options)``, cached with the context and ``name``
    (which must name everything else the figure depends on, e.g. the chosen outcome)."""
    from reports import charts

    return memo(ctx, "figure", lambda: getattr(charts, builder)(*args, **options), name)


# --------------------------------------------------------------------------- cached results
def metrics(ctx: Context, side: str, group: str = "unit") -> dict[str, Any]:
    """:func:`services.insight.headline_metrics` of a side, by ``group``."""
    view = ctx.views[side].nodes_view() if group.startswith(LEVEL_PREFIX) else ctx.views[side]
    return memo(ctx, "metrics", lambda: results.headline_metrics(view, group=group), side, group)


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
