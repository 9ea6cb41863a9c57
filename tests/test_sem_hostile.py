"""Hostile input to analysis.sem: clear TandemError messages, never a deep traceback."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import reference_data

from analysis import sem
from analysis.errors import ConvergenceWarning, DataError, ModelSpecificationError
from analysis.sem import optimizer
from surveys.errors import TandemError

HS_MODEL = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"


@pytest.fixture
def hs() -> pd.DataFrame:
    return reference_data("holzinger_swineford_1939.csv")


def test_unknown_variable_names_it_with_did_you_mean(hs):
    with pytest.raises(ModelSpecificationError, match=r"'x10'.*Did you mean 'x1'"):
        sem.fit(HS_MODEL.replace("x1 +", "x10 +"), hs)


def test_strings_in_a_numeric_column_name_the_column(hs):
    hs["x4"] = hs["x4"].astype(object)
    hs.loc[7, "x4"] = "n/a"
    with pytest.raises(DataError, match=r"column 'x4'.*'n/a'"):
        sem.fit(HS_MODEL, hs)


def test_numeric_strings_are_accepted(hs):
    reference = sem.fit(HS_MODEL, hs)
    hs["x4"] = hs["x4"].astype(str)
    assert sem.fit(HS_MODEL, hs).fit_measures["chisq"] == pytest.approx(reference.fit_measures["chisq"])


def test_constant_column(hs):
    hs["x5"] = 3.0
    with pytest.raises(DataError, match="'x5' is constant"):
        sem.fit(HS_MODEL, hs)


def test_identical_columns(hs):
    hs["x6"] = hs["x5"]
    with pytest.raises(DataError, match=r"singular.*'x5' and 'x6'"):
        sem.fit(HS_MODEL, hs)


def test_all_missing_column(hs):
    hs["x2"] = np.nan
    for missing in ("listwise", "fiml"):
        with pytest.raises(DataError, match="'x2' has no observed values"):
            sem.fit(HS_MODEL, hs, missing=missing)


def test_fewer_cases_than_variables(hs):
    with pytest.raises(DataError, match="8 complete cases for 9 observed variables"):
        sem.fit(HS_MODEL, hs.head(8))


def test_listwise_reports_dropped_cases(hs):
    hs.loc[[0, 5, 9], "x3"] = np.nan
    res = sem.fit(HS_MODEL, hs)
    assert res.nobs == 298
    assert any("dropped 3 of 301" in w for w in res.warnings)


def test_too_many_parameters_is_not_identified(hs):
    with pytest.raises(ModelSpecificationError, match="not identified: 4 free parameters but only 3"):
        sem.fit("f =~ x1 + x2", hs)


def test_singular_information_is_not_identified(hs):
    # both the loading and the factor variance free: a scale indeterminacy (df >= 0)
    with pytest.raises(ModelSpecificationError, match="not identified"):
        sem.fit("f =~ NA*x1 + x2 + x3 + x4", hs)


def test_non_convergence_is_a_warning_in_the_result(hs, monkeypatch):
    """Two Fisher-scoring steps, then two L-BFGS iterations: not enough."""
    scoring, lbfgs = optimizer.minimize, optimizer.optimize.minimize

    def crippled_scoring(*args, **kwargs):
        return scoring(*args, **{**kwargs, "max_iter": 2})

    def crippled_lbfgs(*args, **kwargs):
        kwargs["options"] = {**kwargs.get("options", {}), "maxiter": 2}
        return lbfgs(*args, **kwargs)

    monkeypatch.setattr(optimizer, "minimize", crippled_scoring)
    monkeypatch.setattr(optimizer.optimize, "minimize", crippled_lbfgs)
    with pytest.warns(ConvergenceWarning):
        res = sem.fit(HS_MODEL, hs)
    assert res.converged is False
    assert any("did not converge" in w for w in res.warnings)


def test_bad_options(hs):
    with pytest.raises(ModelSpecificationError, match="missing='pairwise'"):
        sem.fit(HS_MODEL, hs, missing="pairwise")
    with pytest.raises(ModelSpecificationError, match="Did you mean 'loadings'"):
        sem.fit(HS_MODEL, hs, group="school", group_equal=("loading",))
    with pytest.raises(ModelSpecificationError, match="needs a group column"):
        sem.fit(HS_MODEL, hs, group_equal=("loadings",))
    with pytest.raises(DataError, match="Did you mean 'school'"):
        sem.fit(HS_MODEL, hs, group="schol")
    with pytest.raises(ModelSpecificationError, match="bootstrap"):
        sem.fit(HS_MODEL, hs, bootstrap=-1)


def test_unknown_labels(hs):
    with pytest.raises(ModelSpecificationError, match="unknown label 'c'"):
        sem.fit("f =~ x1 + a*x2 + b*x3\nab := a*c", hs)
    with pytest.raises(ModelSpecificationError, match="unknown label 'z'"):
        sem.fit("f =~ x1 + a*x2 + b*x3\na == z", hs)


def test_every_error_is_a_tandem_error():
    assert issubclass(DataError, TandemError) and issubclass(ModelSpecificationError, TandemError)


def test_heywood_case_is_reported():
    """Correlations .8, .7, .5 imply a squared loading of .8 * .7 / .5 = 1.12 for 'a', so its
    residual variance is 1 - 1.12 = -0.12: an improper solution that lavaan also warns about."""
    target = np.array([[1.0, 0.8, 0.7], [0.8, 1.0, 0.5], [0.7, 0.5, 1.0]])
    z = np.random.default_rng(0).normal(size=(200, 3))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(z.T @ z / 200)).T @ np.linalg.cholesky(target).T
    res = sem.fit("f =~ a + b + c", pd.DataFrame(z, columns=["a", "b", "c"]))
    theta_a = res.estimates[(res.estimates.lhs == "a") & (res.estimates.op == "~~")].est.iloc[0]
    assert theta_a == pytest.approx(-0.12, abs=1e-4)
    assert any("negative variance" in w and "a" in w for w in res.warnings)


def test_defined_parameters_are_interpreted_in_floating_point(hs):
    """A hostile ':=' expression overflows to NaN at once (never a huge integer power) and
    a domain error gives NaN, while ordinary arithmetic matches the labelled estimates."""
    res = sem.fit("visual =~ x1 + a*x2 + b*x3\n"
                  "ab := a*b/2 + sqrt(abs(a)) - 1\n"
                  "huge := 9^9^9*a\n"
                  "bad := log(-a)", hs)
    loadings = res.estimates[res.estimates["op"] == "=~"].set_index("rhs")["est"]
    a, b = loadings["x2"], loadings["x3"]
    defined = res.estimates[res.estimates["op"] == ":="].set_index("lhs")["est"]
    assert defined["ab"] == pytest.approx(a * b / 2 + np.sqrt(abs(a)) - 1, rel=1e-12)
    assert np.isnan(defined["huge"])
    assert np.isnan(defined["bad"])


def test_bootstrap_keeps_draws_where_only_a_defined_parameter_is_undefined(hs):
    """'log(-a)' is NaN in every draw: its interval is NaN, the other parameters keep
    all their draws and intervals."""
    res = sem.fit("visual =~ x1 + a*x2 + x3\nbad := log(-a)", hs, bootstrap=20, seed=1)
    est = res.estimates.set_index(["lhs", "op", "rhs"])
    assert np.isnan(est.loc[("bad", ":=", "log(-a)"), "ci_lower"])
    loading = est.loc[("visual", "=~", "x2")]
    assert loading["ci_lower"] < loading["est"] < loading["ci_upper"]
    assert not any("did not converge" in w for w in res.warnings)


def test_bootstrap_with_no_converged_draw_says_so(hs, monkeypatch):
    """Every refit fails: the point estimates stand, bootstrap SEs and intervals are NaN
    and a warning says why (no IndexError from an empty percentile)."""
    real = optimizer.minimize

    def bootstrap_refits_fail(estimator, x0, *, precise=True, **options):
        if precise:
            return real(estimator, x0, precise=True, **options)
        return optimizer.Optimum(x0, False, "forced failure", 0, "forced")

    monkeypatch.setattr(optimizer, "minimize", bootstrap_refits_fail)
    res = sem.fit("visual =~ x1 + x2 + x3", hs, bootstrap=5, seed=1)
    loadings = res.estimates[res.estimates["op"] == "=~"]
    assert loadings["est"].notna().all()
    assert loadings["se"].iloc[1:].isna().all() and loadings["ci_lower"].iloc[1:].isna().all()
    assert any("fewer than two bootstrap draws" in w for w in res.warnings)
