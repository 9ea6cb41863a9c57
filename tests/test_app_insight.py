"""The Insight pages under AppTest on the demo data: no exception, the key numbers appear,
small groups are suppressed.

Pages are run as their own scripts (``views/insight_*.py``), as ``app.py``'s staff
navigation runs them once signed in. The analyses are cached per process, so the pages
after the first reuse the demo data and the linkage fit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from services.insight import comments, headline_metrics
from services.selection import select
from services.sources import demo_dataset

ROOT = Path(__file__).resolve().parents[1]
VIEWS = ROOT / "views"
STUDY = ROOT / "instruments" / "studies" / "service_profit_chain.yaml"
PAGES = ["insight_overview", "insight_instrument_health", "insight_drivers", "insight_compare", "insight_linkage",
         "insight_comments"]
TIMEOUT = 240


@pytest.fixture(scope="module")
def demo():
    dataset = demo_dataset()
    return dataset, select(dataset)


def page(name: str) -> AppTest:
    return AppTest.from_file(str(VIEWS / f"{name}.py"), default_timeout=TIMEOUT)


def texts(at: AppTest) -> str:
    parts = [e.value for kind in (at.title, at.header, at.subheader, at.caption, at.markdown, at.success, at.info,
                                  at.warning) for e in kind]
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("name", PAGES)
def test_page_renders_on_demo_data_without_exception(name):
    at = page(name).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.sidebar.radio(key="insight:source").value.startswith("Demo data")


def test_overview_shows_headline_metrics_of_the_analysis(demo):
    _, views = demo
    at = page("insight_overview").run()
    shown = {m.label: m.value for m in at.metric}
    enps = headline_metrics(views["employee"])["enps"].overall
    nps = headline_metrics(views["customer"])["nps"].overall
    assert shown["eNPS"] == f"{enps.value:.1f}"
    assert shown["NPS"] == f"{nps.value:.1f}"
    assert f"95% interval {enps.ci_lower:.1f} to {enps.ci_upper:.1f}" in texts(at)
    assert len(at.get("plotly_chart")) >= 4


def test_instrument_health_shows_the_cfa_fit(demo):
    """The demo's five-point items: the WLSMV CFA is primary, its robust CFI and RMSEA are the
    metrics, and the ML CFA's fit is in the table beside it."""
    from analysis.measurement import instrument_health

    _, views = demo
    at = page("insight_instrument_health").run()
    report = instrument_health(views["employee"].frame, views["employee"].instrument)
    assert report.method == "ordinal"
    expected = report.fit.iloc[0]
    assert expected["method"] == "ordinal (WLSMV)" and expected["cfi"] == report.fit_measures[f"cfi_{expected['indices']}"]
    shown = {m.label: m.value for m in at.metric}
    assert shown["CFI"] == f"{expected['cfi']:.3f}" and shown["RMSEA"] == f"{expected['rmsea']:.3f}"
    fit_table = next(d.value for d in at.dataframe if "estimator" in d.value.columns)
    assert fit_table["method"].tolist() == ["ordinal (WLSMV)", "continuous (ML)"]
    assert fit_table["cfi"].iloc[1] == pytest.approx(report.continuous_cfa.fit_measures["cfi"])
    assert "Scree with parallel analysis" in texts(at)


def test_instrument_health_says_which_numbers_are_primary_and_why(demo):
    """One sentence at the top: the ordinal numbers are primary because the items have few
    categories, the continuous ones are beside them; the reliability table pairs them."""
    from services.insight import instrument_health

    _, views = demo
    report = instrument_health(views["employee"])
    at = page("insight_instrument_health").run()
    assert report.primary_sentence in [i.value for i in at.info]
    assert report.primary_sentence.startswith("Primary: the ordinal numbers (WLSMV CFA with its robust fit indices, "
                                              "ordinal alpha and ordinal omega), because the items have at most 5 "
                                              "answer categories")
    assert "continuous numbers (ML CFA, Cronbach's alpha, omega) are shown beside them" in report.primary_sentence
    reliability = next(d.value for d in at.dataframe if "ordinal_omega" in d.value.columns)
    assert {"alpha", "ordinal_alpha", "omega", "ordinal_omega", "method"} <= set(reliability.columns)
    assert set(reliability["method"]) == {"ordinal"}


def test_linkage_shows_verdicts_and_the_path_diagram():
    at = page("insight_linkage").run()
    assert not at.exception
    verdicts = at.dataframe[0].value
    assert set(verdicts["verdict"]) <= {"justified", "weak", "not justified"} and len(verdicts) > 5
    charts = at.get("graphviz_chart")
    assert len(charts) == 1
    assert "digraph" in charts[0].proto.spec and "style=solid" in charts[0].proto.spec


def test_drivers_page_ranks_drivers():
    at = page("insight_drivers").run()
    assert not at.exception
    ranked = at.dataframe[0].value
    assert list(ranked["rank"]) == sorted(ranked["rank"])
    assert "Relative weights" in texts(at)


def test_comments_only_from_units_at_or_above_the_comment_threshold(demo):
    _, views = demo
    view = views["employee"]
    at = page("insight_comments").run()
    table = at.dataframe[0].value
    expected = comments(view)
    assert len(table) == len(expected) > 0
    assert table["comment"].tolist() == expected["comment"].tolist()
    sizes = view.data.frame["unit"].value_counts()
    named = table[table["unit"] != "other units"]
    assert (sizes[named["unit"]] >= view.data.min_comment_group_size).all()
    at.text_input(key="comments:search").input("zzz-no-such-comment").run()
    assert len(at.dataframe[0].value) == 0


def test_filtered_group_below_the_minimum_shows_nothing(demo):
    """One unit and one tenure band with fewer than 5 employees: the page shows no number."""
    dataset, _ = demo
    employees = dataset.sides["employee"].frame
    counts = employees.groupby(["unit", "tenure_band"]).size()
    unit, band = counts[(counts > 0) & (counts < 5)].index[0]
    at = page("insight_overview").run()
    at.multiselect(key="insight:units").set_value([unit])
    at.multiselect(key="insight:where:employee:tenure_band").set_value([band]).run()
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert any(w.startswith("Nothing is shown for these filters: the employee responses") for w in warnings)
    labels = [m.label for m in at.metric]
    assert "eNPS" not in labels  # no employee number at all
    assert str(int(counts[(unit, band)])) not in [m.value for m in at.metric]


def test_campaigns_from_the_store(tmp_path, monkeypatch):
    """The demo campaigns in a fresh SQLite store, chosen in the sidebar: response rates
    from the invitations, eNPS from the stored responses."""
    from services.demo import CUSTOMER_CAMPAIGN, EMPLOYEE_CAMPAIGN, seed_demo
    from surveys.store import open_store

    url = f"sqlite:///{tmp_path / 'insight.db'}"
    monkeypatch.setenv("TANDEM_DATABASE_URL", url)
    from services.sources import campaign_dataset

    store = open_store(url)
    seed_demo(store)
    view = select(campaign_dataset(store, [EMPLOYEE_CAMPAIGN]))["employee"]
    store.dispose()
    at = page("insight_overview").run()
    at.sidebar.radio(key="insight:source").set_value("Campaigns").run()
    at.sidebar.multiselect(key="insight:campaigns").set_value([EMPLOYEE_CAMPAIGN, CUSTOMER_CAMPAIGN]).run()
    assert not at.exception, [e.value for e in at.exception]
    enps = headline_metrics(view)["enps"].overall
    assert {m.label: m.value for m in at.metric}["eNPS"] == f"{enps.value:.1f}"
    rates = [c for c in at.get("plotly_chart") if "Response rate (%)" in c.proto.spec]
    assert rates, "the employee campaign has invitations, so its chart shows response rates"


def test_campaigns_of_two_waves_give_a_trend(tmp_path, monkeypatch):
    """Two employee campaigns (waves) of one instrument are combined: eNPS across waves."""
    from analysis.simulate import simulate_responses
    from surveys import campaigns, responses
    from surveys.loader import load_instrument
    from surveys.store import open_store

    url = f"sqlite:///{tmp_path / 'waves.db'}"
    monkeypatch.setenv("TANDEM_DATABASE_URL", url)
    instrument = load_instrument(ROOT / "instruments" / "employee_experience.yaml")
    store = open_store(url)
    for wave, seed in (("2025-2", 1), ("2026-1", 2)):
        campaigns.create_campaign(store, instrument, campaign_id=f"ee-{wave}", wave=wave)
        frame = simulate_responses(instrument, n_units=6, respondents_per_unit=(10, 15), seed=seed, wave=wave)
        responses.import_frame(store, f"ee-{wave}", frame)
    store.dispose()
    at = page("insight_overview").run()
    at.sidebar.radio(key="insight:source").set_value("Campaigns").run()
    at.sidebar.multiselect(key="insight:campaigns").set_value(["ee-2025-2", "ee-2026-1"]).run()
    assert not at.exception, [e.value for e in at.exception]
    (trend,) = [c.proto.spec for c in at.get("plotly_chart") if "eNPS across waves" in c.proto.spec]
    assert "2025-2" in trend and "2026-1" in trend


SMALL = ROOT / "tests" / "insight_fixtures" / "small_survey.yaml"


def _upload(at: AppTest, name: str, content: bytes, mime: str) -> AppTest:
    at.sidebar.radio(key="insight:source").set_value("Upload a file").run()
    at.sidebar.file_uploader(key="insight:upload").set_value((name, content, mime))
    return at


@pytest.fixture(scope="module")
def small_responses():
    from analysis.simulate import simulate_responses
    from surveys.loader import load_instrument

    instrument = load_instrument(SMALL)
    return instrument, simulate_responses(instrument, n_units=6, respondents_per_unit=(20, 30), seed=21)


def test_bring_your_own_spss_file_and_instrument_yaml(small_responses, tmp_path):
    """An SPSS file plus an uploaded instrument YAML give the same health and driver pages."""
    import pyreadstat

    from analysis.measurement import instrument_health

    instrument, frame = small_responses
    path = tmp_path / "responses.sav"
    numeric = frame.drop(columns=["submitted_at"]).astype({"wave": str})
    pyreadstat.write_sav(numeric, str(path))
    at = _upload(page("insight_instrument_health").run(), "responses.sav", path.read_bytes(),
                 "application/octet-stream")
    at.sidebar.file_uploader(key="insight:yaml").set_value(("small.yaml", SMALL.read_bytes(), "application/yaml"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    expected = instrument_health(frame, instrument).fit.iloc[0]  # the primary CFA's fit
    assert {m.label: m.value for m in at.metric}["CFI"] == f"{expected['cfi']:.3f}"

    drivers = _upload(page("insight_drivers").run(), "responses.sav", path.read_bytes(), "application/octet-stream")
    drivers.sidebar.file_uploader(key="insight:yaml").set_value(("small.yaml", SMALL.read_bytes(),
                                                                 "application/yaml"))
    drivers.run()
    assert not drivers.exception, [e.value for e in drivers.exception]
    assert set(drivers.dataframe[0].value["predictor"]) == {"manager_support", "training", "tools"}


def test_bring_your_own_csv_with_a_shipped_instrument():
    from analysis.simulate import simulate_responses
    from surveys.loader import load_instrument

    instrument = load_instrument(ROOT / "instruments" / "employee_experience.yaml")
    frame = simulate_responses(instrument, n_units=10, respondents_per_unit=(10, 20), seed=4)
    at = _upload(page("insight_overview").run(), "responses.csv", frame.to_csv(index=False).encode(), "text/csv")
    at.sidebar.selectbox(key="insight:shipped").set_value("employee_experience").run()
    assert not at.exception, [e.value for e in at.exception]
    assert {m.label: m.value for m in at.metric}["Responses"] == f"{len(frame):,}"


def test_overview_breaks_metrics_down_by_a_demographic_question(demo):
    dataset, views = demo
    at = page("insight_overview").run()
    at.selectbox(key="overview:breakdown:employee").set_value("tenure_band").run()
    assert not at.exception, [e.value for e in at.exception]
    expected = headline_metrics(views["employee"], group="tenure_band")["enps"].units
    shown = expected.loc[~expected["suppressed"], "unit"].tolist()
    employee = dataset.instruments["employee"]
    label = employee.text(employee.question("tenure_band").text)
    (spec,) = [c.proto.spec for c in at.get("plotly_chart") if f"eNPS by {label.lower()}" in c.proto.spec]
    assert len(shown) >= 2
    for group in shown:
        assert f'"{group}"' in spec


@pytest.mark.parametrize("name", ["insight_instrument_health", "insight_drivers", "insight_comments"])
def test_customer_side_of_each_page(name):
    at = page(name).run()
    at.radio(key="insight:side").set_value("customer").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_data_that_does_not_fit_the_instrument_shows_a_message_not_a_traceback():
    """A file whose item column holds text: the page says what is wrong and how to fix it."""
    from analysis.simulate import simulate_responses
    from surveys.loader import load_instrument

    frame = simulate_responses(load_instrument(SMALL), n_units=4, respondents_per_unit=10, seed=2)
    frame["training_1"] = frame["training_1"].astype(object)
    frame.loc[0, "training_1"] = "often"
    at = _upload(page("insight_instrument_health").run(), "bad.csv", frame.to_csv(index=False).encode(), "text/csv")
    at.sidebar.file_uploader(key="insight:yaml").set_value(("small.yaml", SMALL.read_bytes(), "application/yaml"))
    at.run()
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert "training_1" in error and "not a number" in error


def test_the_data_choice_and_filters_stay_put_across_pages(tmp_path, monkeypatch):
    """Signed in through app.py: campaigns and a unit filter chosen on the Overview stay chosen on
    every other page (and on the way back), and every page names the data in use."""
    from app_support import app, goto

    from services.demo import EMPLOYEE_CAMPAIGN, seed_demo
    from surveys.store import open_store

    url = f"sqlite:///{tmp_path / 'state.db'}"
    monkeypatch.setenv("TANDEM_DATABASE_URL", url)
    monkeypatch.setenv("TANDEM_ADMIN_PASSWORD", "state password")
    store = open_store(url)
    seed_demo(store)
    store.dispose()
    at = app()
    at.text_input(key="staff:password").input("state password")
    at.button[0].click().run()
    goto(at, "overview")
    at.sidebar.radio(key="insight:source").set_value("Campaigns").run()
    at.sidebar.multiselect(key="insight:campaigns").set_value([EMPLOYEE_CAMPAIGN]).run()
    at.multiselect(key="insight:units").set_value(["store_01", "store_02"]).run()
    for name in ("instrument_health", "drivers", "comments", "linkage", "campaigns", "overview"):
        goto(at, name)
        assert not at.exception, (name, [e.value for e in at.exception])
        if name == "campaigns":
            continue
        assert at.sidebar.radio(key="insight:source").value == "Campaigns", name
        assert at.sidebar.multiselect(key="insight:campaigns").value == [EMPLOYEE_CAMPAIGN], name
        assert at.multiselect(key="insight:units").value == ["store_01", "store_02"], name
        banner = at.info[0].value
        assert f"campaigns {EMPLOYEE_CAMPAIGN}" in banner and "units store_01, store_02" in banner, (name, banner)
        assert "demo data" not in banner


def test_a_pulse_campaign_with_a_customer_campaign_gets_a_linkage_page(tmp_path, monkeypatch):
    """employee_pulse has no study of its own: the Linkage page fits one built from its
    constructs (wellbeing, eNPS) to the customer outcomes, from the pinned instruments."""
    from analysis.simulate import simulate_responses
    from surveys import campaigns, responses
    from surveys.loader import load_instrument
    from surveys.store import open_store

    url = f"sqlite:///{tmp_path / 'pulse.db'}"
    monkeypatch.setenv("TANDEM_DATABASE_URL", url)
    store = open_store(url)
    for campaign_id, name, size in (("pulse", "employee_pulse", (8, 14)), ("cx", "customer_experience", (20, 30))):
        instrument = load_instrument(ROOT / "instruments" / f"{name}.yaml")
        campaigns.create_campaign(store, instrument, campaign_id=campaign_id)
        frame = simulate_responses(instrument, n_units=40, respondents_per_unit=size, seed=3)
        responses.import_frame(store, campaign_id, frame)
    store.dispose()
    at = page("insight_linkage").run()
    at.sidebar.radio(key="insight:source").set_value("Campaigns").run()
    at.sidebar.multiselect(key="insight:campaigns").set_value(["pulse", "cx"]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert any("built from the instruments' construct roles" in c.value for c in at.caption)
    assert len(at.get("graphviz_chart")) == 1
    only_pulse = page("insight_linkage").run()
    only_pulse.sidebar.radio(key="insight:source").set_value("Campaigns").run()
    only_pulse.sidebar.multiselect(key="insight:campaigns").set_value(["pulse"]).run()
    assert any("a customer survey is not among the chosen data" in i.value for i in only_pulse.info)


# --------------------------------------------------------------------------- report formatting (issue 14)
def test_report_prints_p_values_apa_style_and_degrees_of_freedom_as_integers():
    import pandas as pd

    from reports import html

    assert html.format_p(8e-10) == "< .001" and html.format_p(0.0456) == ".046" and html.format_p(float("nan")) == ""
    assert html.format_count(29.0) == "29" and html.format_count(27.43) == "27.4"
    fit = html._fit({"chisq": 41.2034, "df": 29.0, "pvalue": 3e-12, "cfi": 0.98}, ("chisq", "df", "pvalue", "cfi"))
    assert fit == "chisq = 41.203, df = 29, p < .001, cfi = 0.980"
    table = html._table(pd.DataFrame({"lhs": ["a"], "pvalue": [0.00000000082], "df": [29.0], "est": [0.5]}),
                        columns={"lhs": "outcome", "est": "beta", "pvalue": "p", "df": "df"}, digits=3)
    assert "&lt; .001" in table and "0000" not in table and ">29<" in table and "29.000" not in table


def test_report_methods_cite_johnson_for_relative_weights_not_relaimpo_lmg():
    from reports.html import METHODS

    row = next(r for r in METHODS if r[0].startswith("Relative weights"))
    assert "Johnson (2000)" in row[2] and "lmg" not in row[2] and "relaimpo" not in row[2]


def test_a_flagged_value_prints_differently_from_its_threshold():
    import pandas as pd

    from reports.html import flag_rows, format_against

    assert format_against(0.498, 0.5) == ("0.498", "0.500")
    assert format_against(0.4999, 0.5) == ("0.4999", "0.5000")
    assert format_against(0.31, 0.5) == ("0.31", "0.50")
    rows = flag_rows(pd.DataFrame({"level": ["construct"], "target": ["x"], "statistic": ["ave"], "value": [0.498],
                                   "threshold": [0.5], "message": ["m"]}))
    assert rows.iloc[0]["value"] == "0.498" and rows.iloc[0]["threshold"] == "0.500"


# --------------------------------------------------------------------------- issue 14: what the pages show
def _numbers(encoded) -> np.ndarray:
    """A plotly array from a figure's JSON (a list, or plotly's typed {"dtype", "bdata", "shape"})."""
    import base64

    if isinstance(encoded, dict):
        values = np.frombuffer(base64.b64decode(encoded["bdata"]), dtype=encoded["dtype"])
        return values.reshape([int(n) for n in str(encoded.get("shape", len(values))).split(",")])
    return np.asarray(encoded, dtype=float)


def _specs(at: AppTest) -> list[dict]:
    import json

    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _titled(at: AppTest, words: str) -> dict:
    found = [s for s in _specs(at) if words in str(s["layout"].get("title", {}).get("text", ""))]
    assert found, f"no chart titled with {words!r}"
    return found[0]


def test_overview_charts_name_units_by_their_labels_with_the_id_in_the_hover(demo):
    dataset, _ = demo
    employee = dataset.instruments["employee"]
    names = {u.id: employee.text(u.label) for u in employee.units}
    at = page("insight_overview").run()
    rates = _titled(at, "Employee responses by unit")
    bars = [str(x) for trace in rates["data"] for x in trace.get("x", [])]
    assert bars and set(bars) <= set(names.values()), bars
    assert not any(u in bars for u in names)  # no store_01 on the axis
    assert set(rates["data"][0]["customdata"]) <= set(names)  # the id is in the hover
    by_unit = _titled(at, "eNPS by unit")
    assert set(map(str, by_unit["data"][0]["x"])) <= set(names.values())


def test_ces_states_its_scale_and_direction_and_spans_the_whole_scale():
    at = page("insight_overview").run()
    assert "Mean on 1 = Strongly disagree ... 7 = Strongly agree; higher is better (easier)" in texts(at)
    headline = _titled(at, "Customer headline metrics")
    ces_axes = [v for k, v in headline["layout"].items() if k.startswith("yaxis") and "CES" in str(v.get("title"))]
    assert ces_axes and ces_axes[0]["range"] == [1.0, 7.0], ces_axes
    ces_by_unit = _titled(at, "CES by unit")
    assert ces_by_unit["layout"]["yaxis"]["range"][0] <= 1.0 and ces_by_unit["layout"]["yaxis"]["range"][1] >= 7.0


def test_instrument_health_shows_flags_in_full_with_distinct_threshold_digits(demo):
    from reports.html import format_against
    from services.insight import instrument_health

    _, views = demo
    flags = instrument_health(views["employee"]).flags
    at = page("insight_instrument_health").run()
    shown = "\n".join(str(m.value) for m in at.markdown)
    assert len(flags)
    for flag in flags.itertuples(index=False):
        assert flag.message in shown  # the whole message, not cut off in a table cell
        if flag.statistic == "method":  # a note on which numbers are primary: no value to compare
            assert f"**{flag.level} {flag.target}**: {flag.message}" in shown
            continue
        value, threshold = format_against(flag.value, flag.threshold)
        assert value != threshold and f"= {value} (threshold {threshold})" in shown
    assert "(threshold )" not in shown


def test_instrument_health_captions_scree_and_htmt_are_honest(demo):
    from reports.html import format_p
    from services.insight import instrument_health

    _, views = demo
    fm = instrument_health(views["employee"]).fit.iloc[0]  # the primary CFA (WLSMV: the scaled chi-square)
    at = page("insight_instrument_health").run()
    shown = texts(at)
    assert "diagonal block" not in shown and not any("diagonal block" in str(s) for s in _specs(at))
    p = format_p(fm["pvalue"])
    assert f"df = {int(fm['df'])}, p {p if p.startswith('<') else '= ' + p}," in shown  # integer df, APA p
    assert "robust CFI, TLI and RMSEA (Savalei 2021) and the scaled chi²" in shown
    assert ".000" not in p and len(p) <= 6
    scree = _titled(at, "Scree plot")
    assert scree["layout"]["xaxis"]["range"][0] > 0.5 and scree["layout"]["xaxis"]["tick0"] == 1
    assert scree["layout"]["yaxis"]["range"][0] <= 0
    htmt = _titled(at, "HTMT")
    z = _numbers(htmt["data"][0]["z"])
    assert np.isfinite(z).any() and np.nanmin(z) >= 0
    assert not any(str(t).startswith("-") for row in htmt["data"][0]["text"] for t in row)
    assert "absolute correlations" in shown


@pytest.fixture
def arrow_log():
    """What streamlit logs about dataframes it could not serialise to Arrow as they were."""
    import logging

    seen: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage() + " " + (str(record.exc_info[1]) if record.exc_info else ""))

    handler = Catch(level=logging.DEBUG)
    logger = logging.getLogger("streamlit.dataframe_util")
    old = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield seen
    logger.removeHandler(handler)
    logger.setLevel(old)


def test_arrow_log_catches_a_mixed_column(arrow_log, tmp_path):
    """The fixture below sees the warning when there is one (so its silence means something)."""
    script = tmp_path / "mixed.py"
    script.write_text("import pandas as pd, streamlit as st\nst.dataframe(pd.DataFrame({'responses': [1, 'x']}))\n")
    AppTest.from_file(str(script)).run()
    assert any("Conversion failed for column responses" in m for m in arrow_log)


def test_overview_and_responses_pages_log_no_arrow_conversion_warning(arrow_log, tmp_path, monkeypatch):
    from app_support import goto

    from services.demo import EMPLOYEE_CAMPAIGN, seed_demo
    from surveys.store import open_store

    url = f"sqlite:///{tmp_path / 'arrow.db'}"
    monkeypatch.setenv("TANDEM_DATABASE_URL", url)
    monkeypatch.setenv("TANDEM_ADMIN_PASSWORD", "arrow test password")
    store = open_store(url)
    seed_demo(store)
    store.dispose()
    at = page("insight_overview").run()
    at.sidebar.radio(key="insight:source").set_value("Campaigns").run()
    at.sidebar.multiselect(key="insight:campaigns").set_value([EMPLOYEE_CAMPAIGN]).run()
    assert not at.exception
    staff = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    staff.text_input(key="staff:password").input("arrow test password")
    staff.button[0].click().run()
    goto(staff, "responses")
    assert not staff.exception, [e.value for e in staff.exception]
    assert staff.dataframe, "the Responses page shows its table"
    assert not [m for m in arrow_log if "Conversion failed" in m or "Arrow" in m], arrow_log


def test_campaigns_page_with_a_small_campaign_logs_no_arrow_conversion_warning(arrow_log, tmp_path, monkeypatch):
    from app_support import goto

    from surveys import campaigns
    from surveys.loader import load_instrument
    from surveys.store import open_store

    url = f"sqlite:///{tmp_path / 'arrow.db'}"
    monkeypatch.setenv("TANDEM_DATABASE_URL", url)
    monkeypatch.setenv("TANDEM_ADMIN_PASSWORD", "arrow test password")
    from services.demo import seed_demo

    store = open_store(url)
    seed_demo(store)  # campaigns with many responses, and one with none: a column of numbers and text
    campaigns.create_campaign(store, load_instrument(ROOT / "instruments" / "employee_pulse.yaml"), campaign_id="empty")
    store.dispose()
    staff = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    staff.text_input(key="staff:password").input("arrow test password")
    staff.button[0].click().run()
    goto(staff, "campaigns")
    assert not staff.exception
    assert not [m for m in arrow_log if "Conversion failed" in m], arrow_log


def test_instrument_health_answers_whether_languages_and_waves_measure_the_same(demo):
    """The page says the service's answers: on the demo German shares every disclosure block with
    English (hidden) and there is one wave; on an upload with German units and two waves, with one
    item answered higher in German, it names that item and says the waves compare."""
    import numpy as np
    import pandas as pd

    from analysis.simulate import simulate_responses
    from services.invariance import HEADINGS, health_invariance
    from surveys.loader import load_instrument

    _, views = demo
    at = page("insight_instrument_health").run()
    shown = texts(at)
    for by, found in health_invariance(views["employee"]).items():
        assert f"**{HEADINGS[by]}**" in shown
        for sentence in found.sentences:
            assert f"- {sentence}" in shown
    assert "Not shown: German is hidden" in shown and "Not yet: the responses shown come from one wave" in shown

    instrument = load_instrument(ROOT / "instruments" / "employee_experience.yaml")
    frames = []
    for wave, seed in (("2025", 1), ("2026", 2)):
        f = simulate_responses(instrument, n_units=30, respondents_per_unit=(15, 25), seed=seed, wave=wave)
        f["language"] = np.where(f["unit"].isin(sorted(f["unit"].unique())[::3]), "de", "en")
        frames.append(f)
    frame = pd.concat(frames, ignore_index=True)
    item = instrument.construct("communication").items[2]
    german = frame["language"] == "de"
    frame.loc[german, item] = np.clip(frame.loc[german, item] + 1, 1, 5)
    at = _upload(page("insight_instrument_health").run(), "responses.csv", frame.to_csv(index=False).encode(),
                 "text/csv")
    at.sidebar.selectbox(key="insight:shipped").set_value("employee_experience").run()
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    assert "- Is the German version measuring the same thing? Partly: in Communication, item " + item in shown
    assert "- Did the respondents of wave 2026 read the items as those of wave 2025 did? Yes: " in shown
