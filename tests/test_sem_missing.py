"""FIML (missing = "fiml", lavaan missing = "ml") and listwise deletion in analysis.sem."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import reference_data

from analysis import sem
from analysis.fiml import IncompleteData, em_saturated

HS_MODEL = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
ITEMS = [f"x{i}" for i in range(1, 10)]


@pytest.fixture(scope="module")
def hs() -> pd.DataFrame:
    return reference_data("holzinger_swineford_1939.csv")


@pytest.fixture(scope="module")
def hs_mcar(hs) -> pd.DataFrame:
    """HS1939 with 15% of the item values deleted completely at random (seeded)."""
    rng = np.random.default_rng(20240601)
    out = hs.copy()
    values = out[ITEMS].to_numpy()
    values[rng.random(values.shape) < 0.15] = np.nan
    out[ITEMS] = values
    return out


def test_fiml_on_complete_data_equals_ml(hs):
    ml = sem.fit(HS_MODEL, hs)
    fiml = sem.fit(HS_MODEL, hs, missing="fiml")
    for key in ("chisq", "df", "logl", "cfi", "rmsea", "srmr", "aic"):
        # the mean structure adds 9 intercepts to npar and to the moments alike, and 9 zero
        # mean residuals to the 45 (co)variance residuals of the SRMR (lavaan)
        if key == "srmr":
            assert fiml.fit_measures[key] == pytest.approx(ml.fit_measures[key] * np.sqrt(45 / 54), rel=1e-6)
        elif key == "aic":
            assert fiml.fit_measures[key] == pytest.approx(ml.fit_measures[key] + 18, rel=1e-8)
        else:
            assert fiml.fit_measures[key] == pytest.approx(ml.fit_measures[key], rel=1e-6, abs=1e-8), key
    both = ml.estimates.merge(fiml.estimates, on=["lhs", "op", "rhs"], suffixes=("_ml", "_fiml"))
    assert len(both) == len(ml.estimates)
    assert np.allclose(both.est_ml, both.est_fiml, atol=1e-4)
    # FIML uses the observed information (lavaan's default with missing = "ml"); with this
    # misfitting model it differs from the expected information by up to ~30%
    free = both.se_ml > 0
    assert np.allclose(both.se_fiml[free], both.se_ml[free], rtol=0.35)
    means = fiml.estimates[fiml.estimates.op == "~1"].set_index("lhs").est
    assert np.allclose(means[ITEMS], hs[ITEMS].mean(), atol=1e-4)


def test_fiml_standard_errors_are_the_inverse_hessian_of_the_loglik(hs_mcar):
    """Second differences of the casewise log-likelihood (not the analytic gradient)."""
    res = sem.fit("visual =~ x1 + x2 + x3 + x4", hs_mcar, missing="fiml")
    engine, x = res._state.engine, res._state.x
    n, h = len(x), 1e-4

    def loglik(v):
        return -engine.N / 2 * engine.objective(v, gradient=False)

    hess = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            ei, ej = np.eye(n)[i] * h, np.eye(n)[j] * h
            hess[i, j] = hess[j, i] = (loglik(x + ei + ej) - loglik(x + ei - ej) - loglik(x - ei + ej)
                                       + loglik(x - ei - ej)) / (4 * h * h)
    se = np.sqrt(np.diag(np.linalg.inv(-hess)))
    assert np.allclose(np.sqrt(np.diag(res._state.vcov)), se, rtol=1e-3)


def test_incomplete_data_loglik_equals_casewise_sum(hs_mcar):
    x = hs_mcar[ITEMS].to_numpy()
    cases = IncompleteData(x)
    assert cases.n == len(x) and not cases.complete
    mu, sigma, _ = em_saturated(cases)
    casewise = 0.0
    for row in x:
        o = ~np.isnan(row)
        d = row[o] - mu[o]
        s = sigma[np.ix_(o, o)]
        casewise += -0.5 * (o.sum() * np.log(2 * np.pi) + np.linalg.slogdet(s)[1] + d @ np.linalg.solve(s, d))
    assert cases.loglik(mu, sigma) == pytest.approx(casewise, rel=1e-10)


def test_em_saturated_is_the_unrestricted_mle(hs_mcar):
    """EM's log-likelihood equals a direct maximisation of the casewise likelihood of the
    saturated model (all covariances free, fitted by FIML with L-BFGS)."""
    items = ITEMS[:5]
    saturated = "\n".join(f"{a} ~~ {b}" for i, a in enumerate(items) for b in items[i + 1:])
    res = sem.fit(saturated, hs_mcar, missing="fiml")
    assert res.converged
    assert res.fit_measures["df"] == 0
    assert res.fit_measures["logl"] == pytest.approx(res.fit_measures["unrestricted_logl"], abs=1e-4)
    assert res.fit_measures["chisq"] == pytest.approx(0, abs=2e-4)
    # and EM's estimates are a stationary point: perturbing them lowers the likelihood
    x = hs_mcar[items].to_numpy()
    cases = IncompleteData(x)
    mu, sigma, _ = em_saturated(cases)
    top = cases.loglik(mu, sigma)
    for delta in (1e-3, -1e-3):
        assert cases.loglik(mu + delta, sigma) < top
        assert cases.loglik(mu, sigma * (1 + delta)) < top


def test_fiml_under_mcar_stays_close_to_complete_data(hs, hs_mcar):
    full = sem.fit(HS_MODEL, hs)
    fiml = sem.fit(HS_MODEL, hs_mcar, missing="fiml")
    listwise = sem.fit(HS_MODEL, hs_mcar)
    assert fiml.converged and fiml.nobs == 301
    assert listwise.nobs < 301
    assert any("listwise deletion dropped" in w for w in listwise.warnings)
    both = full.estimates.merge(fiml.estimates, on=["lhs", "op", "rhs"], suffixes=("_full", "_fiml"))
    free = both.se_full > 0
    # within three complete-data standard errors, and closer on average than listwise deletion
    z = (both.est_fiml[free] - both.est_full[free]) / both.se_full[free]
    assert np.max(np.abs(z)) < 3
    lw_full = full.estimates.merge(listwise.estimates, on=["lhs", "op", "rhs"], suffixes=("_full", "_lw"))
    z_lw = (lw_full.est_lw[free] - lw_full.est_full[free]) / lw_full.se_full[free]
    assert np.mean(np.abs(z)) < np.mean(np.abs(z_lw))
    # FIML keeps every case, so its standard errors are smaller than listwise ones
    lw = listwise.estimates.merge(fiml.estimates, on=["lhs", "op", "rhs"], suffixes=("_lw", "_fiml"))
    lw = lw[lw.se_lw > 0]
    assert (lw.se_fiml < lw.se_lw).mean() > 0.8
    fm = fiml.fit_measures
    assert fm["chisq"] == pytest.approx(2 * (fm["unrestricted_logl"] - fm["logl"]))
    assert 0 < fm["cfi"] < 1 and fm["df"] == 24


def test_fiml_bootstrap_runs(hs_mcar):
    res = sem.fit("visual =~ x1 + x2 + x3", hs_mcar, missing="fiml", bootstrap=20, seed=3)
    row = res.estimates[(res.estimates.op == "=~") & (res.estimates.rhs == "x2")].iloc[0]
    assert row.ci_lower < row.est < row.ci_upper
    assert res.bootstrap_draws.shape[0] == 20


def test_rows_without_any_value_are_dropped_under_fiml(hs_mcar):
    data = hs_mcar.copy()
    data.loc[:4, ITEMS] = np.nan
    res = sem.fit(HS_MODEL, data, missing="fiml")
    assert res.nobs == 296
    assert any("no observed value" in w for w in res.warnings)
