"""Shared parts of the Insight pages (``views/insight_*.py``): data source, filters, caches.

The sidebar chooses the data (the demo service-profit chain, two campaigns from the
store, or an uploaded file with its instrument: "bring your own data") and the filters
(wave, units, demographic groups). Every analysis is cached with ``st.cache_resource``
keyed by the data's version (the source key: demo study path, campaign ids with their
response count and last submission time, or the sha256 of an upload) and the filters,
so a page reopens instantly and recomputes only when new responses arrive.

Small groups: a filtered selection smaller than the instrument's minimum group size
shows nothing (:func:`enough`); per-unit numbers come from :mod:`analysis` functions that
suppress small units themselves.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from reports.insight import collect_insight, filter_responses, headline_metrics, respondent_drivers
from surveys.errors import TandemError


ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "instruments" / "studies" / "service_profit_chain.yaml"
SHIPPED = sorted(p.stem for p in (ROOT / "instruments").glob("*.yaml"))
BOOTSTRAP = 200  # resamples for the intervals on the pages (the CLI and report default to more)
SEED = 1

DEMO, CAMPAIGNS, UPLOAD = "Demo data (simulated service-profit chain)", "Campaigns", "Upload a file"


@dataclass(frozen=True)
class Source:
    """The chosen data: a hashable ``key`` (its version), the filters, and what it holds."""

    key: tuple
    filters: tuple
    sides: tuple[str, ...]
    linked: bool
    description: str


# --------------------------------------------------------------------------- loading
@st.cache_resource(show_spinner=False)
def _uploads() -> dict[str, tuple[str, bytes, str]]:
    """sha256 -> (file name, bytes, instrument YAML text) of the uploads of this process."""
    return {}


@st.cache_resource(show_spinner=False)
def _study(path: str) -> Any:
    from analysis.study import load_study

    return load_study(path)


@dataclass(frozen=True)
class Loaded:
    """What a source holds, by side (``employee``/``customer``): instruments, response
    frames, invitations per unit (campaigns with invitations only), and the linking study."""

    instruments: dict[str, Any]
    frames: dict[str, pd.DataFrame]
    study: Any = None
    invited: dict[str, dict[str, int]] = field(default_factory=dict)


@st.cache_resource(show_spinner="Loading responses ...", max_entries=8)
def _load(key: tuple) -> Loaded:
    """The data of a source key (cached: the key is the data's version)."""
    kind = key[0]
    if kind == "demo":
        from tandem_cli.study import demo_frames

        study = _study(key[1])
        employees, customers = demo_frames(study)
        return Loaded({"employee": study.employee, "customer": study.customer},
                      {"employee": employees, "customer": customers}, study)
    if kind == "campaign":
        from surveys import campaigns
        from views.gateway import current_store

        store = current_store()
        instruments, parts, invited = {}, {}, {}
        for campaign_id in key[1]:  # campaigns of one audience are waves of one survey
            instrument = campaigns.get_campaign(store, campaign_id).instrument
            side = instrument.audience
            if side in instruments and instruments[side].id != instrument.id:
                raise TandemError(f"campaigns of two different {side} instruments ({instruments[side].id}, "
                                  f"{instrument.id}) cannot be analysed together", where="Campaigns",
                                  fix="choose campaigns (waves) of one employee and one customer instrument.")
            instruments[side] = instrument
            parts.setdefault(side, []).append(campaigns.responses_frame(store, campaign_id))
            rates = campaigns.response_rates(store, campaign_id)
            counts = pd.to_numeric(rates.set_index("unit")["invited"], errors="coerce").dropna()
            for unit, n in counts.items():
                if unit != "(all units)":
                    invited.setdefault(side, {})[str(unit)] = invited.get(side, {}).get(str(unit), 0) + int(n)
        frames = {side: pd.concat(chunks, ignore_index=True) for side, chunks in parts.items()}
        study = _study(str(STUDY)) if set(frames) == {"employee", "customer"} else None
        return Loaded(instruments, frames, study, invited)
    if kind == "upload":
        from analysis.scoring import read_responses
        from surveys.instrument import load_instrument, parse_instrument

        name, data, instrument_text = _uploads()[key[1]]
        instrument = (load_instrument(ROOT / "instruments" / f"{instrument_text}.yaml") if instrument_text in SHIPPED
                      else parse_instrument(instrument_text, source="uploaded instrument"))
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / Path(name).name
            path.write_bytes(data)
            frame = read_responses(path)
        return Loaded({instrument.audience: instrument}, {instrument.audience: frame})
    raise TandemError(f"unknown data source {kind!r}")


def _campaign_key(chosen: list[str]) -> tuple:
    """Campaign ids with their response count and state: the data version (a new response or a
    closed campaign gives a new key, so every cached analysis is recomputed)."""
    from surveys import campaigns
    from views.gateway import current_store

    listing = campaigns.list_campaigns(current_store()).set_index("campaign")
    version = []
    for campaign_id in chosen:
        row = listing.loc[campaign_id]
        version.append((campaign_id, str(row.get("responses", "")), str(row.get("state", ""))))
    return ("campaign", tuple(chosen), tuple(version))


def instruments(source: Source) -> dict[str, Any]:
    """Side -> instrument."""
    return _load(source.key).instruments


def study(source: Source) -> Any:
    """The linkage study, or None."""
    return _load(source.key).study


@st.cache_resource(show_spinner=False, max_entries=32)
def _filtered(key: tuple, filters: tuple) -> dict[str, pd.DataFrame]:
    waves, units, where = filters
    frames = _load(key).frames
    return {side: filter_responses(frame, waves=waves, units=units,
                                   where={c: v for c, v in where if c in frame})
            for side, frame in frames.items()}


def frames(source: Source) -> dict[str, pd.DataFrame]:
    """Side -> the filtered response frame."""
    return _filtered(source.key, source.filters)


# --------------------------------------------------------------------------- cached analyses
@st.cache_resource(show_spinner="Checking the instrument (reliability, CFA, HTMT) ...", max_entries=32)
def _health(key: tuple, filters: tuple, side: str) -> Any:
    from analysis.measurement import instrument_health

    return instrument_health(_filtered(key, filters)[side], _load(key).instruments[side])


@st.cache_resource(show_spinner="Parallel analysis ...", max_entries=32)
def _parallel(key: tuple, filters: tuple, side: str) -> Any:
    from analysis.efa import parallel_analysis
    from analysis.scoring import score

    instrument = _load(key).instruments[side]
    items = list(dict.fromkeys(i for c in instrument.constructs if len(c.items) >= 2 for i in c.items))
    return parallel_analysis(score(_filtered(key, filters)[side], instrument)[items], n_iter=100, seed=SEED)


@st.cache_resource(show_spinner="Key drivers with bootstrap intervals ...", max_entries=32)
def _drivers(key: tuple, filters: tuple, side: str) -> dict[str, Any]:
    return respondent_drivers(_filtered(key, filters)[side], _load(key).instruments[side], bootstrap=BOOTSTRAP,
                              seed=SEED)


@st.cache_resource(show_spinner="Linking employees and customers through units ...", max_entries=16)
def _linkage(key: tuple, filters: tuple) -> Any:
    from analysis.linkage import run_study

    chosen = _filtered(key, filters)
    return run_study(_load(key).study, chosen["employee"], chosen["customer"], bootstrap=BOOTSTRAP, seed=SEED)


@st.cache_resource(show_spinner=False, max_entries=32)
def _metrics(key: tuple, filters: tuple, side: str, group: str) -> dict[str, Any]:
    return headline_metrics(_filtered(key, filters)[side], _load(key).instruments[side], group=group)


@st.cache_data(show_spinner="Writing the report ...", max_entries=4)
def _report(key: tuple, filters: tuple) -> str:
    from reports.html import render_report

    loaded = _load(key)
    insight = collect_insight(loaded.instruments, _filtered(key, filters), study=loaded.study, bootstrap=BOOTSTRAP,
                              seed=SEED)
    return render_report(insight)


@st.cache_resource(show_spinner=False)
def _figures() -> dict[tuple, Any]:
    return {}


def figure(source: Source, name: str, builder: str, /, *args: Any, **options: Any) -> Any:
    """``reports.charts.<builder>(*args, **options)``, kept per data version, filters and
    ``name`` (which must name everything else the figure depends on, e.g. the chosen
    outcome): a plotly figure costs tens of milliseconds to build, a cached page should
    not pay that again, nor hash the data to find it."""
    from reports import charts

    built = _figures()
    key = (source.key, source.filters, name)
    if key not in built:
        if len(built) > 512:
            built.clear()
        built[key] = getattr(charts, builder)(*args, **options)
    return built[key]


@st.cache_resource(show_spinner=False, max_entries=64)
def _trend(key: tuple, filters: tuple, side: str, name: str) -> pd.DataFrame:
    from reports.insight import metric_trend

    return metric_trend(_filtered(key, filters)[side], _load(key).instruments[side], name)


@st.cache_resource(show_spinner=False, max_entries=64)
def _responses(key: tuple, filters: tuple, side: str) -> pd.DataFrame:
    from reports.insight import responses_by_unit

    waves, _, where = filters
    invited = None if waves or where else _load(key).invited.get(side) or None
    return responses_by_unit(_filtered(key, filters)[side], _load(key).instruments[side], invited=invited)


def trend(source: Source, side: str, name: str) -> pd.DataFrame:
    """:func:`reports.insight.metric_trend` of a side's metric (cached)."""
    return _trend(source.key, source.filters, side, name)


def responses(source: Source, side: str) -> pd.DataFrame:
    """:func:`reports.insight.responses_by_unit` of a side, with invitations when they give a
    response rate (no wave or demographic filter), cached."""
    return _responses(source.key, source.filters, side)


def health(source: Source, side: str) -> Any:
    """:func:`analysis.measurement.instrument_health` of a side (cached)."""
    return _health(source.key, source.filters, side)


def parallel(source: Source, side: str) -> Any:
    """:func:`analysis.efa.parallel_analysis` of a side's construct items (cached)."""
    return _parallel(source.key, source.filters, side)


def drivers(source: Source, side: str) -> dict[str, Any]:
    """:func:`reports.insight.respondent_drivers` of a side (cached)."""
    return _drivers(source.key, source.filters, side)


def linkage(source: Source) -> Any:
    """:func:`analysis.linkage.run_study` on the filtered frames (cached)."""
    return _linkage(source.key, source.filters)


def metrics(source: Source, side: str, group: str = "unit") -> dict[str, Any]:
    """:func:`reports.insight.headline_metrics` of a side, by ``group`` (cached)."""
    return _metrics(source.key, source.filters, side, group)


def breakdowns(source: Source, side: str) -> dict[str, str]:
    """Columns a side's metrics can be broken down by: ``unit`` and every single-choice
    or dropdown question in the data (column -> label)."""
    instrument, frame = instruments(source)[side], frames(source)[side]
    options = {"unit": "Unit"}
    options.update({q.id: instrument.text(q.text) for q in instrument.questions
                    if q.type in ("single_choice", "dropdown") and q.id in frame})
    return options


def campaign_table(source: Source) -> pd.DataFrame | None:
    """The chosen campaigns (name, instrument, wave, state, invitations, responses), or None."""
    if source.key[0] != "campaign":
        return None
    from surveys import campaigns
    from views.gateway import current_store

    listing = campaigns.list_campaigns(current_store())
    chosen = listing[listing["campaign"].isin(source.key[1])]
    return chosen[["campaign", "name", "instrument", "version", "audience", "wave", "state", "invited", "responses"]]


def report_html(source: Source) -> str:
    """The self-contained HTML report of the current selection (cached)."""
    return _report(source.key, source.filters)


# --------------------------------------------------------------------------- sidebar
def _choose_key() -> tuple | None:
    options = [DEMO, CAMPAIGNS, UPLOAD]
    kind = st.sidebar.radio("Data", options, key="insight:source")
    if kind == DEMO:
        st.sidebar.caption("40 simulated units from a known service-profit chain (the data of `tandem demo`).")
        return ("demo", str(STUDY))
    if kind == CAMPAIGNS:
        try:
            from surveys import campaigns
            from views.gateway import current_store

            listing = campaigns.list_campaigns(current_store())
        except (ImportError, AttributeError, TandemError) as exc:
            st.sidebar.warning(f"The campaign store is not available: {exc}")
            return None
        if listing.empty:
            st.sidebar.info("No campaigns yet.")
            return None
        chosen = st.sidebar.multiselect("Campaigns (waves of a survey are combined; an employee and a customer "
                                        "survey are linked through their units)",
                                        listing["campaign"].tolist(), key="insight:campaigns")
        return _campaign_key(chosen) if chosen else None
    data = st.sidebar.file_uploader("Responses (CSV, Excel or SPSS .sav)", type=["csv", "xlsx", "sav"],
                                    key="insight:upload")
    shipped = st.sidebar.selectbox("Instrument", ["(upload a YAML file)", *SHIPPED], key="insight:shipped")
    yaml_file = None
    if shipped == "(upload a YAML file)":
        yaml_file = st.sidebar.file_uploader("Instrument YAML", type=["yaml", "yml"], key="insight:yaml")
    if data is None or (yaml_file is None and shipped == "(upload a YAML file)"):
        st.sidebar.caption("One row per response, one column per item id, and a `unit` column for unit results.")
        return None
    content = data.getvalue()
    instrument_text = shipped if yaml_file is None else yaml_file.getvalue().decode("utf-8")
    digest = hashlib.sha256(content + instrument_text.encode("utf-8")).hexdigest()
    _uploads()[digest] = (data.name, content, instrument_text)
    return ("upload", digest)


def _filters(key: tuple) -> tuple:
    loaded = _load(key)
    insts, all_frames = loaded.instruments, loaded.frames
    waves = sorted({str(w) for f in all_frames.values() if "wave" in f for w in f["wave"].dropna()})
    units = sorted({str(u) for f in all_frames.values() if "unit" in f for u in f["unit"].dropna()})
    with st.sidebar.expander("Filters", expanded=False):
        chosen_waves = st.multiselect("Wave", waves, key="insight:waves") if len(waves) > 1 else []
        chosen_units = st.multiselect("Units", units, key="insight:units")
        where = []
        for side, instrument in insts.items():
            for q in instrument.questions:
                if q.type in ("single_choice", "dropdown") and q.id in all_frames[side]:
                    labels = {o.value: instrument.text(o.label) for o in q.options}
                    values = st.multiselect(f"{instrument.text(q.text)} ({side}s)", list(labels),
                                            format_func=labels.get, key=f"insight:where:{side}:{q.id}")
                    if values:
                        where.append((q.id, tuple(values)))
    return tuple(chosen_waves), tuple(chosen_units), tuple(where)


def source() -> Source:
    """The sidebar's data source and filters; stops the page when there is no data yet."""
    key = _choose_key()
    if key is None:
        st.info("Choose the data in the sidebar.")
        st.stop()
    try:
        loaded = _load(key)
    except TandemError as exc:
        st.error(str(exc))
        st.stop()
    filters = _filters(key)
    sizes = ", ".join(f"{len(f)} {side} responses" for side, f in loaded.frames.items())
    return Source(key=key, filters=filters, sides=tuple(loaded.instruments), linked=loaded.study is not None,
                  description=sizes)


def enough(source: Source, side: str) -> bool:
    """Whether the filtered selection of a side may be shown (at least ``min_group_size``
    respondents); otherwise says so, without the number, and returns False."""
    k = instruments(source)[side].min_group_size
    if len(frames(source)[side]) < k:
        st.warning(f"Fewer than {k} {side} responses match these filters: nothing is shown, to protect "
                   "respondents' anonymity. Widen the filters.")
        return False
    return True


def side_choice(source: Source, label: str = "Survey") -> str:
    """A radio between the sides of the source (employee/customer)."""
    if len(source.sides) == 1:
        return source.sides[0]
    return st.radio(label, source.sides, horizontal=True, format_func=str.capitalize, key="insight:side")


def report_button(source: Source) -> None:
    """Download button of the self-contained HTML report."""
    st.sidebar.download_button("Download the report (HTML)", data=lambda: report_html(source),
                               file_name="tandem-report.html", mime="text/html", key="insight:report",
                               on_click="ignore")


def labels(source: Source) -> dict[str, str]:
    """Construct labels of the source's instruments."""
    from reports.insight import construct_labels

    return construct_labels(*instruments(source).values())
