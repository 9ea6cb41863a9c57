"""Ordinal alpha: psych::alpha on lavaan's polychoric matrix (wave-2 reference case), the
standardized-alpha formula, reverse keying, simulated truth and hostile inputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE_DIR, Mismatches, reference_data

from analysis.errors import DataError
from analysis.polychoric import polychoric
from analysis.reliability import alpha, ordinal_alpha, ordinal_omega

WAVE2 = json.loads((REFERENCE_DIR / "expected_wave2.json").read_text())
ORDINAL = {name: case for name, case in WAVE2.items() if case["kind"] == "ordinal_reliability"}


def test_the_ordinal_reliability_case_is_present():
    assert sorted(ORDINAL) == ["bfi_A_ordinal_reliability"]


@pytest.mark.parametrize("name", sorted(ORDINAL))
def test_ordinal_alpha_matches_psych_on_the_lavaan_polychoric_matrix(name):
    case = ORDINAL[name]
    assert case["reverse_rule"] == "x -> 7 - x"
    expected = case["expected"]
    items = reference_data(case["data"])[case["items"]]
    result = ordinal_alpha(items, reverse=case["reverse"])
    assert result.n == expected["n"], f"{name} / n: expected {expected['n']}, got {result.n}"
    assert result.n + result.n_dropped == len(items)
    m = Mismatches(name, min(case["tolerance"]["alpha_abs"], 2e-3))
    m.check("ordinal_alpha", expected["ordinal_alpha"], result.ordinal_alpha)
    m.check("average_polychoric_r", expected["average_polychoric_r"], result.average_r)
    for item, value in expected["ordinal_alpha_if_deleted"].items():
        m.check(f"ordinal_alpha_if_deleted[{item}]", value, result.alpha_if_deleted[item])
    m.assert_none()


@pytest.mark.parametrize("name", sorted(ORDINAL))
def test_ordinal_omega_matches_lavaan_wlsmv(name):
    """omega_total and the standardized loadings of lavaan's one-factor WLSMV CFA, and
    semTools::compRelSEM's Green & Yang omega (the case's omega/loadings tolerances)."""
    case = ORDINAL[name]
    expected, tol = case["expected"], case["tolerance"]
    items = reference_data(case["data"])[case["items"]]
    result = ordinal_omega(items, reverse=case["reverse"])
    assert result.converged and result.n == expected["n"]
    m = Mismatches(name, tol["omega_abs"])
    m.check("omega_total", expected["omega_total"], result.omega_total)
    m.check("omega_green_yang", expected["omega_green_yang"], result.omega_green_yang)
    m.tol = tol["loadings_abs"]
    for item, value in expected["standardized_loadings"].items():
        m.check(f"standardized_loadings[{item}]", value, result.standardized_loadings[item])
    m.assert_none()
    # the observed sum score is less reliable than the sum of the latent responses
    assert result.omega_green_yang < result.omega_total


def test_ordinal_omega_refuses_a_reverse_item_outside_the_scale_and_too_few_items():
    items = reference_data("bfi.csv")[["A1", "A2", "A3"]]
    with pytest.raises(DataError, match="'A9' are not among the items"):
        ordinal_omega(items, reverse="A9")
    with pytest.raises(DataError):
        ordinal_omega(items[["A1", "A2"]])


def test_ordinal_alpha_is_the_standardized_alpha_formula_on_the_polychoric_matrix():
    items = reference_data("holzinger_swineford_1939_ordinal.csv")[["x4", "x5", "x6", "x9"]]
    result = ordinal_alpha(items)
    r = polychoric(items, missing="listwise").correlation.to_numpy()
    k = r.shape[0]
    r_bar = r[np.triu_indices(k, 1)].mean()
    assert result.average_r == pytest.approx(r_bar, abs=1e-14)
    assert result.ordinal_alpha == pytest.approx(k * r_bar / (1 + (k - 1) * r_bar), abs=1e-14)
    # psych's raw alpha of a correlation matrix is the same number
    assert result.ordinal_alpha == pytest.approx(k / (k - 1) * (1 - k / r.sum()), abs=1e-14)
    keep = [1, 2, 3]
    sub = r[np.ix_(keep, keep)]
    sub_bar = sub[np.triu_indices(3, 1)].mean()
    assert result.alpha_if_deleted["x4"] == pytest.approx(3 * sub_bar / (1 + 2 * sub_bar), abs=1e-14)
    assert result.average_r_if_deleted["x4"] == pytest.approx(sub_bar, abs=1e-14)
    assert result.to_frame().columns.tolist() == ["ordinal_alpha", "average_r", "n", "k", "n_dropped"]
    assert result.item_frame().columns.tolist() == ["alpha_if_deleted", "average_r_if_deleted"]
    assert result.item_frame().index.tolist() == ["x4", "x5", "x6", "x9"]


def test_reverse_is_the_same_as_reflecting_the_item_first():
    items = reference_data("bfi.csv")[["A1", "A2", "A3", "A4", "A5"]]
    by_option = ordinal_alpha(items, reverse="A1")
    reflected = ordinal_alpha(items.assign(A1=7 - items["A1"]))
    assert by_option.ordinal_alpha == pytest.approx(reflected.ordinal_alpha, abs=1e-10)
    assert by_option.reverse == ("A1",) and reflected.reverse == ()
    pd.testing.assert_series_equal(by_option.alpha_if_deleted, reflected.alpha_if_deleted, atol=1e-10)
    assert by_option.thresholds["A1"] == pytest.approx(reflected.thresholds["A1"], abs=1e-12)
    assert by_option.correlation.loc["A1", "A2"] > 0
    # not reversing A1 (negatively keyed) lowers alpha
    assert ordinal_alpha(items).ordinal_alpha < by_option.ordinal_alpha


def test_ordinal_alpha_recovers_the_latent_reliability_where_cronbach_alpha_is_attenuated():
    # 5 items loading .7 on one factor: the latent responses' alpha is k r / (1 + (k - 1) r), r = .49
    k, loading = 5, 0.7
    truth = k * loading**2 / (1 + (k - 1) * loading**2)
    cuts = [-2.0, -1.5, -0.9, 0.1]  # five-point items skewed towards agreement
    for seed in range(1, 4):
        rng = np.random.default_rng(seed)
        f = rng.normal(size=(3000, 1))
        latent = loading * f + np.sqrt(1 - loading**2) * rng.normal(size=(3000, k))
        items = pd.DataFrame(np.digitize(latent, cuts) + 1.0, columns=[f"i{j}" for j in range(k)])
        estimate = ordinal_alpha(items).ordinal_alpha
        assert abs(estimate - truth) < 0.02, f"seed {seed}: ordinal alpha {estimate:.3f}, truth {truth:.3f}"
        assert alpha(items).alpha < truth - 0.03


def test_listwise_deletion_and_hostile_inputs():
    rng = np.random.default_rng(0)
    items = pd.DataFrame(rng.integers(1, 6, size=(60, 3)).astype(float), columns=["a", "b", "c"])
    items.iloc[0, 1] = np.nan
    result = ordinal_alpha(items)
    assert (result.n, result.n_dropped, result.k) == (59, 1, 3)
    with pytest.raises(DataError, match="reverse item.*'z'"):
        ordinal_alpha(items, reverse=["z"])
    with pytest.raises(DataError, match="non-integer values"):
        ordinal_alpha(items.assign(a=items["a"] + 0.5))
    with pytest.raises(DataError, match="same answer in every complete case"):
        ordinal_alpha(items.assign(c=2.0))
    with pytest.raises(DataError, match="30 distinct values.*max_categories=15"):
        ordinal_alpha(items.assign(c=np.arange(60) % 30 + 1.0))
    with pytest.raises(DataError, match="needs at least 2 items"):
        ordinal_alpha(items[["a"]])
    two = ordinal_alpha(items[["a", "b"]])
    assert np.isnan(two.alpha_if_deleted).all()
