"""EFA: psych conformance (KMO, Bartlett, minres/oblimin communalities and loadings),
factor correlations, parallel analysis, recovery of known loadings, hostile inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import reference_cases_of, reference_data

from analysis.efa import bartlett, efa, kmo, parallel_analysis
from analysis.errors import DataError

EFA = reference_cases_of("efa")


def match_columns(actual: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Reorder and re-sign the columns of ``actual`` to the ``expected`` ones by best congruence."""
    congruence = actual.T @ expected / np.sqrt(np.outer((actual**2).sum(0), (expected**2).sum(0)))
    out = np.empty_like(expected)
    free = list(range(actual.shape[1]))
    for j in np.argsort(-np.abs(congruence).max(axis=0)):
        best = max(free, key=lambda i: abs(congruence[i, j]))
        free.remove(best)
        out[:, j] = actual[:, best] * np.sign(congruence[best, j])
    return out


@pytest.mark.parametrize("name", sorted(EFA))
def test_efa_case_matches_psych(name):
    case = EFA[name]
    expected, tolerance = case["expected"], case["tolerance"]
    data = reference_data(case["data"])[case["items"]]
    lines = []

    def check(statistic, want, got, *, abs_tol=None, rel_tol=None):
        tol = abs_tol if abs_tol is not None else rel_tol * abs(float(want))
        if not abs(float(got) - float(want)) <= tol:
            lines.append(f"{name} / {statistic}: expected {float(want):.6f}, got {float(got):.6f} (tolerance {tol:.3g})")

    k = kmo(data)
    b = bartlett(data)
    solution = efa(data, n_factors=case["n_factors"], method=case["method"], rotation=case["rotation"])
    for result in (k, b, solution):
        assert result.n == expected["n"], f"{name} / n: expected {expected['n']}, got {result.n}"
    check("kmo", expected["kmo"], k.kmo, abs_tol=tolerance["kmo_abs"])
    for item, value in expected["kmo_items"].items():
        check(f"kmo_items[{item}]", value, k.items[item], abs_tol=tolerance["kmo_abs"])
    check("bartlett chisq", expected["bartlett"]["chisq"], b.chisq, rel_tol=tolerance["bartlett_rel"])
    check("bartlett p", expected["bartlett"]["p"], b.pvalue, abs_tol=1e-12)
    assert b.df == expected["bartlett"]["df"], f"{name} / bartlett df: expected {expected['bartlett']['df']}, got {b.df}"
    for item, value in expected["communalities"].items():
        check(f"communalities[{item}]", value, solution.communalities[item], abs_tol=tolerance["communality_abs"])
    want = np.array(expected["loadings"])
    got = match_columns(solution.loadings.to_numpy(), want)
    for i, item in enumerate(case["items"]):
        for j in range(want.shape[1]):
            check(f"loadings[{item}, factor {j + 1}]", want[i, j], got[i, j], abs_tol=tolerance["loadings_abs"])
    if lines:
        pytest.fail("\n".join(lines))


@pytest.fixture(scope="module")
def bfi_solution():
    case = EFA["bfi_efa_5_minres_oblimin"]
    return efa(reference_data(case["data"])[case["items"]], n_factors=5, method="minres", rotation="oblimin")


def test_oblique_phi_reproduces_the_unrotated_communalities(bfi_solution):
    pattern, phi = bfi_solution.loadings.to_numpy(), bfi_solution.phi.to_numpy()
    assert np.diag(pattern @ phi @ pattern.T) == pytest.approx(bfi_solution.communalities.to_numpy(), abs=1e-8)
    # The pattern's own row sums of squares are not the communalities (factor-analyzer's mistake).
    assert np.abs((pattern**2).sum(axis=1) - bfi_solution.communalities).max() > 0.05
    assert np.diag(phi) == pytest.approx(1.0)
    assert np.allclose(bfi_solution.structure, pattern @ phi)


def test_bfi_pairwise_solution_matches_psych_printed_phi_and_ss_loadings():
    # psych::fa(bfi[1:25], nfactors = 5) (minres, oblimin, pairwise correlations of all 2,800
    # cases) prints SS loadings 2.57 2.20 2.03 1.99 1.59 and these |Phi| (rounded to 2 decimals;
    # signs depend on each package's sign convention). factor-analyzer's own phi_ fails this
    # check (it is not re-sorted with the loadings), and the pattern's column sums of squares
    # (2.50 1.96 1.91 1.80 1.51) are not psych's SS loadings for an oblique solution.
    psych = {("N", "E"): 0.21, ("N", "C"): 0.19, ("N", "A"): 0.04, ("N", "O"): 0.01, ("E", "C"): 0.23,
             ("E", "A"): 0.33, ("E", "O"): 0.17, ("C", "A"): 0.20, ("C", "O"): 0.19, ("A", "O"): 0.19}
    case = EFA["bfi_efa_5_minres_oblimin"]
    solution = efa(reference_data(case["data"])[case["items"]], n_factors=5, missing="pairwise")
    assert solution.n == 2800
    loadings = solution.loadings
    trait = {factor: loadings[factor].abs().idxmax()[0] for factor in loadings.columns}
    assert sorted(trait.values()) == ["A", "C", "E", "N", "O"]
    phi = solution.phi.rename(index=trait, columns=trait).abs()
    lines = [f"|Phi|[{a}, {b}]: psych {value:.2f}, got {phi.loc[a, b]:.3f}"
             for (a, b), value in psych.items() if abs(phi.loc[a, b] - value) > 0.0051]
    ss = solution.variance.loc["ss_loadings"].to_numpy()
    lines += [f"ss_loadings[F{j + 1}]: psych {want:.2f}, got {got:.3f}"
              for j, (want, got) in enumerate(zip([2.57, 2.20, 2.03, 1.99, 1.59], ss, strict=True))
              if abs(got - want) > 0.0051]
    assert not lines, "\n".join(lines)


def test_factors_ordered_by_variance_and_signed(bfi_solution):
    ss = bfi_solution.variance.loc["ss_loadings"].to_numpy()
    assert np.all(np.diff(ss) <= 0)
    loadings = bfi_solution.loadings.to_numpy()
    assert np.all(loadings[np.argmax(np.abs(loadings), axis=0), range(5)] > 0)
    assert bfi_solution.variance.loc["cumulative"].iloc[-1] == pytest.approx(ss.sum() / 25)
    assert list(bfi_solution.loadings.columns) == ["F1", "F2", "F3", "F4", "F5"]


def simulate_factors(n: int, seed: int, phi: float = 0.3) -> tuple[pd.DataFrame, np.ndarray]:
    """Three correlated factors, four items each, known pattern loadings."""
    rng = np.random.default_rng(seed)
    pattern = np.zeros((12, 3))
    for f in range(3):
        pattern[4 * f:4 * f + 4, f] = [0.75, 0.65, 0.6, 0.5]
    corr = np.full((3, 3), phi) + (1 - phi) * np.eye(3)
    factors = rng.multivariate_normal(np.zeros(3), corr, size=n)
    unique = np.sqrt(1 - np.diag(pattern @ corr @ pattern.T))
    x = factors @ pattern.T + rng.normal(size=(n, 12)) * unique
    return pd.DataFrame(x, columns=[f"x{i + 1}" for i in range(12)]), pattern


@pytest.mark.parametrize(("method", "rotation"), [("minres", "oblimin"), ("ml", "geomin"), ("minres", "promax")])
def test_recovers_known_loadings_and_factor_correlations(method, rotation):
    data, pattern = simulate_factors(3000, seed=11)
    solution = efa(data, n_factors=3, method=method, rotation=rotation)
    got = match_columns(solution.loadings.to_numpy(), pattern)
    assert np.abs(got - pattern).max() < 0.08
    off = solution.phi.to_numpy()[np.triu_indices(3, 1)]
    assert np.abs(off - 0.3).max() < 0.08


def test_orthogonal_and_unrotated_solutions():
    data, pattern = simulate_factors(1000, seed=2, phi=0.0)
    varimax = efa(data, n_factors=3, method="minres", rotation="varimax")
    assert np.allclose(varimax.phi, np.eye(3))
    assert np.allclose((varimax.loadings**2).sum(axis=1), varimax.communalities)
    principal = efa(data, n_factors=3, method="principal", rotation=None)
    assert principal.rotation is None
    assert np.allclose((principal.loadings**2).sum(axis=1), principal.communalities)
    assert np.abs(match_columns(varimax.loadings.to_numpy(), pattern) - pattern).max() < 0.1


def test_kmo_and_bartlett_textbook_formulas():
    data, _ = simulate_factors(300, seed=4)
    r = data.corr().to_numpy()
    n, p = data.shape
    chisq = -(n - 1 - (2 * p + 5) / 6) * np.log(np.linalg.det(r))
    assert bartlett(data).chisq == pytest.approx(chisq)
    s = np.linalg.inv(r)
    q = -s / np.sqrt(np.outer(np.diag(s), np.diag(s)))
    off = ~np.eye(p, dtype=bool)
    assert kmo(data).kmo == pytest.approx((r[off] ** 2).sum() / ((r[off] ** 2).sum() + (q[off] ** 2).sum()))


def test_parallel_analysis_suggests_three_for_three_factors():
    data, _ = simulate_factors(800, seed=5)
    result = parallel_analysis(data, n_iter=100, seed=1)
    assert result.n_factors == 3
    assert result.scree.columns.tolist() == ["factor", "observed", "simulated_mean", "simulated_quantile"]
    assert parallel_analysis(data, n_iter=100, seed=1).scree.equals(result.scree)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_parallel_analysis_on_pure_noise_suggests_at_most_one(seed):
    noise = pd.DataFrame(np.random.default_rng(seed).normal(size=(500, 15)))
    noise.columns = [f"n{i}" for i in range(15)]
    result = parallel_analysis(noise, n_iter=100, seed=seed)
    assert result.n_factors <= 1
    # the simulated means match the noise's own eigenvalues closely
    assert np.abs(result.scree["simulated_mean"] - result.scree["observed"]).max() < 0.25


# ---------------------------------------------------------------------------- hostile inputs


def test_constant_item():
    data, _ = simulate_factors(200, seed=1)
    with pytest.raises(DataError, match="'x3'.*same answer"):
        efa(data.assign(x3=1.0), n_factors=2)


def test_two_identical_items():
    data, _ = simulate_factors(200, seed=1)
    with pytest.raises(DataError, match="'x2' and 'x12' are perfectly correlated"):
        kmo(data.assign(x12=2 * data["x2"] + 1))


def test_item_with_no_answers():
    data, _ = simulate_factors(200, seed=1)
    with pytest.raises(DataError, match="'x5' has no answers"):
        bartlett(data.assign(x5=np.nan))


def test_fewer_cases_than_variables():
    data, _ = simulate_factors(8, seed=1)
    with pytest.raises(DataError, match="only 8 of 8 case"):
        efa(data, n_factors=2)


def test_strings_in_numeric_columns():
    data, _ = simulate_factors(50, seed=1)
    data = data.astype(object)
    data.loc[3, "x1"] = "n/a"
    with pytest.raises(DataError, match="'x1' holds text"):
        parallel_analysis(data, seed=1)


def test_bad_options():
    data, _ = simulate_factors(200, seed=1)
    with pytest.raises(DataError, match="n_factors must be"):
        efa(data, n_factors=12)
    with pytest.raises(DataError, match="unknown rotation"):
        efa(data, n_factors=2, rotation="quartimax")
    with pytest.raises(DataError, match="unknown method"):
        efa(data, n_factors=2, method="pa")
    with pytest.raises(DataError, match="unknown missing"):
        efa(data, n_factors=2, missing="fiml")


def test_oblique_solution_reproduces_the_unrotated_common_part_exactly(bfi_solution):
    # L Phi L' = A A' as whole matrices pins Phi down uniquely (Phi = (M'M)^-1 for L = A M).
    case = EFA["bfi_efa_5_minres_oblimin"]
    unrotated = efa(reference_data(case["data"])[case["items"]], n_factors=5, method="minres", rotation=None)
    a = unrotated.loadings.to_numpy()
    pattern, phi = bfi_solution.loadings.to_numpy(), bfi_solution.phi.to_numpy()
    assert np.abs(pattern @ phi @ pattern.T - a @ a.T).max() < 1e-8


def test_one_factor_ml_efa_equals_the_one_factor_ml_cfa():
    # Independent check of the ML extraction: with one factor, ML EFA and ML CFA are the same model,
    # so the EFA loadings equal the CFA's standardized loadings (analysis.sem).
    from analysis.reliability import omega

    items = reference_data("bfi.csv")[["N1", "N2", "N3", "N4", "N5"]]
    solution = efa(items, n_factors=1, method="ml", rotation=None)
    cfa = omega(items).loadings
    assert np.abs(solution.loadings["F1"].to_numpy() - cfa.reindex(solution.loadings.index).to_numpy()).max() < 2e-3


@pytest.mark.slow
def test_parallel_analysis_and_loading_recovery_over_many_seeds():
    # Slow twin of the single-seed checks above: 3-factor data suggests 3 factors and recovers
    # the pattern in (nearly) every replication; pure noise suggests a factor in about
    # (1 - 0.95) of replications at most (the 95th-percentile rule).
    three, noise_hits, estimates = 0, 0, []
    for seed in range(60):
        data, pattern = simulate_factors(600, seed=100 + seed)
        three += parallel_analysis(data, n_iter=100, seed=seed).n_factors == 3
        solution = efa(data, n_factors=3, method="minres", rotation="oblimin")
        estimates.append(match_columns(solution.loadings.to_numpy(), pattern))
        noise = pd.DataFrame(np.random.default_rng(seed).normal(size=(600, 12)),
                             columns=[f"n{i}" for i in range(12)])
        noise_hits += parallel_analysis(noise, n_iter=100, seed=seed).n_factors > 0
    assert three >= 57
    bias = np.mean(estimates, axis=0) - pattern
    assert np.abs(bias).max() < 0.03  # unbiased up to Monte Carlo error (SE of a mean ~ 0.005)
    assert np.abs(np.array(estimates) - pattern).max() < 0.2
    assert noise_hits <= 8


def test_pairwise_needs_enough_cases_per_pair():
    data, _ = simulate_factors(40, seed=1)
    data.loc[:29, "x1"] = np.nan
    data.loc[10:, "x2"] = np.nan  # x1 and x2 answered together by no one
    with pytest.raises(DataError, match="answered together by only 0 case"):
        efa(data, n_factors=2, missing="pairwise")
