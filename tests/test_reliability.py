"""Reliability: psych conformance (alpha, alpha.ci Feldt, item stats, omega), textbook
formulas, CR/AVE/HTMT by hand, hostile inputs."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from conftest import Mismatches, reference_cases_of, reference_data

from analysis.errors import DataError
from analysis.reliability import alpha, ave, composite_reliability, htmt, item_analysis, omega
from surveys.errors import TandemError

RELIABILITY = reference_cases_of("reliability")


def keyed_items(case: dict) -> pd.DataFrame:
    """The case's items with its reverse-keyed items reflected (x -> 7 - x)."""
    items = reference_data(case["data"])[case["items"]]
    reverse = case["reverse"] or []
    for name in [reverse] if isinstance(reverse, str) else reverse:
        items[name] = 7 - items[name]
    return items


@pytest.mark.parametrize("name", sorted(RELIABILITY))
def test_alpha_and_item_analysis_match_psych(name):
    case = RELIABILITY[name]
    expected, tol = case["expected"], case["tolerance"]["abs"]
    items = keyed_items(case)
    result = alpha(items)
    stats = item_analysis(items)
    m = Mismatches(name, tol)
    assert result.n == expected["n"], f"{name} / n: expected {expected['n']}, got {result.n}"
    assert result.n + result.n_dropped == len(items)
    m.check("alpha", expected["alpha"], result.alpha)
    m.check("std_alpha", expected["std_alpha"], result.std_alpha)
    m.check("alpha_ci_feldt_95 lower", expected["alpha_ci_feldt_95"][0], result.ci_lower)
    m.check("alpha_ci_feldt_95 upper", expected["alpha_ci_feldt_95"][1], result.ci_upper)
    for item, value in expected["alpha_if_deleted"].items():
        m.check(f"alpha_if_deleted[{item}]", value, stats.loc[item, "alpha_if_deleted"])
    for item, value in expected["item_rest_cor"].items():
        m.check(f"item_rest_cor[{item}]", value, stats.loc[item, "item_rest_cor"])
    m.assert_none()


@pytest.mark.parametrize("name", sorted(RELIABILITY))
def test_omega_matches_lavaan_one_factor_cfa(name):
    case = RELIABILITY[name]
    result = omega(keyed_items(case))
    m = Mismatches(name, case["tolerance"]["abs"])
    m.check("omega_total", case["expected"]["omega_total"], result.omega_total)
    m.assert_none()
    assert result.n == case["expected"]["n"]


def _small_scale(seed: int = 3, n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=n)
    return pd.DataFrame({f"i{j}": np.clip(np.round(3 + latent + rng.normal(size=n)), 1, 5) for j in range(4)})


def test_alpha_is_the_textbook_formula():
    items = _small_scale()
    k = items.shape[1]
    expected = k / (k - 1) * (1 - items.var(ddof=1).sum() / items.sum(axis=1).var(ddof=1))
    assert alpha(items).alpha == pytest.approx(expected, abs=1e-12)


def test_standardized_alpha_from_the_mean_inter_item_correlation():
    items = _small_scale()
    k = items.shape[1]
    r = items.corr().to_numpy()
    r_bar = r[np.triu_indices(k, 1)].mean()
    assert alpha(items).std_alpha == pytest.approx(k * r_bar / (1 + (k - 1) * r_bar), abs=1e-12)


def test_feldt_interval_is_f_based_and_not_rounded():
    from scipy import stats

    items = _small_scale()
    result = alpha(items, ci=0.90)
    n, k = items.shape
    assert result.ci_lower == pytest.approx(1 - (1 - result.alpha) * stats.f.ppf(0.95, n - 1, (n - 1) * (k - 1)))
    assert result.ci_upper == pytest.approx(1 - (1 - result.alpha) * stats.f.ppf(0.05, n - 1, (n - 1) * (k - 1)))
    assert round(result.ci_lower, 3) != result.ci_lower
    assert result.to_frame().columns.tolist() == ["alpha", "std_alpha", "ci_lower", "ci_upper", "ci", "n", "k",
                                                  "n_dropped"]


def test_item_analysis_by_hand_and_listwise_counts():
    items = _small_scale()
    items.iloc[0, 1] = np.nan
    items.iloc[1, 2] = np.nan
    stats = item_analysis(items)
    complete = items.dropna()
    rest = complete.drop(columns="i0").sum(axis=1)
    assert stats.loc["i0", "item_rest_cor"] == pytest.approx(np.corrcoef(complete["i0"], rest)[0, 1])
    assert stats.loc["i0", "alpha_if_deleted"] == pytest.approx(alpha(complete.drop(columns="i0")).alpha)
    assert stats.loc["i1", "missing_share"] == pytest.approx(1 / len(items))
    assert stats.loc["i0", "missing_share"] == 0
    assert stats.columns.tolist() == ["mean", "sd", "missing_share", "item_rest_cor", "alpha_if_deleted"]
    result = alpha(items)
    assert (result.n, result.n_dropped) == (len(items) - 2, 2)


def test_htmt_on_a_hand_computed_example():
    # Four items whose correlations we fix exactly by construction (orthonormal building blocks).
    rng = np.random.default_rng(0)
    z = np.linalg.qr(rng.normal(size=(200, 4)))[0] * np.sqrt(199)
    z -= z.mean(axis=0)
    frame = pd.DataFrame(z @ np.linalg.cholesky(np.array([
        [1.0, 0.6, 0.3, 0.2],
        [0.6, 1.0, 0.4, 0.3],
        [0.3, 0.4, 1.0, 0.5],
        [0.2, 0.3, 0.5, 1.0],
    ])).T, columns=["a1", "a2", "b1", "b2"])
    corr = frame.corr()
    hetero = np.mean([corr.loc["a1", "b1"], corr.loc["a1", "b2"], corr.loc["a2", "b1"], corr.loc["a2", "b2"]])
    by_hand = hetero / np.sqrt(corr.loc["a1", "a2"] * corr.loc["b1", "b2"])
    result = htmt(frame, {"a": ["a1", "a2"], "b": ["b1", "b2"]})
    assert result.loc["a", "b"] == pytest.approx(by_hand, abs=1e-12)
    assert result.loc["b", "a"] == result.loc["a", "b"]
    # with the correlations as constructed: (0.3 + 0.2 + 0.4 + 0.3) / 4 / sqrt(0.6 * 0.5)
    assert result.loc["a", "b"] == pytest.approx(0.3 / np.sqrt(0.3), abs=0.02)
    assert np.isnan(result.loc["a", "a"])
    as_objects = [SimpleNamespace(id="a", items=("a1", "a2")), SimpleNamespace(id="b", items=("b1", "b2"))]
    pd.testing.assert_frame_equal(htmt(frame, as_objects), result)
    with pytest.raises(DataError, match="'b' have fewer than 2 items"):
        htmt(frame, {"a": ["a1", "a2"], "b": ["b1"]})


def _fake_cfa(rows: list[tuple[str, str, str, float]]) -> SimpleNamespace:
    return SimpleNamespace(estimates=pd.DataFrame(rows, columns=["lhs", "op", "rhs", "std_all"]).assign(group=1))


def test_composite_reliability_and_ave_by_hand():
    lam = {"f": [0.8, 0.7, 0.6], "g": [0.5, 0.5, 0.4]}
    rows = [(f, "=~", f"{f}{i}", v) for f, vs in lam.items() for i, v in enumerate(vs)]
    rows += [(f"{f}{i}", "~~", f"{f}{i}", 1 - v**2) for f, vs in lam.items() for i, v in enumerate(vs)]
    rows += [("f", "~~", "g", 0.3)]
    cfa = _fake_cfa(rows)
    cr, extracted = composite_reliability(cfa), ave(cfa)
    assert cr["f"] == pytest.approx(2.1**2 / (2.1**2 + (0.36 + 0.51 + 0.64)))
    assert cr["g"] == pytest.approx(1.4**2 / (1.4**2 + (0.75 + 0.75 + 0.84)))
    assert extracted["f"] == pytest.approx((0.64 + 0.49 + 0.36) / 3)
    assert extracted["g"] == pytest.approx((0.25 + 0.25 + 0.16) / 3)


# ---------------------------------------------------------------------------- hostile inputs


def test_constant_item_is_a_clear_error():
    items = _small_scale().assign(i1=3.0)
    with pytest.raises(DataError, match="'i1'.*same answer"):
        alpha(items)


def test_two_identical_items_give_a_documented_result():
    items = _small_scale().assign(i3=lambda f: f["i2"])
    result = alpha(items)
    assert 0 < result.alpha < 1
    assert item_analysis(items)["item_rest_cor"].notna().all()


def test_item_without_any_answer_is_named():
    items = _small_scale().assign(i2=np.nan)
    with pytest.raises(DataError, match="'i2' has no answers"):
        alpha(items)


def test_strings_in_numeric_columns_are_named_with_examples():
    items = _small_scale().astype(object)
    items.loc[5, "i0"] = "agree"
    with pytest.raises(DataError, match="'i0' holds text.*'agree'") as info:
        item_analysis(items)
    assert isinstance(info.value, TandemError)
    items.loc[5, "i0"] = "4"  # numbers written as text are fine
    assert alpha(items).n == len(items)


def test_fewer_cases_than_items_still_gives_alpha_but_two_cases_do_not():
    items = _small_scale(n=3)
    assert alpha(items).n == 3
    with pytest.raises(DataError, match="only 2 of 2"):
        alpha(items.iloc[:2])


def test_not_a_frame_and_too_few_items():
    with pytest.raises(DataError, match="DataFrame"):
        alpha(np.ones((5, 3)))
    with pytest.raises(DataError, match="at least 2 items"):
        alpha(_small_scale()[["i0"]])
    with pytest.raises(DataError, match="ci must"):
        alpha(_small_scale(), ci=95)


# ---------------------------------------------------------------------------- recovery


def _feldt_coverage(replications: int, seed: int) -> float:
    """Share of Feldt 95% intervals covering the population alpha of parallel items.

    Parallel items x_j = T + e_j with var(T) = 1, var(e_j) = 1.5: item correlation
    rho = 0.4 and population alpha = k rho / (1 + (k - 1) rho).
    """
    k, n, rho = 5, 150, 0.4
    truth = k * rho / (1 + (k - 1) * rho)
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(replications, n, 1)) + rng.normal(scale=np.sqrt(1.5), size=(replications, n, k))
    columns = [f"x{j}" for j in range(k)]
    hits = [alpha(pd.DataFrame(sample, columns=columns)) for sample in data]
    return float(np.mean([r.ci_lower <= truth <= r.ci_upper for r in hits]))


def test_feldt_interval_covers_the_population_alpha_fast():
    assert 0.85 <= _feldt_coverage(100, seed=1) <= 1.0


@pytest.mark.slow
def test_feldt_interval_covers_the_population_alpha_at_the_nominal_rate():
    # 2,000 replications: the Monte Carlo standard error of a 95% rate is 0.005.
    assert abs(_feldt_coverage(2000, seed=2) - 0.95) < 0.015


def test_omega_rejects_names_the_model_syntax_cannot_hold():
    items = _small_scale().rename(columns={"i0": "item 0"})
    with pytest.raises(DataError, match="'item 0' are not valid model variable names"):
        omega(items)


def test_htmt_uses_absolute_correlations():
    """Henseler et al. (2015) and semTools' default: HTMT of absolute correlations, so flipping
    an item's sign (an unreversed reverse-keyed item) changes nothing and no value is negative."""
    from analysis.reliability import htmt

    data = reference_data("holzinger_swineford_1939.csv")
    constructs = {"visual": ["x1", "x2", "x3"], "textual": ["x4", "x5", "x6"], "speed": ["x7", "x8", "x9"]}
    plain = htmt(data, constructs)
    flipped = htmt(data.assign(x2=-data["x2"], x5=-data["x5"]), constructs)
    np.testing.assert_allclose(plain.to_numpy(), flipped.to_numpy(), equal_nan=True)
    corr = data[[f"x{i}" for i in range(1, 10)]].corr().abs()
    mono = lambda items: corr.loc[items, items].to_numpy()[np.triu_indices(len(items), 1)].mean()  # noqa: E731
    expected = corr.loc[constructs["visual"], constructs["speed"]].to_numpy().mean() / np.sqrt(
        mono(constructs["visual"]) * mono(constructs["speed"]))
    assert plain.loc["visual", "speed"] == pytest.approx(expected, abs=1e-12)
    assert (flipped.stack() >= 0).all()
