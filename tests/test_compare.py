"""Group comparisons: the R reference cases, simulated truth, bad input, and the disclosure policy
through the service, the page, the CLI and the report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.compare import adjust_pvalues, compare, hedges_correction
from analysis.errors import DataError
from tests.conftest import REFERENCE_DIR, reference_data

ROOT = Path(__file__).resolve().parents[1]


def wave2_cases(kind: str) -> dict:
    cases = json.loads((REFERENCE_DIR / "expected_wave2.json").read_text())
    return {name: case for name, case in cases.items() if case["kind"] == kind}


GROUP_CASES = wave2_cases("group_comparison")


def case_frame(case: dict) -> pd.DataFrame:
    frame = reference_data(case["data"])
    spec = case.get("score")
    if spec:
        items = frame[spec["items"]].astype(float)
        for item in spec["reverse"]:
            items[item] = spec["reverse_sum"] - items[item]
        frame[case["dv"]] = items.mean(axis=1, skipna=False)
    return frame


class Check:
    """Collects every mismatch of one case, each naming the statistic, expected and actual value."""

    def __init__(self, name: str, tolerance: dict):
        self.name, self.tolerance, self.failures = name, tolerance, []

    def __call__(self, statistic: str, expected: float, actual: float, kind: str = "stat", *,
                 scale: float = 0.0) -> None:
        """``scale``: a magnitude the relative tolerance also applies to (an interval bound
        near 0 is checked relative to the standard error, not to itself)."""
        if expected is None:
            return
        if kind == "stat":
            ok = math.isclose(actual, expected, rel_tol=self.tolerance["stat_rel"],
                              abs_tol=max(1e-12, self.tolerance["stat_rel"] * scale))
        else:
            ok = abs(actual - expected) <= self.tolerance[{"p": "p_abs", "p_adj": "p_adj_abs",
                                                           "effect": "effect_abs"}[kind]]
        if not ok:
            self.failures.append(f"{self.name}: {statistic}: expected {expected!r}, got {actual!r}")

    def done(self) -> None:
        assert not self.failures, "\n".join(self.failures)


@pytest.mark.parametrize("name", sorted(GROUP_CASES))
def test_reference_group_comparison(name):
    case = GROUP_CASES[name]
    expected = case["expected"]
    check = Check(name, case["tolerance"])
    result = compare(case_frame(case), case["dv"], case["group"])
    check("n", expected["n"], result.n)
    assert list(result.groups["group"]) == list(expected["groups"]), f"{name}: group labels and order"
    groups = result.groups.set_index("group")
    for label, values in expected["groups"].items():
        for key in ("n", "mean", "sd"):
            check(f"groups[{label}].{key}", values[key], float(groups.at[label, key]))
    welch, anova = result.welch, result.anova
    for key, column in (("F", "F"), ("df1", "df1"), ("df2", "df2")):
        check(f"welch.{key}", expected["welch"][key], float(welch[column]))
        check(f"anova.{key}", expected["anova"][key], float(anova[column]))
    check("welch.p", expected["welch"]["p"], float(welch["pvalue"]), "p")
    check("anova.p", expected["anova"]["p"], float(anova["pvalue"]), "p")
    for key in ("ss_between", "ss_within"):
        check(f"anova.{key}", expected["anova"][key], float(anova[key]))
    for key in ("eta2", "omega2"):
        check(f"anova.{key}", expected["anova"][key], float(anova[key]), "effect")
    pairs = result.pairwise.set_index(["group1", "group2"])
    assert len(pairs) == len(expected["games_howell"]), f"{name}: number of Games-Howell pairs"
    for row in expected["games_howell"]:
        key = (row["group1"], row["group2"])
        assert key in pairs.index, f"{name}: Games-Howell pair {key} missing (order group1 < group2)"
        got = pairs.loc[key]
        for stat in ("diff", "se", "t", "q", "df", "ci_lower", "ci_upper"):
            check(f"games_howell[{key}].{stat}", row[stat], float(got[stat]), scale=row["se"])
        check(f"games_howell[{key}].p_adj", row["p_adj"], float(got["pvalue_adj"]), "p_adj")
    if "welch_t" in expected:
        tests = result.t_tests.set_index("test")
        for test, entry in (("welch", "welch_t"), ("student", "student_t")):
            check(f"{entry}.t", expected[entry]["t"], float(tests.at[test, "t"]))
            check(f"{entry}.df", expected[entry]["df"], float(tests.at[test, "df"]))
            check(f"{entry}.p", expected[entry]["p"], float(tests.at[test, "pvalue"]), "p")
        pair = result.pairwise.iloc[0]
        for key in ("cohens_d", "hedges_g", "hedges_g_exact"):
            check(key, expected[key], float(pair[key]), "effect")
    else:
        assert result.t_tests.empty
    check.done()


def test_reference_tolerances_are_tight_enough_to_catch_pingouins_conventions():
    """pingouin.ttest reports |d| and rounds its interval; a sign error must fail the case."""
    case = GROUP_CASES["salaries_by_sex"]
    result = compare(case_frame(case), case["dv"], case["group"])
    assert result.pairwise.iloc[0]["cohens_d"] < 0 and case["expected"]["cohens_d"] < 0
    welch = result.t_tests.set_index("test").loc["welch"]
    gh = result.pairwise.iloc[0]
    assert welch["ci_lower"] == pytest.approx(gh["diff"] - 2.0086 * gh["se"], rel=1e-3)  # unrounded
    assert welch["ci_lower"] != round(welch["ci_lower"], 2)


def test_to_frame_and_versus_rest():
    case = GROUP_CASES["salaries_by_rank"]
    frame = case_frame(case)
    result = compare(frame, "salary", "rank")
    table = result.to_frame()
    assert list(table.columns) == ["group", "n", "mean", "sd", "se", "diff", "hedges_g", "pvalue", "pvalue_adj"]
    prof = table.set_index("group").loc["Prof"]
    rest = frame.loc[frame["rank"] != "Prof", "salary"]
    assert prof["diff"] == pytest.approx(frame.loc[frame["rank"] == "Prof", "salary"].mean() - rest.mean())
    holm = adjust_pvalues(result.versus_rest["pvalue"], "holm")
    assert np.allclose(result.versus_rest["pvalue_adj"], holm)


def test_each_group_against_the_rest_equals_pingouin_on_the_raw_values():
    """The sufficient-statistics form of group-versus-rest (one pass for any number of groups)
    equals Welch's t and the effect sizes computed on each group and its rest."""
    import pingouin as pg

    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"g": rng.choice(list("abcdefg"), 600), "y": rng.normal(size=600) * 3 + 50})
    frame.loc[frame["g"] == "c", "y"] += 1.5
    result = compare(frame, "y", "g", pairs=False)
    assert result.pairwise.empty
    for row in result.versus_rest.itertuples():
        x, rest = frame.loc[frame["g"] == row.group, "y"], frame.loc[frame["g"] != row.group, "y"]
        welch = pg.ttest(x, rest, correction=True).iloc[0]
        assert row.t == pytest.approx(welch["T"], rel=1e-10) and row.df == pytest.approx(welch["dof"], rel=1e-10)
        assert row.cohens_d == pytest.approx(pg.compute_effsize(x, rest, eftype="cohen"), rel=1e-10)
        assert row.hedges_g == pytest.approx(pg.compute_effsize(x, rest, eftype="hedges"), rel=1e-10)
        assert row.rest_mean == pytest.approx(rest.mean(), rel=1e-12)


def test_adjust_pvalues_matches_r_p_adjust():
    p = [0.01, 0.04, 0.03, 0.005, np.nan]
    # R: p.adjust(c(.01, .04, .03, .005), "holm") / "BH"
    assert np.allclose(adjust_pvalues(p, "holm")[:4], [0.03, 0.06, 0.06, 0.02])
    assert np.allclose(adjust_pvalues(p, "fdr_bh")[:4], [0.02, 0.04, 0.04, 0.02])
    assert np.isnan(adjust_pvalues(p, "holm")[4])
    with pytest.raises(DataError, match="unknown adjustment"):
        adjust_pvalues(p, "tukey")


def test_hedges_correction():
    assert hedges_correction(10) == pytest.approx(1 - 3 / 39)
    exact = math.gamma(5) / (math.sqrt(5) * math.gamma(4.5))  # R: gamma(df/2) / (sqrt(df/2) gamma((df-1)/2))
    assert hedges_correction(10, exact=True) == pytest.approx(exact, rel=1e-12)
    assert math.isnan(hedges_correction(1))


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(("frame", "dv", "group", "message"), [
    (pd.DataFrame({"y": [1.0, 2, 3], "g": ["a", "a", "a"]}), "y", "g", "only the group 'a'"),
    (pd.DataFrame({"y": [1.0, 2, 3, 4], "g": ["a", "a", "a", "b"]}), "y", "g", "single response"),
    (pd.DataFrame({"y": ["x", "y", "z", "w"], "g": ["a", "a", "b", "b"]}), "y", "g", "text that is not a number"),
    (pd.DataFrame({"y": [1.0, 2, 3, 4], "g": ["a", "a", "b", "b"]}), "score", "g", "compared column 'score'"),
    (pd.DataFrame({"y": [1.0, 2, 3, 4], "g": ["a", "a", "b", "b"]}), "y", "region", "group column 'region'"),
    (pd.DataFrame({"y": [np.nan] * 4, "g": ["a", "a", "b", "b"]}), "y", "g", "no answers"),
])
def test_bad_input_raises_data_error_with_where_and_fix(frame, dv, group, message):
    with pytest.raises(DataError, match=message) as info:
        compare(frame, dv, group)
    assert info.value.where and info.value.fix


def test_a_constant_group_leaves_welch_undefined_not_an_exception():
    frame = pd.DataFrame({"y": [3.0, 3, 3, 1, 2, 4, 5], "g": list("aaabbbb")})
    result = compare(frame, "y", "g")
    assert np.isnan(result.welch["F"]) and np.isfinite(result.anova["F"])
    assert result.notes and "Welch" in result.notes[0]


# --------------------------------------------------------------------------- simulated truth
def _simulate(rng, shifts, n):
    return pd.DataFrame({"y": np.concatenate([rng.normal(s, 1, n) for s in shifts]),
                         "g": np.repeat([f"g{i}" for i in range(len(shifts))], n)})


def test_no_difference_gives_uniform_pvalues_and_holm_controls_the_family_error():
    rng = np.random.default_rng(20240611)
    welch, anova, any_holm, any_raw = [], [], 0, 0
    replications = 400
    for _ in range(replications):
        result = compare(_simulate(rng, [0, 0, 0, 0], 30), "y", "g")
        welch.append(result.welch["pvalue"])
        anova.append(result.anova["pvalue"])
        any_holm += bool((result.versus_rest["pvalue_adj"] < 0.05).any())
        any_raw += bool((result.versus_rest["pvalue"] < 0.05).any())
    from scipy import stats

    assert stats.kstest(welch, "uniform").pvalue > 0.01
    assert stats.kstest(anova, "uniform").pvalue > 0.01
    assert 0.02 < np.mean(np.array(welch) < 0.05) < 0.09
    assert any_holm / replications <= 0.05 + 2.5 * math.sqrt(0.05 * 0.95 / replications)
    assert any_raw > any_holm  # without adjustment the family error is inflated


def test_games_howell_controls_the_family_error_under_unequal_variances():
    rng = np.random.default_rng(3)
    hits, replications = 0, 300
    for _ in range(replications):
        frame = pd.DataFrame({"y": np.concatenate([rng.normal(0, s, n) for s, n in ((1, 15), (3, 40), (0.5, 25))]),
                              "g": np.repeat(["a", "b", "c"], [15, 40, 25])})
        hits += bool((compare(frame, "y", "g").pairwise["pvalue_adj"] < 0.05).any())
    assert hits / replications <= 0.05 + 2.5 * math.sqrt(0.05 * 0.95 / replications)


def test_a_known_shift_is_recovered_with_hedges_g_close_to_the_truth():
    rng = np.random.default_rng(11)
    g = []
    for _ in range(200):
        result = compare(_simulate(rng, [0.0, 0.5], 40), "y", "g")
        g.append(result.pairwise.iloc[0]["hedges_g"])
    assert np.mean(g) == pytest.approx(-0.5, abs=0.04)  # diff is g0 - g1
    big = compare(_simulate(rng, [0.0, 0.0, 0.8], 2000), "y", "g")
    shifted = big.versus_rest.set_index("group").loc["g2"]
    assert shifted["hedges_g"] == pytest.approx(0.8, abs=0.12) and shifted["pvalue_adj"] < 1e-6
    assert (big.versus_rest.set_index("group").loc[["g0", "g1"], "hedges_g"] < 0).all()
    assert big.omnibus.set_index("test")["pvalue"].max() < 1e-10


def test_games_howell_equals_pingouin_and_the_studentized_range_equals_scipy():
    import pingouin as pg
    from scipy import stats

    from analysis.compare import ptukey, qtukey

    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"y": np.concatenate([rng.normal(m, s, n) for m, s, n in ((0, 1, 12), (0.6, 2, 30),
                                                                                    (0.2, 0.7, 20), (1, 1, 9))]),
                          "g": np.repeat(list("abcd"), [12, 30, 20, 9])})
    ours = compare(frame, "y", "g").pairwise
    theirs = pg.pairwise_gameshowell(data=frame, dv="y", between="g", effsize="hedges")
    assert list(ours["group1"]) == list(theirs["A"]) and list(ours["group2"]) == list(theirs["B"])
    for mine, other in (("diff", "diff"), ("se", "se"), ("t", "T"), ("df", "df"), ("hedges_g", "hedges")):
        assert np.allclose(ours[mine], theirs[other], rtol=1e-12), mine
    assert np.allclose(ours["pvalue_adj"], theirs["pval"], atol=1e-9)
    for k in (2, 3, 7, 40):
        for df in (2.5, 11.3, 87.0, 950.0, 30000.0):
            q = np.array([0.5, 2.0, 3.5, 5.0, 9.0])
            assert np.allclose(ptukey(q, k, df), stats.studentized_range.sf(q, k, df), atol=1e-9), (k, df)
            assert qtukey(0.95, k, df)[0] == pytest.approx(stats.studentized_range.ppf(0.95, k, df), rel=1e-8)


# --------------------------------------------------------------------------- the service and the disclosure policy
SMALL = ROOT / "tests" / "insight_fixtures" / "small_survey.yaml"


@pytest.fixture(scope="module")
def demo_views():
    from services.selection import select
    from services.sources import demo_dataset

    return select(demo_dataset())


@pytest.fixture(scope="module")
def small_frame():
    """The small survey in 6 units; 'manager' has 3 respondents in all (below k = 5) and
    unit u06 only 3 responses, so neither may ever be shown."""
    from analysis.simulate import simulate_responses
    from surveys.loader import load_instrument

    instrument = load_instrument(SMALL)
    frame = simulate_responses(instrument, n_units=6, respondents_per_unit=(20, 30), seed=21)
    frame["role"] = "staff"
    frame.loc[frame.index[[0, 25, 60]], "role"] = "manager"
    small = frame[frame["unit"] == "u06"].index
    frame = frame.drop(small[3:]).reset_index(drop=True)
    return instrument, frame


def _file_view(instrument, frame):
    from services.selection import select
    from services.sources import file_dataset

    return select(file_dataset({"data": (instrument, frame)}, name="test"))["employee"]


def _shown_groups(result) -> set[str]:
    """Every group named in a table with a number."""
    return (set(result.cells["group"]) | set(result.pairwise["group1"]) | set(result.pairwise["group2"])
            | set(result.groups.loc[result.groups["n"].notna(), "group"]))


def assert_disclosed(view, result) -> None:
    """No hidden group in any table; every value the comparison pools comes from whole blocks
    holding none or at least k counted respondents with a value (so every group, every
    'rest' and every difference of them holds at least k)."""
    from analysis.scoring import score

    hidden = set(result.hidden)
    assert not hidden & _shown_groups(result)
    assert set(result.tests.columns) and not hidden & set(result.tests["label"])
    assert (result.cells["n"] >= view.k).all() and (result.cells["rest_n"] >= view.k).all()
    labels = view.grouped(result.by, "\x00pool")
    blocks = view.data.blocks.block[view.shown]
    scored = score(view.frame, view.instrument)
    for measure in result.tests["measure"]:
        column = measure if measure in scored else getattr(view.instrument.metrics, measure)
        cells = result.cells[result.cells["measure"] == measure]
        used = labels.isin(set(cells["group"])).to_numpy() & scored[column].notna().to_numpy()
        assert int(used.sum()) == int(cells["n"].sum())  # the comparison pooled at most these rows
        for group in cells["group"]:
            members = labels.eq(group).to_numpy()
            # the group's rows are whole blocks (no block has members of this group and others)
            mixed = set(blocks[members]) & set(blocks[~members & labels.ne("\x00pool").to_numpy()])
            assert not mixed, (measure, group)
        per_block = pd.Series(used).groupby(blocks).sum()
        assert ((per_block == 0) | (per_block >= view.k)).all(), measure


def test_demo_comparisons_show_no_hidden_group_and_pool_whole_blocks(demo_views):
    from services.insight import compare, compare_breakdowns

    for view in demo_views.values():
        for by in compare_breakdowns(view):
            result = compare(view, by=by)
            assert_disclosed(view, result)
            if by == "unit":
                assert len(result.shown) == 40 and not result.hidden


def test_groups_below_k_are_hidden_and_never_compared(small_frame):
    from services.insight import compare

    instrument, frame = small_frame
    view = _file_view(instrument, frame)
    by_role = compare(view, by="role")
    assert "manager" in by_role.hidden and "manager" not in _shown_groups(by_role)
    assert_disclosed(view, by_role)
    by_unit = compare(view, by="unit")
    assert "u06" not in _shown_groups(by_unit)
    assert_disclosed(view, by_unit)
    assert "u06" in by_unit.hidden


def test_the_adjustment_runs_over_the_cells_shown(demo_views):
    from services.insight import compare

    view = demo_views["customer"]
    result = compare(view, by="visit_type")
    expected = adjust_pvalues(result.cells["pvalue"], "holm")
    assert np.allclose(result.cells["pvalue_adj"], expected, equal_nan=True)
    fdr = compare(view, by="visit_type", adjust="fdr_bh")
    assert np.allclose(fdr.cells["pvalue_adj"], adjust_pvalues(fdr.cells["pvalue"], "fdr_bh"), equal_nan=True)
    assert (result.cells["significant"] == (result.cells["pvalue_adj"] < 0.05)).all()
    # the cells are the analysis' numbers on the shown groups
    from analysis.compare import compare as analyse
    from analysis.scoring import score

    labels = view.grouped("visit_type", "\x00pool")
    scored = score(view.frame, view.instrument).assign(visit_type=labels)
    direct = analyse(scored[labels != "\x00pool"], "trust", "visit_type").versus_rest
    mine = result.cells[result.cells["measure"] == "trust"]
    assert np.allclose(mine["hedges_g"], direct["hedges_g"]) and np.allclose(mine["pvalue"], direct["pvalue"])


def test_pairs_of_many_groups_are_left_out_with_a_note(demo_views, monkeypatch):
    """Every pair of 2,000 stores would be two million rows per measure: above
    MAX_PAIRED_GROUPS groups the comparison keeps its cells and says why there are no pairs."""
    from services import insight

    monkeypatch.setattr(insight, "MAX_PAIRED_GROUPS", 10)
    result = insight.compare(demo_views["customer"], by="unit")
    assert result.pairwise.empty and len(result.cells) and "pairs are compared for at most 10 groups" in \
        result.pairs_note
    assert not insight.compare(demo_views["customer"], by="visit_type").pairs_note


def test_two_groups_enter_the_family_once(small_frame):
    from services.insight import compare

    instrument, frame = small_frame
    frame = frame.copy()
    frame.loc[frame.index % 2 == 0, "role"] = "manager"
    frame.loc[frame.index % 2 == 1, "role"] = "staff"
    result = compare(_file_view(instrument, frame), by="role", constructs=["engagement", "training"])
    assert sorted(result.tests["measure"]) == ["engagement", "training"]
    assert result.tests["n_groups"].eq(2).all() and len(result.cells) == 4
    first = result.cells.groupby("measure", sort=False)["pvalue"].first()
    adjusted = result.cells.groupby("measure", sort=False)["pvalue_adj"]
    assert np.allclose(adjusted.first(), adjust_pvalues(first, "holm"))  # a family of two tests, not four
    assert (adjusted.nunique() == 1).all()


def test_a_bad_breakdown_or_construct_is_a_tandem_error(demo_views):
    from services.insight import compare
    from surveys.errors import TandemError

    with pytest.raises(TandemError, match="cannot compare by 'tenure'"):
        compare(demo_views["employee"], by="tenure")
    with pytest.raises(TandemError, match="no construct or metric 'engagment'"):
        compare(demo_views["employee"], by="unit", constructs=["engagment"])


# --------------------------------------------------------------------------- the page
def _page():
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(ROOT / "views" / "insight_compare.py"), default_timeout=240)


def _page_groups(at) -> set[str]:
    names = set()
    for frame in at.dataframe:
        for column in ("group", "group1", "group2"):
            if column in frame.value:
                names |= set(frame.value[column].astype(str))
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        for trace in spec["data"]:
            names |= {str(x).removesuffix(" (part)") for x in trace.get("x", [])}
    return names


def test_page_renders_on_the_demo_and_hides_groups_below_k(demo_views):
    at = _page().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert [t.value for t in at.title] == ["Compare groups"]
    assert len(at.get("plotly_chart")) == 1
    at.selectbox(key="compare:by").set_value("tenure_band").run()
    assert not at.exception, [e.value for e in at.exception]
    hidden = {g for g, state in demo_views["employee"].groups("tenure_band").items() if state == "hidden"}
    assert hidden and not hidden & _page_groups(at)
    assert any("over_10" in c.value and "hidden" in c.value for c in at.caption)


def test_page_with_a_filter_never_shows_a_group_below_k(demo_views):
    from services.insight import compare
    from services.selection import Selection, select
    from services.sources import demo_dataset

    view = demo_views["employee"]
    counts = view.data.frame.groupby(["unit", "tenure_band"]).size()
    units = sorted(view.data.frame["unit"].unique())[:4]
    small = {band for (unit, band), n in counts.items() if unit in units and 0 < n < view.k}
    at = _page().run()
    at.multiselect(key="insight:units").set_value(units).run()
    at.selectbox(key="compare:by").set_value("tenure_band").run()
    assert not at.exception, [e.value for e in at.exception]
    filtered = select(demo_dataset(), Selection.of(units=units))["employee"]
    result = compare(filtered, by="tenure_band")
    sizes = filtered.frame["tenure_band"].astype("string").fillna("(no answer)").value_counts()
    for group in _page_groups(at):
        assert group in result.shown and sizes[group] >= view.k
    assert small, "the filter should make some band smaller than k"


def test_page_on_an_upload_with_a_group_below_k(small_frame):
    instrument, frame = small_frame
    at = _page().run()
    at.sidebar.radio(key="insight:source").set_value("Upload a file").run()
    at.sidebar.file_uploader(key="insight:upload").set_value(("small.csv", frame.to_csv(index=False).encode(),
                                                               "text/csv"))
    at.sidebar.file_uploader(key="insight:yaml").set_value(("small.yaml", SMALL.read_bytes(), "application/yaml"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "u06" not in _page_groups(at)
    at.selectbox(key="compare:by").set_value("role").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "manager" not in _page_groups(at)


# --------------------------------------------------------------------------- CLI and report
def test_cli_json_validates_against_its_schema_and_shows_no_hidden_group(small_frame, tmp_path):
    import jsonschema
    from typer.testing import CliRunner

    from tandem_cli.main import app

    instrument, frame = small_frame
    path = tmp_path / "responses.csv"
    frame.to_csv(path, index=False)
    runner = CliRunner()
    for by in ("role", "unit"):
        result = runner.invoke(app, ["analyze", "compare", "--data", str(path), "--instrument", str(SMALL),
                                     "--by", by, "--json"])
        assert result.exit_code == 0, result.output
        document = json.loads(result.stdout)
        schema = json.loads((ROOT / "reports" / "schemas" / "compare.json").read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.validate(document, schema)
        assert document["command"] == "compare" and document["by"] == by
        named = {row["group"] for row in document["cells"]} | {row["group1"] for row in document["pairwise"]} | {
            row["group2"] for row in document["pairwise"]}
        assert not named & set(document["hidden"])
        assert not named & {"manager", "u06"}
    table = runner.invoke(app, ["analyze", "compare", "--data", str(path), "--instrument", str(SMALL), "--by", "unit"])
    assert table.exit_code == 0 and "Each group against the rest" in table.stdout
    bad = runner.invoke(app, ["analyze", "compare", "--data", str(path), "--instrument", str(SMALL), "--by", "x"])
    assert bad.exit_code == 1 and "cannot compare by 'x'" in bad.output and "Traceback" not in bad.output


def test_report_section_where_do_groups_differ(small_frame):
    from reports.html import SECTIONS, render_report
    from services.insight import collect_insight
    from services.sources import file_dataset

    instrument, frame = small_frame
    insight = collect_insight(file_dataset({"data": (instrument, frame)}, name="test"), bootstrap=20)
    assert set(insight.comparisons["employee"]) == {"unit"}  # role shows one group only
    html = render_report(insight)
    assert SECTIONS["compare"] == "Where do groups differ?"
    start = html.index('<section id="compare">')
    section = html[start:html.index("</section>", start)]
    assert "Employee survey, by unit" in section and "Welch F" in section
    import re

    tables = "".join(re.findall(r"<table>.*?</table>", section, flags=re.S))
    assert tables and "u06" not in tables


# --------------------------------------------------------------------------- differencing (the privacy observer)
def compare_sets(view, by: str) -> dict[str, list[np.ndarray]]:
    """What a comparison lets out, per measure: each cell's group and its 'rest' (the
    respondents whose score the cell's mean and the rest's mean pool), as row masks of the
    side's frame."""
    from services.insight import compare

    result = compare(view, by=by)
    labels = view.grouped(by, "\x00pool").to_numpy()
    positions = np.flatnonzero(view.shown)
    from analysis.scoring import score
    from services.insight import _block_thinned

    scored = _block_thinned(view, score(view.frame, view.instrument))
    families: dict[str, list[np.ndarray]] = {}
    for measure in result.tests["measure"]:
        column = measure if measure in scored else getattr(view.instrument.metrics, measure)
        cells = result.cells[result.cells["measure"] == measure]
        has = scored[column].notna().to_numpy()
        compared = np.isin(labels, list(cells["group"])) & has
        sets = []
        for group in cells["group"]:
            for rows in (compared & (labels == group), compared & (labels != group)):
                member = np.zeros(len(view.data.frame), dtype=bool)
                member[positions[rows]] = True
                sets.append(member)
        families[measure] = sets
    return families


def test_no_atom_of_comparisons_and_the_other_outputs_is_below_k():
    """The issue's organisation (north 6 with one short-tenured person, south 2): comparisons
    by every breakdown under the issue's selections, with the other outputs' groups, leave
    no atom below k (the observer of tests/privacy)."""
    from privacy.attacks import ORG, dataset_of, merged, north_and_south, shown_sets, smallest_atom

    from services.selection import Selection, select
    from surveys.loader import load_instrument

    dataset = dataset_of(load_instrument(ORG), north_and_south())
    selections = [Selection(), Selection.of(units=["north"]), Selection.of(where={"tenure": ["long"]}),
                  Selection.of(units=["north", "south"]), Selection.of(units=["east", "west"])]
    others, comparisons = [], []
    for selection in selections:
        view = select(dataset, selection)["employee"]
        if view.empty:
            continue
        others.append(shown_sets(view, ("unit", "tenure", "role")))
        comparisons += [compare_sets(view, by) for by in ("unit", "tenure", "role")]
    assert sum(len(sets) for family in comparisons for sets in family.values()) >= 8  # not vacuous
    counted = dataset.sides["employee"].counted
    assert smallest_atom(merged(*comparisons), counted) >= 5
    everything = merged(*others, *comparisons)
    assert smallest_atom(everything, counted) >= 5
    # the positive control: the short-tenured person's score would be isolated by north minus north-long
    frame = dataset.sides["employee"].frame
    north = (frame["unit"] == "north").to_numpy()
    assert smallest_atom([north, north & (frame["tenure"] == "long").to_numpy()], counted) == 1
