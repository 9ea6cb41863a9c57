"""Exploratory factor analysis: KMO, Bartlett's test, parallel analysis and EFA.

Extraction and rotation use factor-analyzer where it is right; this module repairs
what it gets wrong for oblique solutions (factor-analyzer 0.5.1, checked against psych on
the bfi data):

* communalities are the row sums of squares of the *unrotated* loadings
  (equivalently :math:`\\mathrm{diag}(L\\Phi L')`), not of the pattern matrix;
* the factor correlations :math:`\\Phi` are recomputed from the rotation itself
  (factor-analyzer reorders the loadings by variance but not ``phi_``);
* factors are ordered by psych's rule, :math:`\\mathrm{diag}(\\Phi L'L)` descending,
  and signed so the largest loading of each factor is positive.

All functions delete incomplete cases listwise and report ``n`` and ``n_dropped``.
Numbers agree with R's psych (``KMO``, ``cortest.bartlett``, ``fa``); see
``tests/reference``.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import AnalysisError, DataError
from analysis.scoring import complete_cases, numeric_items
from analysis.threads import limit_blas_threads

__all__ = [
    "BartlettResult",
    "EFAResult",
    "KMOResult",
    "ParallelAnalysisResult",
    "bartlett",
    "efa",
    "kmo",
    "parallel_analysis",
]

Method = Literal["minres", "ml", "principal"]
Rotation = Literal["varimax", "promax", "oblimin", "geomin"]

#: Our rotation names -> factor-analyzer's (geomin is the oblique geomin, psych's ``geominQ``).
_ROTATIONS = {"varimax": "varimax", "promax": "promax", "oblimin": "oblimin", "geomin": "geomin_obl"}
_OBLIQUE = {"promax", "oblimin", "geomin"}


def _correlations(data: pd.DataFrame, where: str, *,
                  missing: str = "listwise") -> tuple[pd.DataFrame, np.ndarray, int]:
    """Checked cases and their correlation matrix (positive definite).

    ``listwise``: the complete cases; ``pairwise``: every case with an answer, each
    correlation from the cases that answered both items.
    """
    if missing not in ("listwise", "pairwise"):
        raise DataError(f"unknown missing={missing!r}", where=where, fix="use 'listwise' or 'pairwise'")
    items = numeric_items(data, where=where)
    p = items.shape[1]
    if p < 3:
        raise DataError(f"needs at least 3 items, got {p}", where=where, fix="pass more item columns")
    if missing == "listwise":
        used, dropped = complete_cases(items, min_cases=p + 1, where=where)
    else:
        used = items.dropna(how="all")
        dropped = len(items) - len(used)
        answered = used.notna().astype(float)
        fewest = int((answered.T @ answered).to_numpy().min())
        if fewest < p + 1:
            raise DataError(f"some pair of items was answered together by only {fewest} case(s); at least "
                            f"{p + 1} are needed", where=where, fix="use fewer items or collect more responses")
    constant = [c for c in used.columns if used[c].nunique() < 2]
    if constant:
        raise DataError(f"item(s) {', '.join(map(repr, constant))} have the same answer in every complete case",
                        where=where, fix="drop the constant item(s)")
    corr = used.corr().to_numpy() if missing == "pairwise" else np.corrcoef(used.to_numpy(), rowvar=False)
    upper = np.triu(np.abs(corr), 1)
    i, j = np.unravel_index(np.argmax(upper), upper.shape)
    if upper[i, j] > 1 - 1e-10:
        raise DataError(f"items {used.columns[i]!r} and {used.columns[j]!r} are perfectly correlated "
                        "(identical up to a linear recoding), so the correlation matrix is singular",
                        where=where, fix="drop one of the two items")
    eig = np.linalg.eigvalsh(corr)
    if eig[0] < 1e-10 * p:
        raise DataError("the correlation matrix is singular or, with pairwise deletion, not positive definite: "
                        "some item is an exact linear combination of others",
                        where=where, fix="drop redundant items (e.g. a total score next to its items) or use "
                                         "missing='listwise'")
    return used, corr, dropped


@dataclass(frozen=True)
class KMOResult:
    """Kaiser-Meyer-Olkin measure of sampling adequacy.

    Attributes
    ----------
    kmo
        Overall KMO.
    items
        Per-item KMO (MSA), indexed by item.
    n, n_dropped
        Cases used and dropped (listwise).
    """

    kmo: float
    items: pd.Series
    n: int
    n_dropped: int

    def to_frame(self) -> pd.DataFrame:
        """Index ``item`` plus an ``overall`` row; column ``kmo``."""
        out = pd.concat([self.items, pd.Series({"overall": self.kmo})]).rename("kmo").to_frame()
        out.index.name = "item"
        return out


def kmo(data: pd.DataFrame) -> KMOResult:
    """Kaiser-Meyer-Olkin measure of sampling adequacy, overall and per item.

    Parameters
    ----------
    data
        One column per item, one row per case (listwise deletion).

    Returns
    -------
    KMOResult

    Notes
    -----
    With item correlations :math:`r_{ij}` and partial correlations
    :math:`q_{ij} = -s_{ij}/\\sqrt{s_{ii}s_{jj}}`, :math:`S = R^{-1}`, sums over
    :math:`i \\neq j`:

    .. math:: KMO = \\frac{\\sum r_{ij}^2}{\\sum r_{ij}^2 + \\sum q_{ij}^2},
              \\qquad MSA_i = \\frac{\\sum_j r_{ij}^2}{\\sum_j r_{ij}^2 + \\sum_j q_{ij}^2}

    Kaiser (1974): .90 marvellous, .80 meritorious, .70 middling, .60 mediocre,
    .50 miserable, below unacceptable. R: ``psych::KMO``.

    References
    ----------
    Kaiser, H. F. (1970). A second generation little jiffy. *Psychometrika*, 35, 401-415.
    Kaiser, H. F. (1974). An index of factorial simplicity. *Psychometrika*, 39, 31-36.
    """
    complete, corr, dropped = _correlations(data, "kmo")
    inv = np.linalg.inv(corr)
    d = np.sqrt(np.diag(inv))
    partial = -inv / np.outer(d, d)
    off = ~np.eye(corr.shape[0], dtype=bool)
    r2 = np.where(off, corr**2, 0.0)
    q2 = np.where(off, partial**2, 0.0)
    overall = r2.sum() / (r2.sum() + q2.sum())
    per_item = r2.sum(axis=0) / (r2.sum(axis=0) + q2.sum(axis=0))
    items = pd.Series(per_item, index=pd.Index(complete.columns, name="item"), name="kmo")
    return KMOResult(float(overall), items, len(complete), int(dropped))


@dataclass(frozen=True)
class BartlettResult:
    """Bartlett's test of sphericity (H0: the correlation matrix is the identity)."""

    chisq: float
    df: int
    pvalue: float
    n: int
    n_dropped: int

    def to_frame(self) -> pd.DataFrame:
        """One row with the attributes as columns."""
        return pd.DataFrame([asdict(self)])


def bartlett(data: pd.DataFrame) -> BartlettResult:
    """Bartlett's test of sphericity.

    Parameters
    ----------
    data
        One column per item, one row per case (listwise deletion).

    Returns
    -------
    BartlettResult

    Notes
    -----
    For :math:`p` items, :math:`n` cases and correlation matrix :math:`R`

    .. math:: \\chi^2 = -\\Big(n - 1 - \\frac{2p + 5}{6}\\Big)\\ln|R|, \\qquad df = \\frac{p(p-1)}{2}

    A significant test says the items correlate enough to factor; with survey sample
    sizes it nearly always is. R: ``psych::cortest.bartlett(R, n)``.

    References
    ----------
    Bartlett, M. S. (1950). Tests of significance in factor analysis.
    *British Journal of Psychology*, 3, 77-85.
    """
    complete, corr, dropped = _correlations(data, "bartlett")
    n, p = complete.shape
    _sign, logdet = np.linalg.slogdet(corr)
    chisq = -(n - 1 - (2 * p + 5) / 6.0) * logdet
    df = p * (p - 1) // 2
    return BartlettResult(float(chisq), int(df), float(stats.chi2.sf(chisq, df)), int(n), int(dropped))


@dataclass(frozen=True)
class ParallelAnalysisResult:
    """Horn's parallel analysis.

    Attributes
    ----------
    n_factors
        Suggested number of factors (components): how many leading observed
        eigenvalues exceed the simulated quantile, counted until the first that does not.
    scree
        One row per component ``factor`` (1..p): ``observed`` eigenvalue,
        ``simulated_mean``, ``simulated_quantile`` (the 95th percentile by default).
    quantile, n_iter, seed, n, n_dropped
        The settings and the cases used / dropped.
    """

    n_factors: int
    scree: pd.DataFrame
    quantile: float
    n_iter: int
    seed: int | None
    n: int
    n_dropped: int

    def to_frame(self) -> pd.DataFrame:
        """The scree table."""
        return self.scree.copy()


def parallel_analysis(data: pd.DataFrame, *, n_iter: int = 200, seed: int | None = None,
                      quantile: float = 0.95) -> ParallelAnalysisResult:
    """Horn's parallel analysis: how many components beat random data.

    Parameters
    ----------
    data
        One column per item, one row per case (listwise deletion).
    n_iter
        Number of simulated data sets.
    seed
        Seed of the random generator (results are reproducible for a given seed).
    quantile
        Quantile of the simulated eigenvalues an observed eigenvalue must exceed
        (0.95, Glorfeld's 1995 refinement; 0.5 gives Horn's original mean rule).

    Returns
    -------
    ParallelAnalysisResult

    Notes
    -----
    The eigenvalues of the observed correlation matrix are compared with those of
    correlation matrices of :math:`n \\times p` independent normal data. The sample
    covariance of such data is Wishart, :math:`(n-1)S \\sim W_p(n-1, I)`, so the
    simulated matrices are drawn directly from the Wishart distribution (Bartlett
    decomposition, vectorised over iterations): the cost does not grow with
    :math:`n`. Component (principal-components) eigenvalues are used, as in Horn
    (1965). R: ``psych::fa.parallel(..., fa = "pc")``.

    References
    ----------
    Horn, J. L. (1965). A rationale and test for the number of factors in factor
    analysis. *Psychometrika*, 30, 179-185.
    """
    where = "parallel_analysis"
    if not isinstance(n_iter, (int, np.integer)) or n_iter < 10:
        raise DataError(f"n_iter must be an integer of at least 10, got {n_iter!r}", where=where,
                        fix="use e.g. n_iter=200")
    if not 0.0 < quantile < 1.0:
        raise DataError(f"quantile must lie in (0, 1), got {quantile!r}", where=where, fix="use 0.95")
    complete, corr, dropped = _correlations(data, where)
    n, p = complete.shape
    observed = np.sort(np.linalg.eigvalsh(corr))[::-1]
    rng = np.random.default_rng(seed)
    # Bartlett decomposition: W = A A', A lower triangular, A_ii^2 ~ chi2(n - 1 - i), A_ij ~ N(0, 1) below.
    dof = n - 1
    a = np.tril(rng.standard_normal((n_iter, p, p)), -1)
    diag = np.sqrt(rng.chisquare(dof - np.arange(p), size=(n_iter, p)))
    a[:, np.arange(p), np.arange(p)] = diag
    with limit_blas_threads():
        w = a @ np.swapaxes(a, 1, 2)
        s = np.sqrt(np.einsum("kii->ki", w))
        simulated = np.sort(np.linalg.eigvalsh(w / (s[:, :, None] * s[:, None, :])), axis=1)[:, ::-1]
    mean = simulated.mean(axis=0)
    cut = np.quantile(simulated, quantile, axis=0)
    beats = observed > cut
    n_factors = int(p if beats.all() else np.argmin(beats))
    scree = pd.DataFrame({"factor": np.arange(1, p + 1), "observed": observed,
                          "simulated_mean": mean, "simulated_quantile": cut})
    return ParallelAnalysisResult(n_factors, scree, float(quantile), int(n_iter), seed, int(n), int(dropped))


@dataclass(frozen=True)
class EFAResult:
    """An exploratory factor solution.

    Attributes
    ----------
    loadings
        Items x factors (``F1`` ...) pattern loadings, factors ordered by variance
        and signed so the largest absolute loading of each is positive.
    communalities
        Per item: :math:`h^2_i = \\mathrm{diag}(L\\Phi L')_i`.
    uniquenesses
        :math:`1 - h^2_i`.
    phi
        Factor correlations (identity for orthogonal rotations and no rotation).
    structure
        Structure matrix :math:`L\\Phi` (item-factor correlations).
    variance
        Index ``ss_loadings``, ``proportion``, ``cumulative``; columns the factors.
    method, rotation, n_factors, n, n_dropped
        The settings and the cases used / dropped.
    """

    loadings: pd.DataFrame
    communalities: pd.Series
    uniquenesses: pd.Series
    phi: pd.DataFrame
    structure: pd.DataFrame
    variance: pd.DataFrame
    method: str
    rotation: str | None
    n_factors: int
    n: int
    n_dropped: int

    def to_frame(self) -> pd.DataFrame:
        """Loadings with ``communality`` and ``uniqueness`` columns (psych's print layout)."""
        return self.loadings.assign(communality=self.communalities, uniqueness=self.uniquenesses)


def efa(data: pd.DataFrame, *, n_factors: int, method: Method = "minres",
        rotation: Rotation | None = "oblimin", missing: Literal["listwise", "pairwise"] = "listwise") -> EFAResult:
    """Exploratory factor analysis.

    Parameters
    ----------
    data
        One column per item, one row per case (listwise deletion).
    n_factors
        Number of factors to extract (see :func:`parallel_analysis`).
    method
        ``"minres"`` (minimum residual, psych's default), ``"ml"`` (maximum
        likelihood) or ``"principal"`` (principal components: eigenvectors of
        :math:`R` scaled by the square roots of their eigenvalues, as
        ``psych::principal``).
    rotation
        ``"varimax"`` (orthogonal, Kaiser-normalized), ``"promax"`` (oblique, power
        4), ``"oblimin"`` (oblique, gamma 0, Jennrich 2002 gradient projection),
        ``"geomin"`` (oblique, delta .01, psych's ``geominQ``) or ``None``.
    missing
        ``"listwise"`` (default: complete cases only) or ``"pairwise"`` (each
        correlation from the cases that answered both items, psych's default; ``n``
        then counts the cases with at least one answer).

    Returns
    -------
    EFAResult

    Notes
    -----
    Extraction gives unrotated loadings :math:`A` (:math:`p \\times m`); a rotation
    gives the pattern :math:`L = AM`. For an oblique rotation the factor
    correlations are

    .. math:: \\Phi = (M'M)^{-1}

    (GPArotation's :math:`T'T` with :math:`M = (T')^{-1}`), so that
    :math:`L\\Phi L' = AA'` and the communalities :math:`h^2 = \\mathrm{diag}(AA')` do
    not depend on the rotation. Factors are ordered by
    :math:`\\mathrm{diag}(\\Phi L'L)` (psych's rule); ``variance`` reports these
    sums of squares as ``ss_loadings``, their share of :math:`p` as ``proportion``,
    and the running total as ``cumulative`` (psych's convention for oblique
    solutions, where the factors overlap and the shares are not additive in a
    strict sense). R: ``psych::fa(r, nfactors, fm = "minres", rotate = "oblimin")``.

    References
    ----------
    Jennrich, R. I. (2002). A simple general method for oblique rotation.
    *Psychometrika*, 67, 7-19.
    Kaiser, H. F. (1958). The varimax criterion for analytic rotation in factor
    analysis. *Psychometrika*, 23, 187-200.
    """
    from factor_analyzer import FactorAnalyzer
    from factor_analyzer.rotator import Rotator

    where = "efa"
    if method not in ("minres", "ml", "principal"):
        raise DataError(f"unknown method {method!r}", where=where, fix="use 'minres', 'ml' or 'principal'")
    if rotation is not None and rotation not in _ROTATIONS:
        raise DataError(f"unknown rotation {rotation!r}", where=where,
                        fix=f"use one of {', '.join(map(repr, _ROTATIONS))} or None")
    complete, corr, dropped = _correlations(data, where, missing=missing)
    n, p = complete.shape
    max_factors = p - 1 if method != "principal" else p
    if not isinstance(n_factors, (int, np.integer)) or not 1 <= n_factors <= max_factors:
        raise DataError(f"n_factors must be an integer from 1 to {max_factors} for {p} items, got {n_factors!r}",
                        where=where, fix="see parallel_analysis() for a suggestion")
    with warnings.catch_warnings(), limit_blas_threads():
        warnings.simplefilter("ignore")
        try:
            if method == "principal":
                values, vectors = np.linalg.eigh(corr)
                top = np.argsort(values)[::-1][: int(n_factors)]
                unrotated = vectors[:, top] * np.sqrt(values[top])
            else:
                extractor = FactorAnalyzer(n_factors=int(n_factors), rotation=None, method=method,
                                           is_corr_matrix=True)
                extractor.fit(corr)
                unrotated = np.asarray(extractor.loadings_, dtype=float).reshape(p, int(n_factors))
            if rotation is None or n_factors == 1:
                pattern = unrotated.copy()
            else:
                pattern = np.asarray(Rotator(method=_ROTATIONS[rotation]).fit_transform(unrotated), dtype=float)
        except (np.linalg.LinAlgError, ValueError) as exc:
            raise AnalysisError(f"factor extraction failed ({exc})", where=where,
                                fix="extract fewer factors or drop near-redundant items") from None
    if not np.all(np.isfinite(pattern)):
        raise AnalysisError("the factor solution has non-finite loadings", where=where,
                            fix="extract fewer factors")
    m = pattern.shape[1]
    if rotation in _OBLIQUE and m > 1:
        transform = np.linalg.lstsq(unrotated, pattern, rcond=None)[0]
        phi = np.linalg.inv(transform.T @ transform)
        phi = (phi + phi.T) / 2.0
    else:
        phi = np.eye(m)
    ss = np.diag(phi @ pattern.T @ pattern)
    order = np.argsort(-ss, kind="stable")
    pattern, phi, ss = pattern[:, order], phi[np.ix_(order, order)], ss[order]
    signs = np.sign(pattern[np.argmax(np.abs(pattern), axis=0), np.arange(m)])
    signs[signs == 0] = 1.0
    pattern = pattern * signs
    phi = phi * np.outer(signs, signs)
    factors = [f"F{i + 1}" for i in range(m)]
    items = pd.Index(complete.columns, name="item")
    communalities = pd.Series((unrotated**2).sum(axis=1), index=items, name="communality")
    proportion = ss / p
    variance = pd.DataFrame([ss, proportion, np.cumsum(proportion)], columns=factors,
                            index=pd.Index(["ss_loadings", "proportion", "cumulative"], name="statistic"))
    return EFAResult(
        loadings=pd.DataFrame(pattern, index=items, columns=factors),
        communalities=communalities,
        uniquenesses=(1.0 - communalities).rename("uniqueness"),
        phi=pd.DataFrame(phi, index=pd.Index(factors, name="factor"), columns=factors),
        structure=pd.DataFrame(pattern @ phi, index=items, columns=factors),
        variance=variance,
        method=method,
        rotation=rotation if m > 1 else None,
        n_factors=m,
        n=int(n),
        n_dropped=int(dropped),
    )
