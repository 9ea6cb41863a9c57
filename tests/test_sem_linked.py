"""Two-level SEM of linked samples: employees and customers of the same units stacked, each
side's rows missing the other side's variables by design (``fit(..., cluster=, missing="fiml")``).

The reference is lavaan 0.6.14 ``sem(model, data, cluster = "unit", missing = "ml",
fixed.x = FALSE)`` on the same data (``tests/reference/linked/lavaan.R`` writes
``estimates.csv`` and ``fit.csv``). lavaan's chi-square of this model is not comparable: its
saturated model counts the within covariances of variables no respondent has together
(df 7, chi-square 0); Tandem's counts only the moments the data have (df 3).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import sem
from analysis.errors import DataError, ModelSpecificationError

HERE = Path(__file__).resolve().parent / "reference" / "linked"


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(HERE / "stacked_units.csv")


@pytest.fixture(scope="module")
def model() -> str:
    return (HERE / "model.lav").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def result(data, model):
    return sem.fit(model, data, cluster="unit", missing="fiml", fixed_x=False)


def test_loglikelihood_and_information_criteria_equal_lavaan(result):
    expected = pd.read_csv(HERE / "fit.csv").set_index("measure")["value"]
    assert result.converged
    for key in ("logl", "aic", "bic"):
        assert result.fit_measures[key] == pytest.approx(expected[key], abs=0.01), key
    assert result.fit_measures["npar"] == expected["npar"]
    assert result.nobs == expected["ntotal"]


def test_estimates_standard_errors_and_std_all_equal_lavaan(result):
    expected = pd.read_csv(HERE / "estimates.csv")
    ours = result.estimates.set_index(["lhs", "op", "rhs", "level"])
    failures = []
    for row in expected.itertuples():
        key = (row.lhs, row.op, row.rhs, row.level)
        if key not in ours.index and row.op == "~~":
            key = (row.rhs, row.op, row.lhs, row.level)
        if key not in ours.index:
            if row.op == "~1" or row.se == 0:
                continue  # intercepts fixed at zero at level 1 are not in Tandem's table
            failures.append(f"{key}: missing")
            continue
        got = ours.loc[key]
        for column, theirs, tol in (("est", row.est, 2e-3), ("se", row.se, 2e-3), ("std_all", row._7, 2e-3)):
            if np.isfinite(theirs) and abs(float(got[column]) - theirs) > tol * max(1.0, abs(theirs)):
                failures.append(f"{key} {column}: expected {theirs:.5f}, got {float(got[column]):.5f}")
    assert not failures, "\n".join(failures)


def test_the_chi_square_counts_only_moments_the_data_have(result):
    # within: two sides of two variables (3 + 3 moments); between: 4 variables (10 + 4 means)
    assert result.fit_measures["df"] == 20 - 17
    assert result.fit_measures["nsides"] == 2
    assert 0 <= result.fit_measures["chisq"] < 30


def test_a_covariance_between_sides_is_refused_by_name(data, model):
    free = model.replace("ms ~~ 0*sq", "ms ~~ sq")
    with pytest.raises(ModelSpecificationError, match="ms ~~ sq.*no row has together"):
        sem.fit(free, data, cluster="unit", missing="fiml", fixed_x=False)


def test_scattered_missing_values_are_not_taken_for_sides(data, model):
    """Rows that miss a value here and there are one sample with missing answers (general
    two-level FIML, :mod:`analysis.sem.twolevel_missing`), not two stacked samples: every row
    counts and the variables of both "sides" covary within units."""
    rng = np.random.default_rng(4)
    one_side = data.dropna(subset=["ms"]).copy()
    one_side["sq"] = one_side["ms"] * 0.5 + 1 + rng.normal(size=len(one_side))
    one_side["cs"] = one_side["sc"] * 0.3 + 2 + rng.normal(size=len(one_side))
    one_side.loc[one_side.index[:5], "sc"] = np.nan
    result = sem.fit(model.replace("0*", ""), one_side, cluster="unit", missing="fiml", fixed_x=False)
    assert result.converged and result.nobs == len(one_side)
    est = result.estimates
    within = est[(est["level"] == 1) & (est["op"] == "~~") & (est["lhs"] != est["rhs"])]
    assert len(within) and (within["se"] > 0).all()


def test_a_unit_without_customers_is_named(data, model):
    lonely = data[~((data["unit"] == data["unit"].iloc[0]) & data["sq"].notna())]
    with pytest.raises(DataError, match="no row with sq, cs"):
        sem.fit(model, lonely, cluster="unit", missing="fiml", fixed_x=False)


def test_one_side_with_fiml_is_the_complete_data_model(data):
    employees = data.dropna(subset=["ms"])[["unit", "ms", "sc"]]
    model = "level: 1\n ms ~~ sc\nlevel: 2\n sc ~ ms\n"
    a = sem.fit(model, employees, cluster="unit", missing="fiml", fixed_x=False)
    b = sem.fit(model, employees, cluster="unit", fixed_x=False)
    assert a.fit_measures["logl"] == pytest.approx(b.fit_measures["logl"], abs=1e-6)
    assert np.allclose(a.estimates["est"], b.estimates["est"], atol=1e-6)


def test_monte_carlo_draws_take_positive_variances_on_the_log_scale():
    """The Monte Carlo draws of the standardized solution: positive variances drawn as
    log v ~ N(log v_hat, se^2 / v_hat^2) with every covariance scaled alike (the delta
    method), the other parameters (and a negative variance estimate) as N(x, V)."""
    from analysis.sem.twolevel import draw_parameters

    x = np.array([0.5, 0.04, 2.0, -0.01])
    vcov = np.array([[0.01, 0.001, 0.0, 0.0], [0.001, 0.0004, 0.002, 0.0], [0.0, 0.002, 0.09, 0.0],
                     [0.0, 0.0, 0.0, 0.0001]])
    d = draw_parameters(x, vcov, np.array([1, 2, 3]), 200_000, np.random.default_rng(3))
    assert (d[:, [1, 2]] > 0).all()
    logged = np.log(d[:, [1, 2]])
    np.testing.assert_allclose(logged.mean(axis=0), np.log([0.04, 2.0]), atol=3e-3)
    np.testing.assert_allclose(logged.std(axis=0), [0.02 / 0.04, 0.3 / 2.0], rtol=1e-2)
    assert np.corrcoef(logged.T)[0, 1] == pytest.approx(0.002 / (0.02 * 0.3), abs=0.01)
    assert np.corrcoef(d[:, 0], logged[:, 0])[0, 1] == pytest.approx(0.001 / (0.1 * 0.02), abs=0.01)
    np.testing.assert_allclose(d[:, [0, 3]].mean(axis=0), [0.5, -0.01], atol=2e-3)
    np.testing.assert_allclose(d[:, [0, 3]].std(axis=0), [0.1, 0.01], rtol=1e-2)
    assert (d[:, 3] > 0).mean() == pytest.approx(0.16, abs=0.01)  # not logged: its estimate is negative
