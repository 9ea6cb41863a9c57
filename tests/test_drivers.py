"""Relative weights, Shapley (LMG) decomposition, their bootstrap, importance-performance."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from conftest import reference_cases_of, reference_data
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.drivers import (
    DRIVER_COLUMNS,
    _bootstrap_correlations,
    _relative_weights_of,
    relative_weights,
    shapley,
)
from analysis.errors import DataError
from analysis.importance_performance import importance_performance

DRIVER_CASES = sorted(reference_cases_of("drivers"))


def _close(case: str, statistic: str, expected: float, actual: float, tol: float) -> None:
    assert abs(actual - expected) <= tol, (
        f"case {case}, {statistic}: expected {expected!r}, actual {actual!r} (tolerance {tol})"
    )


@pytest.mark.parametrize("name", DRIVER_CASES)
def test_drivers_match_the_reference(name):
    case = reference_cases_of("drivers")[name]
    data = reference_data(case["data"])
    expected, tol = case["expected"], case["tolerance"]["abs"]
    rw = relative_weights(data, case["outcome"], case["predictors"])
    lmg = shapley(data, case["outcome"], case["predictors"])
    assert rw.n == expected["n"] == lmg.n, f"case {name}, n: expected {expected['n']}, actual {rw.n}"
    _close(name, "r2 (relative weights)", expected["r2"], rw.r2, tol)
    _close(name, "r2 (shapley)", expected["r2"], lmg.r2, tol)
    rw_table, lmg_table = rw.to_frame().set_index("predictor"), lmg.to_frame().set_index("predictor")
    for predictor in case["predictors"]:
        _close(name, f"relative_weights[{predictor}]", expected["relative_weights"][predictor],
               rw_table.loc[predictor, "weight"], tol)
        _close(name, f"relative_weights_pct[{predictor}]", expected["relative_weights_pct"][predictor],
               rw_table.loc[predictor, "pct"], 100 * tol)
        _close(name, f"shapley_lmg[{predictor}]", expected["shapley_lmg"][predictor],
               lmg_table.loc[predictor, "weight"], tol)


# --------------------------------------------------------------------------- textbook checks
def _correlated(seed: int, n: int, p: int, *, coefs=None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    common = rng.normal(size=(n, 1))
    x = 0.6 * common + rng.normal(size=(n, p))
    coefs = np.linspace(1.0, 0.1, p) if coefs is None else np.asarray(coefs)
    y = x @ coefs + rng.normal(scale=2.0, size=n)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(p)])
    frame["y"] = y
    return frame


def _ols_r2(frame: pd.DataFrame, outcome: str, predictors) -> float:
    x = np.column_stack([np.ones(len(frame)), frame[list(predictors)].to_numpy()])
    y = frame[outcome].to_numpy()
    residual = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    return 1 - residual @ residual / ((y - y.mean()) @ (y - y.mean()))


@pytest.mark.parametrize("method", [relative_weights, shapley])
def test_weights_sum_to_the_ols_r2(method):
    frame = _correlated(1, 500, 6)
    predictors = [f"x{i}" for i in range(6)]
    result = method(frame, "y", predictors)
    assert result.to_frame()["weight"].sum() == pytest.approx(_ols_r2(frame, "y", predictors), abs=1e-10)
    assert result.to_frame()["pct"].sum() == pytest.approx(100.0)
    assert tuple(result.to_frame().columns) == DRIVER_COLUMNS


def test_orthogonal_predictors_get_their_squared_correlations():
    rng = np.random.default_rng(2)
    q, _ = np.linalg.qr(np.column_stack([np.ones(300), rng.normal(size=(300, 4))]))
    x = q[:, 1:]  # orthogonal to the constant (mean 0) and to each other: zero correlations
    y = x @ np.array([3.0, 2.0, 1.0, 0.5]) + rng.normal(size=300) * 0.05
    frame = pd.DataFrame(x, columns=list("abcd")).assign(y=y)
    squared = frame[list("abcd")].corrwith(frame["y"]) ** 2
    for method in (relative_weights, shapley):
        weights = method(frame, "y", list("abcd")).to_frame().set_index("predictor")["weight"]
        np.testing.assert_allclose(weights[list("abcd")], squared[list("abcd")], atol=1e-10)


def test_exact_shapley_equals_averaging_all_orders_by_brute_force():
    frame = _correlated(3, 200, 4)
    predictors = [f"x{i}" for i in range(4)]
    gains = dict.fromkeys(predictors, 0.0)
    orders = list(itertools.permutations(predictors))
    for order in orders:
        previous = 0.0
        for k, predictor in enumerate(order):
            current = _ols_r2(frame, "y", order[: k + 1])
            gains[predictor] += (current - previous) / len(orders)
            previous = current
    result = shapley(frame, "y", predictors).to_frame().set_index("predictor")["weight"]
    for predictor in predictors:
        assert result[predictor] == pytest.approx(gains[predictor], abs=1e-12)


def test_sampled_shapley_agrees_with_exact_within_its_monte_carlo_error():
    frame = _correlated(4, 400, 13)
    predictors = [f"x{i}" for i in range(13)]
    sampled = shapley(frame, "y", predictors, seed=5)
    exact = shapley(frame, "y", predictors, exact_max=13)
    assert sampled.approximation == "permutation" and sampled.n_permutations == 2000
    assert exact.approximation == "exact"
    z = (sampled.table["weight"] - exact.table["weight"]) / sampled.table["mc_error"]
    assert np.all(np.abs(z) < 4.5), z.round(2).tolist()
    assert sampled.r2 == pytest.approx(exact.r2, abs=1e-12)  # every order distributes all of R^2


def test_relative_weights_and_shapley_are_close():
    frame = _correlated(6, 800, 5)
    predictors = [f"x{i}" for i in range(5)]
    rw = relative_weights(frame, "y", predictors).table["weight"]
    lmg = shapley(frame, "y", predictors).table["weight"]
    np.testing.assert_allclose(rw, lmg, atol=0.01)


# --------------------------------------------------------------------------- bootstrap
def test_vectorised_bootstrap_equals_refitting_each_resample():
    frame = _correlated(7, 60, 3)
    values = frame.to_numpy()
    stack = _bootstrap_correlations(values, 25, np.random.default_rng(8))
    rows = np.random.default_rng(8).integers(0, len(values), size=(25, len(values)))
    for b in range(25):
        np.testing.assert_allclose(stack[b], np.corrcoef(values[rows[b]], rowvar=False), atol=1e-10)


@pytest.mark.parametrize("method", [relative_weights, shapley])
def test_bootstrap_intervals_and_rank_stability(method):
    frame = _correlated(9, 600, 4, coefs=[1.5, 0.6, 0.3, 0.0])
    predictors = [f"x{i}" for i in range(4)]
    result = method(frame, "y", predictors, bootstrap=300, seed=10)
    table = result.to_frame()
    assert result.draws.shape == (300, 4) and result.n_failed == 0
    assert (table["ci_lower"] <= table["weight"]).all() and (table["weight"] <= table["ci_upper"]).all()
    assert (table["pct_ci_lower"] <= table["pct"]).all() and (table["pct"] <= table["pct_ci_upper"]).all()
    assert result.r2_ci_lower <= result.r2 <= result.r2_ci_upper
    top = table.set_index("predictor").loc["x0"]
    assert top["rank"] == 1 and top["rank_stability"] > 0.95 and top["mean_rank"] < 1.05
    assert table["rank_stability"].between(0, 1).all()
    again = method(frame, "y", predictors, bootstrap=300, seed=10)
    np.testing.assert_array_equal(again.draws, result.draws)  # seeded: reproducible


def test_bootstrap_percentile_interval_matches_the_sampling_distribution():
    """The bootstrap interval width is close to the spread of estimates over fresh samples."""
    weights = [relative_weights(_correlated(seed, 300, 3), "y", ["x0", "x1", "x2"]).table["weight"][0]
               for seed in range(100, 160)]
    boot = relative_weights(_correlated(100, 300, 3), "y", ["x0", "x1", "x2"], bootstrap=400, seed=1)
    width = boot.table["ci_upper"][0] - boot.table["ci_lower"][0]
    assert 0.6 < width / (2 * 1.96 * np.std(weights, ddof=1)) < 1.6


@pytest.mark.parametrize("method", [relative_weights, shapley])
def test_drivers_built_to_matter_rank_first(method):
    rng = np.random.default_rng(12)
    n, p = 1500, 6
    base = rng.normal(size=(n, 1))
    x = 0.5 * base + rng.normal(size=(n, p))
    y = 0.9 * x[:, 3] + 0.5 * x[:, 5] + 0.1 * x[:, 0] + rng.normal(size=n)
    frame = pd.DataFrame(x, columns=["tools", "pay", "training", "manager", "workload", "recognition"])
    frame["engagement"] = y
    ranked = method(frame, "engagement", list(frame.columns[:p]), bootstrap=200, seed=1).ranked()
    assert list(ranked["predictor"][:2]) == ["manager", "recognition"]
    assert ranked["rank_stability"][0] > 0.95


# --------------------------------------------------------------------------- hostile input
@pytest.mark.parametrize("method", [relative_weights, shapley])
def test_all_missing_predictor_is_a_clear_error(method):
    frame = _correlated(1, 50, 3).assign(x2=np.nan)
    with pytest.raises(DataError, match="'x2' has no values"):
        method(frame, "y", ["x0", "x1", "x2"])


@pytest.mark.parametrize("method", [relative_weights, shapley])
def test_perfectly_collinear_predictors_are_named(method):
    frame = _correlated(1, 50, 3)
    frame["x3"] = frame["x0"] + 2 * frame["x1"]
    with pytest.raises(DataError, match=r"\['x0', 'x1', 'x3'\] are perfectly collinear"):
        method(frame, "y", ["x0", "x1", "x2", "x3"])


@pytest.mark.parametrize("method", [relative_weights, shapley])
def test_fewer_rows_than_predictors_is_a_clear_error(method):
    frame = _correlated(1, 4, 5)
    with pytest.raises(DataError, match="4 complete rows for 5 predictors"):
        method(frame, "y", [f"x{i}" for i in range(5)])


def test_constant_predictor_and_bad_names():
    frame = _correlated(1, 30, 2).assign(flat=1.0)
    with pytest.raises(DataError, match="no variance in \\['flat'\\]"):
        relative_weights(frame, "y", ["x0", "flat"])
    with pytest.raises(DataError, match="Did you mean 'x1'"):
        relative_weights(frame, "y", ["x0", "x11"])
    with pytest.raises(DataError, match="also a predictor"):
        shapley(frame, "y", ["x0", "y"])
    with pytest.raises(DataError, match="bootstrap"):
        shapley(frame, "y", ["x0", "x1"], bootstrap=-1)


def test_missing_values_are_dropped_listwise():
    frame = _correlated(1, 100, 3)
    frame.loc[:9, "x1"] = np.nan
    result = relative_weights(frame, "y", ["x0", "x1", "x2"])
    assert result.n == 90
    assert result.r2 == pytest.approx(_ols_r2(frame.dropna(), "y", ["x0", "x1", "x2"]))


def test_bootstrap_with_few_binary_rows_counts_failed_draws():
    frame = pd.DataFrame({"a": [0, 1, 0, 1, 0, 1, 0, 1.0], "b": [1, 1, 0, 0, 1, 0, 0, 1.0],
                          "y": [1, 3, 2, 4, 1, 5, 2, 3.0]})
    result = relative_weights(frame, "y", ["a", "b"], bootstrap=200, seed=3)
    valid = np.isfinite(result.draws).all(axis=1)
    assert result.n_failed == int((~valid).sum()) > 0  # some resamples have a constant column
    assert np.isfinite(result.table["ci_lower"]).all()


# --------------------------------------------------------------------------- importance-performance
def test_importance_performance_quadrants_at_the_medians():
    table = importance_performance(
        {"manager": 0.40, "tools": 0.30, "pay": 0.20, "canteen": 0.10},
        {"manager": 3.1, "tools": 4.2, "pay": 3.0, "canteen": 4.5},
    ).set_index("driver")
    assert table.loc["manager", "quadrant"] == "concentrate here"
    assert table.loc["tools", "quadrant"] == "keep up the good work"
    assert table.loc["pay", "quadrant"] == "low priority"
    assert table.loc["canteen", "quadrant"] == "possible overkill"
    assert list(table.index) == ["manager", "tools", "pay", "canteen"]  # most important first


def test_importance_performance_from_a_driver_result_with_cutoffs():
    frame = _correlated(2, 300, 3, coefs=[1.0, 0.5, 0.1])
    result = relative_weights(frame, "y", ["x0", "x1", "x2"])
    table = importance_performance(result, {"x0": 0.5, "x1": 0.9, "x2": 0.9},
                                   importance_cut=0.0, performance_cut=0.8).set_index("driver")
    assert table["importance"].sum() == pytest.approx(1.0)
    assert table.loc["x0", "quadrant"] == "concentrate here"
    assert set(table.loc[["x1", "x2"], "quadrant"]) == {"keep up the good work"}
    with pytest.raises(DataError, match="driver 'x1'. Did you mean 'x_1'"):
        importance_performance(result, {"x0": 1, "x_1": 2, "x2": 3})


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), p=st.integers(1, 6), n=st.integers(12, 80))
def test_decompositions_are_nonnegative_and_sum_to_r2_on_any_data(seed, p, n):
    frame = _correlated(seed, n, p, coefs=np.random.default_rng(seed).normal(size=p))
    predictors = [f"x{i}" for i in range(p)]
    r2 = _ols_r2(frame, "y", predictors)
    for method in (relative_weights, shapley):
        weights = method(frame, "y", predictors).table["weight"]
        assert weights.sum() == pytest.approx(r2, abs=1e-9)
        assert (weights >= -1e-12).all()


def _population_weights(b: np.ndarray, rho: float, noise: float) -> np.ndarray:
    """True relative weights of y = x b + e with equicorrelated standard normal x."""
    p = b.size
    sxx = np.full((p, p), rho) + (1 - rho) * np.eye(p)
    sxy = sxx @ b
    vy = b @ sxx @ b + noise**2
    corr = np.block([[sxx, (sxy / np.sqrt(vy))[:, None]], [(sxy / np.sqrt(vy))[None, :], np.ones((1, 1))]])
    return _relative_weights_of(corr[None], p)[0]


def _coverage(replications: int) -> np.ndarray:
    """Share of seeded samples whose 95% percentile interval holds each true weight."""
    b, rho, noise, n = np.array([0.8, 0.4, 0.2]), 0.4, 1.0, 300
    truth = _population_weights(b, rho, noise)
    chol = np.linalg.cholesky(np.full((3, 3), rho) + (1 - rho) * np.eye(3))
    hits = np.zeros(3)
    for seed in range(replications):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(n, 3)) @ chol.T
        frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(y=x @ b + noise * rng.normal(size=n))
        table = relative_weights(frame, "y", ["a", "b", "c"], bootstrap=300, seed=seed).table
        hits += ((table["ci_lower"] <= truth) & (truth <= table["ci_upper"])).to_numpy()
    return hits / replications


def test_bootstrap_intervals_cover_the_population_weights_fast():
    assert (_coverage(40) >= 0.8).all()  # fast twin of the slow coverage check below


@pytest.mark.slow
def test_bootstrap_intervals_cover_the_population_weights():
    coverage = _coverage(300)
    assert ((coverage >= 0.89) & (coverage <= 0.985)).all(), coverage


def test_importance_performance_from_respondent_data_mean_and_top2box():
    data = pd.DataFrame({"manager": [5, 4, 2, 5, np.nan], "tools": [1, 2, 3, 2, 2.0]})
    importance = {"manager": 0.7, "tools": 0.3}
    means = importance_performance(importance, data).set_index("driver")["performance"]
    assert means["manager"] == pytest.approx(4.0) and means["tools"] == pytest.approx(2.0)
    boxes = importance_performance(importance, data, kind="top2box", scale_points=5).set_index("driver")
    assert boxes.loc["manager", "performance"] == pytest.approx(3 / 4)  # 5, 4, 5 of 4 answers
    assert boxes.loc["tools", "performance"] == 0.0
    with pytest.raises(DataError, match="scale points"):
        importance_performance(importance, data, kind="top2box")
    with pytest.raises(DataError, match="Did you mean 'top2box'"):
        importance_performance(importance, data, kind="top2bx", scale_points=5)


def test_importance_performance_carries_both_intervals():
    """With a bootstrapped result and the respondents' scores, the table has the importance's
    BC interval and the performance's t interval, and the chart draws both as error bars."""
    from scipy import stats

    from reports import charts

    rng = np.random.default_rng(8)
    x = rng.normal(size=(300, 3))
    frame = pd.DataFrame(x + 3, columns=["a", "b", "c"]).assign(y=x @ [0.6, 0.3, 0.1] + rng.normal(size=300))
    result = relative_weights(frame, "y", ["a", "b", "c"], bootstrap=100, seed=2)
    table = importance_performance(result, frame[["a", "b", "c"]]).set_index("driver")
    ranked = result.table.set_index("predictor")
    np.testing.assert_allclose(table["importance_ci_lower"], ranked.loc[table.index, "pct_ci_lower"] / 100)
    half = stats.t.ppf(0.975, 299) * frame["a"].std() / np.sqrt(300)
    assert table.loc["a", "performance_ci_upper"] == pytest.approx(frame["a"].mean() + half)
    assert (table["importance_ci_lower"] <= table["importance"]).all()
    fig = charts.importance_performance(table.reset_index())
    assert all(t.error_x.array is not None and t.error_y.array is not None for t in fig.data)
    assert "95% intervals" in fig.layout.title.text
