"""reports: chart builders, the path diagram, the insight collection and the HTML report.

The report must parse as HTML, contain every section, reference no external URL, and
never show a group below the minimum size.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.drivers import relative_weights
from analysis.simulate import simulate_responses
from reports import charts
from reports.diagram import path_diagram, path_svg
from reports.html import METHODS, SECTIONS, render_report
from reports.summary import summary_points
from services.insight import collect_insight, comments, responses_by_unit
from services.selection import HIDDEN_LABEL, Selection, select
from services.sources import file_dataset
from surveys.loader import load_instrument

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "tests" / "insight_fixtures" / "small_survey.yaml"
STUDY = ROOT / "instruments" / "studies" / "service_profit_chain.yaml"


@pytest.fixture(scope="module")
def instrument():
    return load_instrument(SMALL)


@pytest.fixture(scope="module")
def frame(instrument):
    """8 units; unit u02 has exactly 3 respondents (below min_group_size = 5)."""
    data = simulate_responses(instrument, n_units=8, respondents_per_unit=(12, 30), seed=11)
    small = data[data["unit"] == "u02"].index[3:]
    data = data.drop(index=small).reset_index(drop=True)
    secret = data.index[data["unit"] == "u02"][0]
    data.loc[secret, "comment"] = "SECRET-SMALL-UNIT-COMMENT"
    big = data.index[data["unit"] == "u01"][0]
    data.loc[big, "comment"] = "Visible comment from a big unit"
    return data


def dataset(instrument, frame):
    """A file dataset of one survey."""
    return file_dataset({"data": (instrument, frame)}, name="test data")


def view(instrument, frame, selection=None):
    """The employee side of ``frame`` as the disclosure policy lets ``selection`` out."""
    return select(dataset(instrument, frame), selection)["employee"]


@pytest.fixture(scope="module")
def insight(instrument, frame):
    return collect_insight(dataset(instrument, frame), bootstrap=50, seed=3)


class _Collector(HTMLParser):
    """Tags, attributes, ids and the text of <style> elements of an HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.urls: list[str] = []
        self.styles: list[str] = []
        self.scripts_with_src: list[str] = []
        self.links: list[str] = []
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.stack.append(tag)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        for name in ("src", "href", "xlink:href", "data", "action", "poster"):
            if attrs.get(name):
                self.urls.append(attrs[name])
        if tag == "script" and attrs.get("src"):
            self.scripts_with_src.append(attrs["src"])
        if tag == "link":
            self.links.append(attrs.get("href", ""))
        if "style" in attrs:
            self.styles.append(attrs["style"])

    def handle_endtag(self, tag):
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_data(self, data):
        if self.stack and self.stack[-1] == "style":
            self.styles.append(data)
        elif not self.stack or self.stack[-1] != "script":
            self.text.append(data)


def _parse(html: str) -> _Collector:
    parser = _Collector()
    parser.feed(html)
    parser.close()
    return parser


# --------------------------------------------------------------------------- charts
def test_driver_importance_draws_intervals_and_titles(frame, instrument):
    from analysis.scoring import score

    result = relative_weights(score(frame, instrument), "engagement", ["manager_support", "training", "tools"],
                              bootstrap=40, seed=1)
    fig = charts.driver_importance(result.table, outcome="Engagement", r2=result.r2)
    bar = fig.data[0]
    table = result.table.sort_values("pct")
    assert list(bar.y) == [f"{p} ({v:.0f}%)" for p, v in zip(table["predictor"], table["pct"], strict=True)]
    np.testing.assert_allclose(bar.error_x.array, table["pct_ci_upper"] - table["pct"])
    np.testing.assert_allclose(bar.error_x.arrayminus, table["pct"] - table["pct_ci_lower"])
    assert "Engagement" in fig.layout.title.text and "R²" in fig.layout.title.text
    assert "%" in fig.layout.xaxis.title.text


def test_response_rates_never_show_a_small_units_number(instrument, frame):
    table = responses_by_unit(view(instrument, frame))
    row = table.set_index("unit").loc["u02"]
    assert bool(row["suppressed"]) and pd.isna(row["responses"]) and row["shown"] == "fewer than 5 respondents"
    fig = charts.response_rates(table, min_group_size=5)
    shown, hidden = fig.data
    assert "u02" not in list(shown.x)
    labels = dict(zip(hidden.x, hidden.text, strict=True))
    assert labels["u02"] == "fewer than 5 respondents" and set(hidden.y) == {0}
    # u02's 3 respondents alone are fewer than 5, so the smallest other unit is hidden as well
    secondary = table[table["suppressed"] & (table["unit"] != "u02")]
    assert len(secondary) == 1 and labels[secondary["unit"].iloc[0]] == HIDDEN_LABEL
    assert not any(str(t).isdigit() for t in hidden.text)


def test_responses_by_unit_secondary_suppression(instrument):
    """One small unit of 3 and a total shown: the next smallest unit is hidden too."""
    data = pd.DataFrame({"unit": ["u01"] * 3 + ["u03"] * 6 + ["u04"] * 20})
    table = responses_by_unit(view(instrument, data)).set_index("unit")
    assert table.loc["u01", "suppressed"] and table.loc["u03", "suppressed"]
    assert not table.loc["u04", "suppressed"] and table.loc["u04", "responses"] == 20


def test_unit_scatter_leaves_out_small_units():
    units = pd.DataFrame({"unit": ["a", "b", "c"], "x": [1.0, 2.0, 3.0], "y": [2.0, 3.0, 5.0], "n": [4, 10, 20]})
    fig = charts.unit_scatter(units, x="x", y="y", size="n", min_size=5, x_label="Training", y_label="CSAT")
    assert list(fig.data[0].text) == ["b", "c"]
    assert fig.layout.xaxis.title.text.startswith("Training") and "CSAT" in fig.layout.yaxis.title.text


def test_metric_by_unit_labels_suppressed_units(instrument, frame):
    from analysis.metrics import by_unit

    table = by_unit(frame, "enps", "unit", metric="enps", min_group_size=5).to_frame()
    fig = charts.metric_by_unit(table, metric="enps")
    assert "u02" not in list(fig.data[0].x)
    labels = dict(zip(fig.data[1].x, fig.data[1].text, strict=True))
    assert labels.pop("u02") == "fewer than 5 respondents"
    assert all("smaller unit" in text for text in labels.values())  # secondary suppression, labelled as such
    assert set(labels) | {"u02"} == set(table.loc[table["suppressed"] & (table["level"] == "unit"), "unit"])
    assert fig.layout.yaxis.title.text.startswith("eNPS")


def test_scree_heatmaps_quadrant_and_trend_have_titles_and_axes():
    scree = pd.DataFrame({"factor": [1, 2, 3], "observed": [2.5, 1.1, 0.4], "simulated_mean": [1.3, 1.1, 0.9],
                          "simulated_quantile": [1.4, 1.2, 1.0]})
    fig = charts.scree(scree, n_factors=1)
    assert "1 factor " in fig.layout.title.text and fig.layout.yaxis.title.text == "Eigenvalue"
    htmt = pd.DataFrame([[1, 0.9], [0.9, 1]], index=["a", "b"], columns=["a", "b"])
    fig = charts.htmt_heatmap(htmt, threshold=0.85)
    assert fig.data[0].text[0][1] == "0.90 !" and fig.data[0].text[0][0] == ""
    loadings = pd.DataFrame({"F1": [0.8, 0.1], "F2": [np.nan, 0.7]}, index=["i1", "i2"])
    assert charts.loadings_heatmap(loadings).data[0].text[0][1] == ""
    quadrant = pd.DataFrame({"driver": ["a", "b"], "importance": [0.6, 0.4], "performance": [3.0, 4.0],
                             "quadrant": ["concentrate here", "possible overkill"]})
    fig = charts.importance_performance(quadrant, performance_label="Performance (mean on 1-5)")
    assert fig.layout.xaxis.title.text == "Performance (mean on 1-5)" and "Importance" in fig.layout.yaxis.title.text
    waves = pd.DataFrame({"wave": ["1", "2"], "value": [0.6, 0.7], "ci_lower": [0.5, 0.6], "ci_upper": [0.7, 0.8]})
    fig = charts.trend(waves, metric="csat_top2box")
    np.testing.assert_allclose(fig.data[0].y, [60, 70])
    assert "CSAT" in fig.layout.yaxis.title.text


# --------------------------------------------------------------------------- diagram
PATHS = pd.DataFrame({"lhs": ["js", "csat"], "op": ["~", "~"], "rhs": ["ms", "js"], "est": [0.55, 0.08],
                      "pvalue": [0.001, 0.40], "ci_lower": [0.3, -0.1], "ci_upper": [0.8, 0.26]})


def test_path_diagram_draws_significant_paths_solid_and_thick():
    dot = path_diagram(PATHS, r2={"js": 0.3, "csat": 0.01},
                       side=lambda n: "customer" if n == "csat" else "employee")
    strong = next(line for line in dot.splitlines() if '"ms" -> "js"' in line)
    weak = next(line for line in dot.splitlines() if '"js" -> "csat"' in line)
    assert "style=solid" in strong and 'label="0.55*"' in strong
    assert "style=dashed" in weak and 'label="0.08"' in weak
    width = lambda line: float(re.search(r"penwidth=([\d.]+)", line).group(1))  # noqa: E731
    assert width(strong) > width(weak)
    assert "cluster_employee" in dot and "cluster_customer" in dot and "R² = 0.30" in dot
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")


def test_path_svg_is_inline_and_marks_significance():
    svg = path_svg(PATHS)
    assert svg.startswith("<svg") and "http" not in svg
    assert svg.count("stroke-dasharray") == 1 and ">0.55*<" in svg and ">0.08<" in svg


# --------------------------------------------------------------------------- insight
def test_comments_only_from_groups_at_or_above_the_minimum(instrument, frame):
    table = comments(view(instrument, frame))
    assert "u02" not in set(table["unit"])
    # u02 (3 people) is pooled with the smallest large unit: its comment may appear, but only
    # as one of "other units" (a group of at least 10), never under its unit
    secret = table[table["comment"] == "SECRET-SMALL-UNIT-COMMENT"]
    assert set(secret["unit"]) <= {"other units"}
    assert comments(view(instrument, frame, Selection.of(units=["u02"]))).empty
    found = comments(view(instrument, frame), search="visible COMMENT")
    assert list(found["comment"]) == ["Visible comment from a big unit"]


def test_selection_mask(frame):
    chosen = Selection.of(units=["u01", "u03"], where={"role": ["staff"]}).mask(frame)
    assert set(frame.loc[chosen, "unit"]) == {"u01", "u03"} and set(frame.loc[chosen, "role"]) == {"staff"}
    assert Selection().mask(frame).all()


def test_summary_names_drivers_certainty_and_scales(insight):
    points = summary_points(insight)
    assert points[0].startswith("The strongest drivers of Engagement")
    assert "95% interval" in points[0] and "resamples" in points[0]
    assert any("scales" in p for p in points)
    found = insight.drivers["employee"]["engagement"]["recommendation"]
    fix = [p for p in points if p.startswith("Fix first in the employee survey")]
    not_yet = [p for p in points if p.startswith("No driver of Engagement in the employee survey stands out yet")]
    if found.driver is None:  # the quadrant always has a "concentrate here" driver; the rule decides
        assert not fix and len(not_yet) == 1 and "would settle it" in not_yet[0]
    else:
        assert len(fix) == 1 and insight.labels[found.driver] in fix[0] and not not_yet


# --------------------------------------------------------------------------- report
def test_report_is_self_contained_html_with_every_section(insight):
    html = render_report(insight)
    parsed = _parse(html)
    for key in SECTIONS:
        assert key in parsed.ids, f"section {key} missing"
    text = " ".join(parsed.text)
    for heading in SECTIONS.values():
        assert heading in text
    for statistic, _, reference in METHODS:
        assert statistic in text and reference.split(";")[0].split(".")[0] in text
    external = [u for u in parsed.urls if re.match(r"\s*(https?:)?//", u)]
    assert not external, external
    assert not parsed.scripts_with_src and not parsed.links
    css = " ".join(parsed.styles)
    assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", css)
    assert "@media print" in css
    assert html.count("<script") >= 2  # plotly.js inlined, then the figures
    assert "SECRET-SMALL-UNIT-COMMENT" not in html


def test_report_shows_trends_across_waves(instrument, frame):
    two_waves = pd.concat([frame, frame.assign(wave="2", response_id=frame["response_id"] + "-w2")],
                          ignore_index=True)
    html = render_report(collect_insight(dataset(instrument, two_waves), bootstrap=0))
    assert "eNPS across waves, with 95% intervals" in html
    assert "eNPS across waves" not in render_report(collect_insight(dataset(instrument, frame), bootstrap=0))


def test_report_outside_plotly_js_mentions_no_url(insight):
    """plotly.js itself carries attribution strings (never loaded); nothing else may."""
    from plotly.offline import get_plotlyjs

    html = render_report(insight).replace(get_plotlyjs(), "")
    assert not re.search(r"https?://", html)


def test_report_of_the_linked_demo_study():
    from services.sources import demo_dataset

    insight = collect_insight(demo_dataset(), bootstrap=20, seed=1)
    assert insight.result is not None, insight.problems
    html = render_report(insight)
    parsed = _parse(html)
    text = " ".join(parsed.text)
    assert "Aggregating to units" in text and "hypothesised links" in text
    assert "<svg" in html and "Is aggregating to units justified?" in text
    for verdict in insight.result.aggregation["verdict"]:
        assert verdict in text


def test_the_unit_level_verdict_uses_the_same_draws_as_the_drivers_it_follows():
    """The summary's unit-level recommendation judges the very weights and intervals the summary
    prints for the study's drivers (one bootstrap, not two that disagree)."""
    from services.sources import demo_dataset

    insight = collect_insight(demo_dataset(), bootstrap=60, seed=4)
    found = insight.unit_recommendation
    assert found is not None
    table = insight.result.drivers
    lead = table[(table["outcome"] == "csat") & (table["rank"] == 1)].iloc[0]
    detail = found.checks.set_index("check").loc["the driver clearly leads", "detail"]
    assert f"{lead['pct_ci_lower']:.0f}% to {lead['pct_ci_upper']:.0f}%" in detail
    assert f"{100 * lead['rank_stability']:.0f}% of resamples" in detail
    points = summary_points(insight)
    assert any("across units" in p for p in points)


# --------------------------------------------------------------------------- health
def _health_section(report) -> str:
    from html import unescape
    from types import SimpleNamespace

    from reports.html import _health

    return unescape(_health(SimpleNamespace(labels={}, health={"employee": report}, parallel={}, problems={})))


def test_health_section_shows_ordinal_beside_continuous_and_which_is_primary():
    """Five-point items: the report's health section says the ordinal numbers are primary and
    why, pairs ordinal with continuous reliability, and lists both CFA fits, WLSMV first."""
    from analysis.measurement import instrument_health

    employee = load_instrument(ROOT / "instruments" / "employee_experience.yaml")
    data = simulate_responses(employee, n_units=20, respondents_per_unit=40, seed=7, loading=0.85)
    report = instrument_health(data, employee)
    section = _health_section(report)
    assert report.method == "ordinal" and report.primary_sentence in section
    for header in ("ordinal alpha", "ordinal omega", "omega", "CR (ML)", "CR (WLSMV)", "AVE (ML)", "AVE (WLSMV)",
                   "loading (ML)", "loading (WLSMV)", "<th class=\"text\">primary</th>"):
        assert f">{header}<" in section or header in section, header
    fit = section[section.index("<strong>CFA fit</strong>"):]
    assert fit.index("ordinal (WLSMV)") < fit.index("continuous (ML)") and ">robust<" in fit
    assert f"{report.fit['cfi'].iloc[0]:.3f}" in fit and f"{report.fit['cfi'].iloc[1]:.3f}" in fit
    assert "Ordinal: WLSMV CFA, ordinal alpha and ordinal omega, items have 5 categories" in section


def test_health_section_of_a_small_survey_says_why_the_ml_numbers_are_primary(insight):
    """Fewer complete responses than the WLSMV CFA needs: the ML numbers are primary and the
    section says why."""
    report = insight.health["employee"]
    section = _health_section(report)
    assert report.method == "continuous"
    assert "Primary: the continuous numbers (ML CFA, Cronbach's alpha, omega)" in section
    assert "needs at least 200 responses that answer every item" in section
