"""analysis.sem against lavaan: the reference suite, multi-group invariance, modification
indices, defined parameters, textbook identities and a cross-check with semopy."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import fit_options, reference_cases_of, reference_data
from scipy import stats

from analysis import sem
from analysis.sem.fit_measures import cfi, rmsea, rmsea_ci, srmr, tli
from reports.text import format_sem

HS_MODEL = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
SEM_CASES = reference_cases_of("sem")


def _row(estimates: pd.DataFrame, lhs: str, op: str, rhs: str, group: str = "") -> pd.Series:
    hit = estimates[(estimates.lhs == lhs) & (estimates.op == op) & (estimates.rhs == rhs)
                    & (estimates.group == group)]
    if hit.empty and op == "~~":
        hit = estimates[(estimates.lhs == rhs) & (estimates.op == op) & (estimates.rhs == lhs)
                        & (estimates.group == group)]
    assert len(hit) == 1, f"no single row {lhs} {op} {rhs} (group {group!r})"
    return hit.iloc[0]


@pytest.fixture(scope="module")
def hs() -> pd.DataFrame:
    return reference_data("holzinger_swineford_1939.csv")


@pytest.fixture(scope="module")
def hs_fit(hs):
    return sem.fit(HS_MODEL, hs)


# ----------------------------------------------------------------------------- conformance
@pytest.mark.parametrize("name", sorted(SEM_CASES))
def test_reference_case(name):
    """Every `sem` case of expected.json within its tolerance; a failure lists every miss."""
    case = SEM_CASES[name]
    res = sem.fit(case["model"], reference_data(case["data"]), **fit_options(case))
    tol = case["tolerance"]
    expected = case["expected"]
    misses = []
    for stat, value in expected["fit"].items():
        actual = res.fit_measures[stat]
        if abs(actual - value) > tol["fit_rel"] * max(abs(value), 1e-2):
            misses.append(f"{name}: fit {stat}: expected {value:.6g}, actual {actual:.6g}")
    for row in expected["estimates"]:
        got = _row(res.estimates, row["lhs"], row["op"], row["rhs"])
        label = f"{name}: {row['lhs']} {row['op']} {row['rhs']}"
        if abs(got.est - row["est"]) > tol["est_abs"]:
            misses.append(f"{label} est: expected {row['est']:.6g}, actual {got.est:.6g}")
        if row["se"] > 0 and abs(got.se / row["se"] - 1) > tol["se_rel"]:
            misses.append(f"{label} se: expected {row['se']:.6g}, actual {got.se:.6g}")
        if row["se"] == 0 and got.se != 0:
            misses.append(f"{label} se: expected 0 (fixed), actual {got.se:.6g}")
        if abs(got.std_all - row["std_all"]) > tol["est_abs"]:
            misses.append(f"{label} std_all: expected {row['std_all']:.6g}, actual {got.std_all:.6g}")
    if res.nobs != expected["nobs"]:
        misses.append(f"{name}: nobs expected {expected['nobs']}, actual {res.nobs}")
    assert res.converged, f"{name}: did not converge: {res.warnings}"
    assert not misses, "\n".join(misses)


def test_reference_suite_has_both_sem_cases():
    assert {"hs1939_cfa", "political_democracy_sem"} <= set(SEM_CASES)


def test_hs1939_baseline_and_unrestricted_loglik(hs_fit):
    # lavaan summary(fit, fit.measures = TRUE): baseline 918.852 on 36 df; logl H1 -3695.092
    assert hs_fit.fit_measures["baseline_chisq"] == pytest.approx(918.852, abs=1e-3)
    assert hs_fit.fit_measures["baseline_df"] == 36
    assert hs_fit.fit_measures["unrestricted_logl"] == pytest.approx(-3695.092, abs=1e-3)
    assert hs_fit.fit_measures["npar"] == 21


def test_modification_indices_match_lavaan_tutorial(hs_fit):
    # lavaan.ugent.be/tutorial/modindices.html: modindices(fit, sort = TRUE, maximum.number = 5)
    published = [("visual", "=~", "x9", 36.411, 0.577, 0.515), ("x7", "~~", "x8", 34.145, 0.536, 0.859),
                 ("visual", "=~", "x7", 18.631, -0.422, -0.349), ("x8", "~~", "x9", 14.946, -0.423, -0.805),
                 ("textual", "=~", "x3", 9.151, -0.272, -0.238)]
    mi = hs_fit.modification_indices().head(5)
    for (lhs, op, rhs, m, epc, sepc), (_, got) in zip(published, mi.iterrows(), strict=True):
        assert (got.lhs, got.op, got.rhs) == (lhs, op, rhs)
        assert got.mi == pytest.approx(m, abs=1e-3)
        assert got.epc == pytest.approx(epc, abs=1e-3)
        assert got.sepc_all == pytest.approx(sepc, abs=1e-3)
    assert (hs_fit.modification_indices(minimum=10).mi >= 10).all()


def test_mi_predicts_chisq_drop(hs, hs_fit):
    """The score test approximates the LR drop of freeing the parameter (Sörbom 1989)."""
    freed = sem.fit(HS_MODEL + "\nvisual =~ x9", hs)
    drop = hs_fit.fit_measures["chisq"] - freed.fit_measures["chisq"]
    top = hs_fit.modification_indices().iloc[0]
    assert drop == pytest.approx(top.mi, rel=0.25)
    assert _row(freed.estimates, "visual", "=~", "x9").est == pytest.approx(top.epc, rel=0.25)


def test_r2_is_one_minus_standardized_residual_variance(hs_fit):
    est = hs_fit.estimates
    for v in [f"x{i}" for i in range(1, 10)]:
        assert hs_fit.r2[v] == pytest.approx(1 - _row(est, v, "~~", v).std_all, abs=1e-10)


def test_estimate_table_columns_and_summary(hs_fit):
    assert list(hs_fit.estimates.columns) == sem.ESTIMATE_COLUMNS
    assert hs_fit.to_frame().equals(hs_fit.estimates)
    text = format_sem(sem.summary(hs_fit))
    assert "85.306" in text and "Latent Variables" in text and "visual =~ x2" in text


def test_wald_interval_and_pvalue(hs_fit):
    row = _row(hs_fit.estimates, "visual", "=~", "x2")
    assert row.ci_lower == pytest.approx(row.est - 1.959964 * row.se, abs=1e-6)
    assert row.pvalue == pytest.approx(2 * stats.norm.sf(abs(row.est / row.se)))


# ----------------------------------------------------------------------------- multigroup
def test_invariance_matches_lavaan_groups_tutorial(hs):
    """lavaan tutorial "Multiple groups" (HS1939 by school): configural 115.851 / 48 df
    (tutorial page), metric (loadings) 124.044 / 54, scalar (+ intercepts) 164.103 / 60."""
    inv = sem.invariance(HS_MODEL, hs, "school")
    table = inv.table.set_index("model")
    for model, chisq, df in (("configural", 115.851, 48), ("metric", 124.044, 54), ("scalar", 164.103, 60)):
        assert table.loc[model, "chisq"] == pytest.approx(chisq, abs=1e-3), model
        assert table.loc[model, "df"] == df, model
    assert inv.fits["configural"].fit_measures["npar"] == 60
    # semTools::measurementInvariance() printout for the same data (cfi, rmsea to 3 decimals),
    # recalled rather than re-fetched; the means step below (204.61 / 63 / .840 / .122) is
    # part of the same printout and agrees as well
    for model, cfi_, rmsea_ in (("configural", 0.923, 0.097), ("metric", 0.921, 0.093), ("scalar", 0.882, 0.107)):
        assert table.loc[model, "cfi"] == pytest.approx(cfi_, abs=5e-4), model
        assert table.loc[model, "rmsea"] == pytest.approx(rmsea_, abs=5e-4), model
    means = sem.fit(HS_MODEL, hs, group="school", group_equal=("loadings", "intercepts", "means")).fit_measures
    assert (round(means["chisq"], 2), means["df"], round(means["cfi"], 3), round(means["rmsea"], 3)) == \
        (204.61, 63, 0.840, 0.122)
    assert table.loc["metric", "delta_chisq"] == pytest.approx(124.044 - 115.851, abs=2e-3)
    assert table.loc["scalar", "delta_df"] == 6
    assert table.loc["scalar", "pvalue"] < 1e-5 < table.loc["metric", "pvalue"]
    assert table.loc["scalar", "delta_cfi"] == pytest.approx(
        table.loc["scalar", "cfi"] - table.loc["metric", "cfi"])


def test_configural_model_equals_separate_group_fits(hs):
    both = sem.fit(HS_MODEL, hs, group="school")
    separate = {s: sem.fit(HS_MODEL + "\nx1 ~ 1", hs[hs.school == s]) for s in ("Pasteur", "Grant-White")}
    total = sum(r.fit_measures["chisq"] for r in separate.values())
    assert both.fit_measures["chisq"] == pytest.approx(total, rel=1e-6)
    # lavaan tutorial "Multiple groups": test statistic per group 64.309 (Pasteur), 51.542 (Grant-White)
    assert separate["Pasteur"].fit_measures["chisq"] == pytest.approx(64.309, abs=1e-3)
    assert separate["Grant-White"].fit_measures["chisq"] == pytest.approx(51.542, abs=1e-3)
    assert both.nobs_per_group == {"Pasteur": 156, "Grant-White": 145}
    row = _row(both.estimates, "visual", "=~", "x2", "Grant-White")
    assert row.est == pytest.approx(_row(separate["Grant-White"].estimates, "visual", "=~", "x2").est, abs=1e-4)


def test_metric_invariance_ties_loadings_and_labels_do_the_same(hs):
    metric = sem.fit(HS_MODEL, hs, group="school", group_equal="loadings")
    est = metric.estimates
    for v in ("x2", "x5", "x9"):
        f = {"x2": "visual", "x5": "textual", "x9": "speed"}[v]
        assert _row(est, f, "=~", v, "Pasteur").est == pytest.approx(_row(est, f, "=~", v, "Grant-White").est)
    labelled = ("visual =~ x1 + l2*x2 + l3*x3\ntextual =~ x4 + l5*x5 + l6*x6\n"
                "speed =~ x7 + l8*x8 + l9*x9")
    by_label = sem.fit(labelled, hs, group="school")
    assert by_label.fit_measures["chisq"] == pytest.approx(metric.fit_measures["chisq"], rel=1e-6)
    per_group = labelled.replace("l2*", "c(p2, p2)*").replace("l3*", "c(p3, q3)*")
    partial = sem.fit(per_group, hs, group="school")
    assert partial.fit_measures["df"] == metric.fit_measures["df"] - 1


def test_scalar_frees_latent_means_in_later_groups(hs):
    scalar = sem.fit(HS_MODEL, hs, group="school", group_equal=("loadings", "intercepts"))
    means = scalar.estimates[(scalar.estimates.op == "~1") & scalar.estimates.lhs.isin(["visual", "speed"])]
    first = means[means.group == "Pasteur"]
    second = means[means.group == "Grant-White"]
    assert (first.est == 0).all() and (first.se == 0).all()
    assert (second.se > 0).all()


# ----------------------------------------------------------------------------- defined parameters
def test_defined_parameter_delta_method(hs):
    model = ("visual =~ x1 + x2 + a*x3\ntextual =~ x4 + b*x5 + x6\nspeed =~ x7 + x8 + x9\n"
             "ab := a*b\nratio := a/b")
    res = sem.fit(model, hs)
    a = _row(res.estimates, "visual", "=~", "x3")
    b = _row(res.estimates, "textual", "=~", "x5")
    ab = res.estimates[res.estimates.lhs == "ab"].iloc[0]
    assert ab.op == ":=" and ab.est == pytest.approx(a.est * b.est)
    assert res.estimates.set_index("lhs").loc["ratio", "est"] == pytest.approx(a.est / b.est)
    state = res.fitted
    ia, ib = next(r.pid for r in state.rows if r.label == "a"), next(r.pid for r in state.rows if r.label == "b")
    v = state.vcov
    grad = np.array([b.est, a.est])
    cov = np.array([[v[ia, ia], v[ia, ib]], [v[ib, ia], v[ib, ib]]])
    assert ab.se == pytest.approx(math.sqrt(grad @ cov @ grad), rel=1e-5)
    assert ab.std_all == pytest.approx(a.std_all * b.std_all, rel=1e-8)


def test_path_model_equals_ols_and_equality_constraint():
    rng = np.random.default_rng(3)
    n = 400
    x = rng.normal(size=n)
    w = rng.normal(size=n) + 0.3 * x
    m = 0.5 * x + 0.2 * w + rng.normal(size=n)
    y = 0.4 * m + 0.1 * x + rng.normal(size=n)
    data = pd.DataFrame({"x": x, "w": w, "m": m, "y": y})
    res = sem.fit("m ~ a*x + w\ny ~ b*m + c*x + w\nind := a*b", data)
    design = np.c_[np.ones(n), x, w]
    coef, ss, *_ = np.linalg.lstsq(design, m, rcond=None)
    assert _row(res.estimates, "m", "~", "x").est == pytest.approx(coef[1], abs=1e-6)
    assert _row(res.estimates, "m", "~~", "m").est == pytest.approx(ss[0] / n, rel=1e-6)
    assert res.fit_measures["df"] == 0 and res.fit_measures["chisq"] == pytest.approx(0, abs=1e-6)
    assert _row(res.estimates, "x", "~~", "w").se == 0  # fixed.x: sample covariance, not a parameter
    tied = sem.fit("m ~ a*x + w\ny ~ b*m + c*x + w\na == b", data)
    assert tied.fit_measures["df"] == 1
    assert _row(tied.estimates, "m", "~", "x").est == pytest.approx(_row(tied.estimates, "y", "~", "m").est)


def test_single_group_estimates_equal_semopy(hs):
    """semopy 2.3.11 reproduces lavaan's ML point estimates; agreement checks both."""
    semopy = pytest.importorskip("semopy")
    model = semopy.Model(HS_MODEL)
    model.fit(hs[[f"x{i}" for i in range(1, 10)]])
    theirs = model.inspect()
    ours = sem.fit(HS_MODEL, hs).estimates
    checked = 0
    for _, r in theirs.iterrows():
        op = r["op"]
        if op == "~":  # semopy writes loadings as "x ~ f"
            lhs, op2, rhs = r["rval"], "=~", r["lval"]
        else:
            lhs, op2, rhs = r["lval"], op, r["rval"]
        assert _row(ours, lhs, op2, rhs).est == pytest.approx(float(r["Estimate"]), abs=2e-3)
        checked += 1
    assert checked >= 21


# ----------------------------------------------------------------------------- textbook formulas
def test_fit_index_formulas():
    assert rmsea(85.3055, 24, 301) == pytest.approx(math.sqrt((85.3055 - 24) / (24 * 301)))
    assert rmsea(10, 12, 100) == 0.0
    assert cfi(10, 12, 500, 20) == 1.0
    assert cfi(85.3055217699727, 24, 918.851589, 36) == pytest.approx(0.930559651799336, abs=1e-6)
    assert tli(85.3055217699727, 24, 918.851589, 36) == pytest.approx(0.895839477699004, abs=1e-6)
    lo, up = rmsea_ci(85.3055217699727, 24, 301)
    assert stats.ncx2.cdf(85.3055217699727, 24, lo ** 2 * 24 * 301) == pytest.approx(0.95, abs=1e-6)
    assert stats.ncx2.cdf(85.3055217699727, 24, up ** 2 * 24 * 301) == pytest.approx(0.05, abs=1e-6)
    s = np.array([[2.0, 0.5], [0.5, 1.0]])
    assert srmr(s, s) == 0
    implied = np.array([[2.0, 0.3], [0.3, 1.0]])
    assert srmr(s, implied) == pytest.approx(math.sqrt((0.2 / math.sqrt(2)) ** 2 / 3))
