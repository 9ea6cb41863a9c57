"""NPS, eNPS, CSAT top-two-box, CES: hand-computed values, intervals, unit suppression."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.errors import DataError
from analysis.metrics import by_unit, ces, csat_top2box, enps, nps, wilson_interval
from analysis.simulate import simulate_responses
from surveys.loader import load_instrument

# 70 promoters, 15 passives, 15 detractors
COUNTS = [10] * 50 + [9] * 20 + [8] * 10 + [7] * 5 + [5] * 10 + [0] * 5


def test_nps_on_hand_counted_answers():
    result = nps(COUNTS)
    assert (result.n, result.n_promoters, result.n_passives, result.n_detractors) == (100, 70, 15, 15)
    assert result.value == pytest.approx(55.0)
    # Var(p_P - p_D) = (0.70 + 0.15 - 0.55^2) / 100 = 0.005475
    assert result.se == pytest.approx(100 * np.sqrt(0.005475))
    assert result.ci_lower == pytest.approx(55 - 1.959964 * 100 * np.sqrt(0.005475), abs=1e-4)
    assert result.ci_upper == pytest.approx(55 + 1.959964 * 100 * np.sqrt(0.005475), abs=1e-4)
    frame = result.to_frame()
    assert frame.loc[0, "metric"] == "nps" and frame.loc[0, "value"] == pytest.approx(55.0)


def test_nps_missing_answers_are_dropped_and_enps_is_labelled():
    result = enps(pd.Series(COUNTS + [np.nan] * 7))
    assert result.metric == "enps" and result.n == 100 and result.value == pytest.approx(55.0)


def test_nps_interval_is_cut_to_the_scale_and_adjusted_interval_moves_inwards():
    wald = nps([10] * 20)
    assert (wald.value, wald.se, wald.ci_lower, wald.ci_upper) == (100.0, 0.0, 100.0, 100.0)
    adjusted = nps([10] * 20, method="adjusted")
    assert adjusted.value == 100.0 and adjusted.ci_lower < 100.0 and adjusted.ci_upper <= 100.0
    # adjusted Wald (Rocks 2016): 3 pseudo answers, 3/4 promoter and 3/4 detractor
    p_p, p_d = 20.75 / 23, 0.75 / 23
    se = 100 * np.sqrt((p_p + p_d - (p_p - p_d) ** 2) / 23)
    assert adjusted.ci_lower == pytest.approx(100 * (p_p - p_d) - 1.959964 * se, abs=1e-4)


def test_nps_wald_interval_covers_the_true_score():
    rng = np.random.default_rng(4)
    truth = 100 * (0.45 - 0.25)
    answers = rng.choice([10, 8, 3], p=[0.45, 0.30, 0.25], size=(600, 250))
    covered = [nps(row).ci_lower <= truth <= nps(row).ci_upper for row in answers]
    assert 0.92 <= np.mean(covered) <= 0.975


@pytest.mark.parametrize("bad", [[11, 9], [9.5, 10], [-1, 3]])
def test_nps_rejects_answers_off_the_0_to_10_scale(bad):
    with pytest.raises(DataError, match="not whole numbers from 0 to 10"):
        nps(bad)


def test_nps_errors():
    with pytest.raises(DataError, match="no answers"):
        nps([np.nan, np.nan])
    with pytest.raises(DataError, match="Did you mean 'wald'"):
        nps([9, 10], method="wlad")
    with pytest.raises(DataError, match="numbers"):
        nps(["9", "10"])


def test_csat_top2box_with_wilson_interval_matches_statsmodels():
    proportion = pytest.importorskip("statsmodels.stats.proportion")
    answers = [5, 4, 4, 3, 2, 1, 5, 5, 3, 4, np.nan]
    result = csat_top2box(answers, scale_points=5)
    assert (result.n, result.n_top, result.value) == (10, 6, 0.6)
    lower, upper = proportion.proportion_confint(6, 10, alpha=0.05, method="wilson")
    assert (result.ci_lower, result.ci_upper) == (pytest.approx(lower), pytest.approx(upper))
    assert result.top_values == (4.0, 5.0)
    assert result.to_frame().loc[0, "top_values"] == "4, 5"


def test_csat_top2box_reads_the_instrument_scale():
    scale = SimpleNamespace(values=(0, 1, 2, 3, 4, 5, 6))
    result = csat_top2box([6, 5, 4, 0, 6], scale=scale)
    assert result.n_top == 3 and result.top_values == (5.0, 6.0)
    with pytest.raises(DataError, match="not values of the scale"):
        csat_top2box([7, 6], scale=scale)
    with pytest.raises(DataError, match="scale is unknown"):
        csat_top2box([1, 2])


def test_wilson_interval_at_zero_stays_in_range():
    lower, upper = wilson_interval(0, 20)
    assert lower == 0.0 and 0.1 < upper < 0.2  # 0.161 for 0/20


def test_ces_t_interval():
    answers = [2, 3, 5, 6, 7, 7, 4]
    result = ces(answers)
    lower, upper = stats.t.interval(0.95, 6, loc=np.mean(answers), scale=stats.sem(answers))
    assert result.value == pytest.approx(np.mean(answers))
    assert (result.ci_lower, result.ci_upper) == (pytest.approx(lower), pytest.approx(upper))
    assert np.isnan(ces([4]).ci_lower)


# --------------------------------------------------------------------------- by unit: privacy
def _unit_answers() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    sizes = {"north": 30, "south": 12, "east": 3, "west": 8}
    units = np.repeat(list(sizes), list(sizes.values()))
    return pd.DataFrame({"store": units, "ltr": rng.integers(0, 11, units.size).astype(float),
                         "sat": rng.integers(1, 6, units.size).astype(float)})


@pytest.mark.parametrize(
    ("metric", "item", "options"),
    [("nps", "ltr", {}), ("enps", "ltr", {}), ("csat_top2box", "sat", {"scale_points": 5}), ("ces", "sat", {})],
)
def test_by_unit_suppresses_small_units_for_every_metric(metric, item, options):
    data = _unit_answers()
    result = by_unit(data, item, "store", metric=metric, min_group_size=5, **options)
    frame = result.to_frame()
    units = frame[frame["level"] == "unit"].set_index("unit")
    east = units.loc["east"]
    assert bool(east["suppressed"]) and east["label"] == "fewer than 5 respondents"
    assert pd.isna(east["n"]) and np.isnan(east[["value", "ci_lower", "ci_upper"]].astype(float)).all()
    # 3 hidden answers alone would be recoverable from the overall: the smallest shown unit goes too
    west = units.loc["west"]
    assert bool(west["suppressed"]) and "cannot be recovered" in west["label"]
    assert pd.isna(west["n"]) and np.isnan(float(west["value"]))
    direct = {"nps": nps, "enps": enps, "csat_top2box": csat_top2box, "ces": ces}[metric]
    assert frame.loc[frame["suppressed"], ["n", "value", "ci_lower", "ci_upper"]].isna().all().all()
    north = direct(data.loc[data["store"] == "north", item], **options)
    assert units.loc["north", "value"] == pytest.approx(north.value)
    assert units.loc["north", "n"] == 30
    overall = frame[frame["level"] == "overall"].iloc[0]
    assert overall["n"] == len(data) and overall["value"] == pytest.approx(direct(data[item], **options).value)


def test_by_unit_overall_is_suppressed_when_everyone_is_too_few():
    data = pd.DataFrame({"store": ["a", "a", "b"], "ltr": [9.0, 10.0, 3.0]})
    result = by_unit(data, "ltr", "store", metric="nps", min_group_size=5)
    assert result.overall is None
    frame = result.to_frame()
    assert frame["suppressed"].all() and frame["value"].isna().all() and frame["n"].isna().all()


def test_by_unit_errors():
    data = _unit_answers()
    with pytest.raises(DataError, match="Did you mean 'nps'"):
        by_unit(data, "ltr", "store", metric="npss")
    with pytest.raises(DataError, match="Did you mean 'store'"):
        by_unit(data, "ltr", "stores", metric="nps")


def test_customer_metrics_by_store_from_the_instrument():
    root = Path(__file__).resolve().parents[1]
    instrument = load_instrument(root / "instruments" / "customer_experience.yaml")
    frame = simulate_responses(instrument, n_units=12, respondents_per_unit=(1, 30), seed=3)
    sizes = frame.dropna(subset=[instrument.metrics.nps]).groupby("unit").size()
    k = instrument.min_group_size
    scale = instrument.item(instrument.metrics.csat).scale
    for metric, item, options in (("nps", instrument.metrics.nps, {}),
                                  ("csat_top2box", instrument.metrics.csat, {"scale": scale}),
                                  ("ces", instrument.metrics.ces, {})):
        units = by_unit(frame, item, "unit", metric=metric, min_group_size=k, **options).units.set_index("unit")
        answered = frame.dropna(subset=[item]).groupby("unit").size()
        small = answered[answered < k].index
        assert units.loc[small, "suppressed"].all() and units.loc[small, "value"].isna().all()
        shown = units[~units["suppressed"]]
        assert (shown["n"] >= k).all() and shown["value"].notna().all()
    assert (sizes < k).any(), "the seed should produce at least one small store"


@pytest.mark.parametrize("metric", ["nps", "csat_top2box", "ces"])
def test_unit_values_equal_by_unit_values(metric):
    """The vectorised values of the linkage chain and power equal by_unit's point values."""
    from analysis.metrics import by_unit, unit_values

    rng = np.random.default_rng(4)
    units = np.repeat([f"u{i}" for i in range(12)], rng.integers(3, 30, size=12))
    answers = {"nps": rng.integers(0, 11, units.size), "csat_top2box": rng.integers(1, 6, units.size),
               "ces": rng.integers(1, 8, units.size)}[metric].astype(float)
    answers[rng.random(units.size) < 0.1] = np.nan
    frame = pd.DataFrame({"unit": units, "x": answers})
    options = {"scale_points": 5} if metric == "csat_top2box" else {}
    expected = by_unit(frame, "x", "unit", metric=metric, min_group_size=1, **options).units.set_index("unit")
    got = unit_values(frame, "x", "unit", metric=metric, **options)
    pd.testing.assert_series_equal(got, expected["value"].astype(float).loc[got.index], check_names=False)
    if metric != "ces":  # NPS and CSAT answers have a fixed range, as in nps() and csat_top2box()
        with pytest.raises(DataError):
            unit_values(frame.assign(x=frame["x"] + 20), "x", "unit", metric=metric, **options)
