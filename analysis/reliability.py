"""Reliability: Cronbach's alpha with Feldt's interval, item analysis, omega,
composite reliability, AVE, HTMT, and ordinal alpha from polychoric correlations.

Every function takes the item columns first (already reverse-keyed, e.g. by
:func:`analysis.scoring.score`), deletes incomplete cases listwise and reports how
many cases it used. Numbers agree with R's psych (``alpha``, ``alpha.ci``) and
lavaan; see ``tests/reference``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.bivariate_normal import bivariate_normal_cdf
from analysis.errors import AnalysisError, DataError
from analysis.polychoric import DEFAULT_MAX_CATEGORIES, polychoric
from analysis.scoring import complete_cases, numeric_items
from analysis.sem import fit

__all__ = [
    "AlphaResult",
    "OmegaResult",
    "OrdinalAlphaResult",
    "OrdinalOmegaResult",
    "alpha",
    "ave",
    "composite_reliability",
    "htmt",
    "item_analysis",
    "omega",
    "ordinal_alpha",
    "ordinal_omega",
]


def _reliability_items(items: pd.DataFrame, where: str, *, min_items: int = 2) -> tuple[pd.DataFrame, int]:
    data = numeric_items(items, where=where)
    if data.shape[1] < min_items:
        raise DataError(f"needs at least {min_items} items, got {data.shape[1]}", where=where,
                        fix="pass a frame with one column per item of the scale")
    complete, dropped = complete_cases(data, min_cases=3, where=where)
    constant = [c for c in complete.columns if complete[c].nunique() < 2]
    if constant:
        raise DataError(
            f"item(s) {', '.join(map(repr, constant))} have the same answer in every complete case, "
            "so their correlations are undefined",
            where=where,
            fix="drop the constant item(s) from the scale",
        )
    return complete, dropped


def _cronbach(cov: np.ndarray) -> float:
    k = cov.shape[0]
    return k / (k - 1) * (1.0 - np.trace(cov) / cov.sum())


@dataclass(frozen=True)
class AlphaResult:
    """Cronbach's alpha of one scale.

    Attributes
    ----------
    alpha
        Raw alpha (from covariances).
    std_alpha
        Standardized alpha (from the mean inter-item correlation).
    ci_lower, ci_upper
        Feldt (1965) interval of ``alpha`` at level ``ci``.
    ci
        The interval's confidence level.
    n
        Cases used (complete on every item).
    k
        Number of items.
    n_dropped
        Cases dropped for a missing answer (listwise deletion).
    """

    alpha: float
    std_alpha: float
    ci_lower: float
    ci_upper: float
    ci: float
    n: int
    k: int
    n_dropped: int

    def to_frame(self) -> pd.DataFrame:
        """One row with the attributes as columns."""
        return pd.DataFrame([asdict(self)])


def alpha(items: pd.DataFrame, *, ci: float = 0.95) -> AlphaResult:
    """Cronbach's alpha with standardized alpha and Feldt's confidence interval.

    Parameters
    ----------
    items
        One column per item (reverse-keyed), one row per case. Cases with any
        missing answer are dropped (listwise), see ``n_dropped``.
    ci
        Confidence level of the interval, in (0, 1).

    Returns
    -------
    AlphaResult

    Notes
    -----
    With :math:`k` items of covariance matrix :math:`C` (:math:`\\sigma^2_i` on its
    diagonal, :math:`\\sigma^2_X = \\mathbf 1' C \\mathbf 1` the variance of the sum)

    .. math:: \\alpha = \\frac{k}{k-1}\\Big(1 - \\frac{\\sum_i \\sigma^2_i}{\\sigma^2_X}\\Big),
              \\qquad
              \\alpha_{std} = \\frac{k \\bar r}{1 + (k-1)\\bar r}

    with :math:`\\bar r` the mean inter-item correlation (Cronbach, 1951).
    Feldt's (1965) interval uses :math:`(1-\\alpha)/(1-\\hat\\alpha) \\sim F(n-1,(n-1)(k-1))`:

    .. math:: \\big[\\,1 - (1-\\hat\\alpha) F_{1-p/2},\\; 1 - (1-\\hat\\alpha) F_{p/2}\\,\\big],
              \\quad p = 1 - \\text{ci}.

    Unlike ``pingouin.cronbach_alpha`` the bounds are not rounded.
    R: ``psych::alpha`` (``raw_alpha``, ``std.alpha``), ``psych::alpha.ci``.

    References
    ----------
    Cronbach, L. J. (1951). Coefficient alpha and the internal structure of tests.
    *Psychometrika*, 16, 297-334.
    Feldt, L. S. (1965). The approximate sampling distribution of Kuder-Richardson
    reliability coefficient twenty. *Psychometrika*, 30, 357-370.
    """
    where = "alpha"
    if not 0.0 < ci < 1.0:
        raise DataError(f"ci must lie strictly between 0 and 1, got {ci!r}", where=where, fix="use e.g. ci=0.95")
    data, dropped = _reliability_items(items, where)
    n, k = data.shape
    values = data.to_numpy()
    a = _cronbach(np.cov(values, rowvar=False))
    corr = np.corrcoef(values, rowvar=False)
    r_bar = (corr.sum() - k) / (k * (k - 1))
    std_a = k * r_bar / (1.0 + (k - 1) * r_bar)
    p = 1.0 - ci
    df1, df2 = n - 1, (n - 1) * (k - 1)
    lower = 1.0 - (1.0 - a) * stats.f.ppf(1.0 - p / 2.0, df1, df2)
    upper = 1.0 - (1.0 - a) * stats.f.ppf(p / 2.0, df1, df2)
    return AlphaResult(float(a), float(std_a), float(lower), float(upper), float(ci), int(n), int(k), int(dropped))


def item_analysis(items: pd.DataFrame) -> pd.DataFrame:
    """Per-item statistics of a scale.

    Parameters
    ----------
    items
        One column per item (reverse-keyed), one row per case.

    Returns
    -------
    pandas.DataFrame
        Index ``item``; columns ``mean``, ``sd``, ``missing_share``,
        ``item_rest_cor``, ``alpha_if_deleted``. ``missing_share`` is the share of
        all rows without an answer to the item; the other columns are computed on the
        complete cases (listwise, as :func:`alpha`).

    Notes
    -----
    ``item_rest_cor`` is the corrected item-total correlation: the correlation of
    item :math:`i` with the sum of the *other* items, :math:`r(x_i, X - x_i)`
    (psych's ``r.drop``). ``alpha_if_deleted`` is the raw alpha of the remaining
    :math:`k-1` items (NaN when only one would remain). ``sd`` uses :math:`n-1`.
    R: ``psych::alpha(...)$item.stats``, ``$alpha.drop``.
    """
    where = "item_analysis"
    raw = numeric_items(items, where=where)
    data, _dropped = _reliability_items(raw, where)
    values = data.to_numpy()
    k = values.shape[1]
    cov = np.cov(values, rowvar=False)
    total = values.sum(axis=1)
    rows = []
    for i, name in enumerate(data.columns):
        rest = total - values[:, i]
        keep = [j for j in range(k) if j != i]
        rows.append({
            "item": name,
            "mean": values[:, i].mean(),
            "sd": values[:, i].std(ddof=1),
            "missing_share": float(raw[name].isna().mean()),
            "item_rest_cor": float(np.corrcoef(values[:, i], rest)[0, 1]) if k > 1 else np.nan,
            "alpha_if_deleted": _cronbach(cov[np.ix_(keep, keep)]) if k > 2 else np.nan,
        })
    return pd.DataFrame(rows).set_index("item")


@dataclass(frozen=True)
class OmegaResult:
    """McDonald's omega total of one scale from a one-factor CFA.

    Attributes
    ----------
    omega_total
        :math:`(\\sum\\lambda)^2\\psi / ((\\sum\\lambda)^2\\psi + \\sum\\theta)`.
    n, k, n_dropped
        Cases used, items, cases dropped (listwise).
    loadings
        Standardized loadings (``std_all``) by item.
    converged
        Whether the CFA converged.
    """

    omega_total: float
    n: int
    k: int
    n_dropped: int
    loadings: pd.Series
    converged: bool

    def to_frame(self) -> pd.DataFrame:
        """One row: omega_total, n, k, n_dropped, converged."""
        return pd.DataFrame([{"omega_total": self.omega_total, "n": self.n, "k": self.k,
                              "n_dropped": self.n_dropped, "converged": self.converged}])


_MODEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def omega(items: pd.DataFrame) -> OmegaResult:
    """McDonald's omega total from a one-factor ML CFA (fitted by :func:`analysis.sem.fit`).

    Parameters
    ----------
    items
        One column per item (reverse-keyed; at least 3 items so the model is
        identified), one row per case; listwise deletion.

    Returns
    -------
    OmegaResult

    Notes
    -----
    The model ``f =~ x1 + ... + xk`` is fitted by maximum likelihood (lavaan's
    marker identification: first loading 1, factor variance :math:`\\psi` free). With
    unstandardized loadings :math:`\\lambda_i` and residual variances
    :math:`\\theta_i`

    .. math:: \\omega_t = \\frac{\\psi(\\sum_i\\lambda_i)^2}{\\psi(\\sum_i\\lambda_i)^2 + \\sum_i\\theta_i}

    which is invariant to the identification chosen (McDonald, 1999). It is the
    reliability of the unweighted sum score; unlike alpha it does not assume equal
    loadings. R: ``semTools::compRelSEM`` on a ``lavaan::cfa`` fit.

    References
    ----------
    McDonald, R. P. (1999). *Test theory: A unified treatment*. Erlbaum.
    """
    where = "omega"
    data, dropped = _reliability_items(items, where, min_items=3)
    bad = [c for c in data.columns if not _MODEL_NAME.match(str(c))]
    if bad:
        raise DataError(f"item name(s) {', '.join(map(repr, bad))} are not valid model variable names",
                        where=where, fix="rename the columns to letters, digits and underscores")
    factor = "omega_factor"
    result = fit(f"{factor} =~ " + " + ".join(map(str, data.columns)), data)
    est = result.estimates
    lam = est[(est["op"] == "=~") & (est["lhs"] == factor)].set_index("rhs")
    var = est[(est["op"] == "~~") & (est["lhs"] == est["rhs"])].set_index("lhs")
    psi = float(var.loc[factor, "est"])
    theta = var.loc[list(data.columns), "est"].astype(float)
    common = psi * float(lam["est"].sum()) ** 2
    value = common / (common + float(theta.sum()))
    loadings = lam["std_all"].astype(float).rename("std_all")
    loadings.index.name = "item"
    return OmegaResult(float(value), len(data), int(data.shape[1]), int(dropped), loadings,
                       bool(result.converged))


def _measurement_rows(sem_result: Any) -> tuple[pd.DataFrame, pd.Series]:
    est = sem_result.estimates
    if "group" in est.columns and est["group"].nunique(dropna=True) > 1:
        raise AnalysisError("composite reliability and AVE need a single-group CFA",
                            where="composite_reliability", fix="fit the measurement model without group=")
    loadings = est[est["op"] == "=~"]
    if loadings.empty:
        raise AnalysisError("the model has no measurement part (no '=~' rows)", where="composite_reliability",
                            fix="pass a CFA result: analysis.sem.fit(measurement_model(instrument), data)")
    resid = est[(est["op"] == "~~") & (est["lhs"] == est["rhs"])].set_index("lhs")["std_all"]
    return loadings, resid


def composite_reliability(sem_result: Any) -> pd.Series:
    """Composite reliability of every latent variable of a fitted CFA.

    Parameters
    ----------
    sem_result
        A result of :func:`analysis.sem.fit` (single group) with ``=~`` rows.

    Returns
    -------
    pandas.Series
        Named ``composite_reliability``, indexed by construct (``lhs`` of ``=~``).

    Notes
    -----
    From the completely standardized loadings :math:`\\lambda_i` (``std_all``) and
    standardized residual variances :math:`\\theta_i` (:math:`1-\\lambda_i^2` for an
    item loading on one factor)

    .. math:: CR = \\frac{(\\sum_i \\lambda_i)^2}{(\\sum_i \\lambda_i)^2 + \\sum_i \\theta_i}

    (Fornell & Larcker, 1981; often called construct reliability or rho_c).

    References
    ----------
    Fornell, C., & Larcker, D. F. (1981). Evaluating structural equation models with
    unobservable variables and measurement error. *Journal of Marketing Research*,
    18, 39-50.
    """
    loadings, resid = _measurement_rows(sem_result)
    out = {}
    for construct, rows in loadings.groupby("lhs", sort=False):
        lam = rows["std_all"].astype(float).to_numpy()
        theta = resid.reindex(rows["rhs"]).astype(float).to_numpy()
        theta = np.where(np.isnan(theta), 1.0 - lam**2, theta)
        out[construct] = lam.sum() ** 2 / (lam.sum() ** 2 + theta.sum())
    series = pd.Series(out, name="composite_reliability", dtype=float)
    series.index.name = "construct"
    return series


def ave(sem_result: Any) -> pd.Series:
    """Average variance extracted of every latent variable of a fitted CFA.

    Notes
    -----
    .. math:: AVE = \\frac{1}{k}\\sum_{i=1}^k \\lambda_i^2

    from the completely standardized loadings (``std_all``). Convergent validity is
    usually claimed for :math:`AVE \\geq .50`; discriminant validity when
    :math:`\\sqrt{AVE}` exceeds the construct's correlations with the others
    (Fornell & Larcker, 1981).

    Returns
    -------
    pandas.Series
        Named ``ave``, indexed by construct.
    """
    loadings, _resid = _measurement_rows(sem_result)
    series = loadings.groupby("lhs", sort=False)["std_all"].apply(lambda s: float((s.astype(float) ** 2).mean()))
    series.name = "ave"
    series.index.name = "construct"
    return series.astype(float)


def htmt(frame: pd.DataFrame, constructs: Mapping[str, Sequence[str]] | Sequence[Any]) -> pd.DataFrame:
    """Heterotrait-monotrait ratio of correlations between constructs.

    Parameters
    ----------
    frame
        Reverse-keyed item columns (e.g. from :func:`analysis.scoring.score`).
    constructs
        Construct id -> its item columns, or construct objects with ``id`` and
        ``items`` (``instrument.constructs``); at least 2 constructs of at least 2
        items each.

    Returns
    -------
    pandas.DataFrame
        Symmetric constructs x constructs matrix, NaN on the diagonal. Cases are
        deleted listwise over all items named.

    Notes
    -----
    With :math:`r` the absolute item correlations, for constructs :math:`i` (items
    :math:`K_i`) and :math:`j`

    .. math:: HTMT_{ij} = \\frac{\\overline{r}_{K_i \\times K_j}}
              {\\sqrt{\\overline{r}_{K_i} \\; \\overline{r}_{K_j}}}

    the mean heterotrait-heteromethod correlation over the geometric mean of the two
    mean monotrait-heteromethod (within-construct, off-diagonal) correlations.
    Values above .85 (or .90) question discriminant validity. Absolute values, so an
    item keyed the other way (or a negative correlation between constructs) does not
    pull the ratio down, and HTMT is never negative. R: ``semTools::htmt(absolute = TRUE)``,
    its default.

    References
    ----------
    Henseler, J., Ringle, C. M., & Sarstedt, M. (2015). A new criterion for assessing
    discriminant validity in variance-based structural equation modeling.
    *Journal of the Academy of Marketing Science*, 43, 115-135.
    """
    where = "htmt"
    if not isinstance(constructs, Mapping):
        constructs = {c.id: tuple(c.items) for c in constructs}
    if len(constructs) < 2:
        raise DataError("needs at least two constructs", where=where, fix="pass a mapping of two or more constructs")
    short = [c for c, its in constructs.items() if len(its) < 2]
    if short:
        raise DataError(f"construct(s) {', '.join(map(repr, short))} have fewer than 2 items; "
                        "their monotrait correlation is undefined", where=where,
                        fix="leave single-item constructs out of HTMT")
    names = list(dict.fromkeys(i for its in constructs.values() for i in its))
    data, _dropped = complete_cases(numeric_items(frame, names, where=where), min_cases=3, where=where)
    constant = [c for c in data.columns if data[c].nunique() < 2]
    if constant:
        raise DataError(f"item(s) {', '.join(map(repr, constant))} are constant", where=where,
                        fix="drop constant items")
    corr = data.corr().abs()  # Henseler et al. (2015): absolute correlations (semTools' absolute = TRUE)
    ids = list(constructs)
    mono = {}
    for c in ids:
        block = corr.loc[list(constructs[c]), list(constructs[c])].to_numpy()
        k = block.shape[0]
        mono[c] = (block.sum() - np.trace(block)) / (k * (k - 1))
    out = pd.DataFrame(np.nan, index=pd.Index(ids, name="construct"), columns=ids)
    for a_ix, a in enumerate(ids):
        for b in ids[a_ix + 1:]:
            hetero = corr.loc[list(constructs[a]), list(constructs[b])].to_numpy().mean()
            denominator = mono[a] * mono[b]
            value = hetero / np.sqrt(denominator) if denominator > 0 else np.nan
            out.loc[a, b] = out.loc[b, a] = value
    return out


def _standardized_alpha(corr: np.ndarray) -> tuple[float, float]:
    """(k r̄ / (1 + (k-1) r̄), r̄) of a correlation matrix; NaN for fewer than 2 items."""
    k = corr.shape[0]
    if k < 2:
        return float("nan"), float("nan")
    r_bar = (corr.sum() - np.trace(corr)) / (k * (k - 1))
    return float(k * r_bar / (1.0 + (k - 1) * r_bar)), float(r_bar)


@dataclass(frozen=True)
class OrdinalAlphaResult:
    """Ordinal alpha of one scale: alpha on the polychoric correlations (Zumbo et al. 2007).

    Attributes
    ----------
    ordinal_alpha
        :math:`k\\bar\\rho / (1 + (k-1)\\bar\\rho)` of the polychoric matrix.
    average_r
        :math:`\\bar\\rho`, the mean inter-item polychoric correlation (psych's ``average_r``).
    n, k, n_dropped
        Cases used (complete on every item), items, cases dropped (listwise).
    reverse
        The items reflected before the correlations were estimated.
    alpha_if_deleted
        Ordinal alpha of the other :math:`k-1` items, by item (NaN when one would remain).
    average_r_if_deleted
        Their mean polychoric correlation, by item.
    correlation
        The polychoric matrix of the keyed items.
    thresholds
        The keyed items' thresholds (a reversed item's are those of the reflected item).
    """

    ordinal_alpha: float
    average_r: float
    n: int
    k: int
    n_dropped: int
    reverse: tuple[str, ...]
    alpha_if_deleted: pd.Series
    average_r_if_deleted: pd.Series
    correlation: pd.DataFrame
    thresholds: dict[str, tuple[float, ...]]

    def to_frame(self) -> pd.DataFrame:
        """One row: ordinal_alpha, average_r, n, k, n_dropped."""
        return pd.DataFrame([{"ordinal_alpha": self.ordinal_alpha, "average_r": self.average_r, "n": self.n,
                              "k": self.k, "n_dropped": self.n_dropped}])

    def item_frame(self) -> pd.DataFrame:
        """Per item (index ``item``): alpha_if_deleted, average_r_if_deleted."""
        return pd.DataFrame({"alpha_if_deleted": self.alpha_if_deleted,
                             "average_r_if_deleted": self.average_r_if_deleted})


def ordinal_alpha(items: pd.DataFrame, *, reverse: Sequence[str] | str = (),
                  max_categories: int = DEFAULT_MAX_CATEGORIES) -> OrdinalAlphaResult:
    """Ordinal alpha, alpha if deleted and the average polychoric correlation of a scale.

    Parameters
    ----------
    items
        One column per item, integer category codes (e.g. 1..5), one row per case.
        Cases with any missing answer are dropped (listwise, as :func:`alpha`).
    reverse
        Reverse-keyed items among ``items``, reflected here (their category order is
        reversed, which is what ``min + max - x`` or the reference suite's ``7 - x`` does;
        the polychoric correlations of a reflected item change sign, its thresholds are
        negated and reversed). Pass ``()`` when the items are already keyed.
    max_categories
        Most categories an item may have (see :func:`analysis.polychoric.polychoric`).

    Returns
    -------
    OrdinalAlphaResult

    Raises
    ------
    DataError
        As :func:`alpha`, and for an item that is not integer-coded, has one category
        or more than ``max_categories`` categories; a ``reverse`` item not in ``items``.

    Notes
    -----
    ``psych::alpha`` applied to the polychoric matrix :math:`R` (Zumbo, Gadermann &
    Zeisser 2007). On a correlation matrix raw and standardized alpha coincide:

    .. math:: \\alpha_{ord} = \\frac{k}{k-1}\\Big(1 - \\frac{k}{\\mathbf 1' R \\mathbf 1}\\Big)
              = \\frac{k\\bar\\rho}{1 + (k-1)\\bar\\rho}

    with :math:`\\bar\\rho` the mean off-diagonal polychoric correlation. It is the
    reliability of the sum of the *latent responses*, not of the observed sum score;
    it is higher than Cronbach's alpha of the same items because the polychoric
    correlations are not attenuated by the coarse categories. The polychoric matrix is
    lavaan's two-step ``lavCor`` estimate on the complete cases
    (:func:`analysis.polychoric.polychoric` with ``missing="listwise"``).
    R: ``psych::alpha(lavCor(x, ordered = names(x)))``: ``raw_alpha``, ``average_r``,
    ``alpha.drop``.

    Ordinal omega (from a one-factor categorical CFA estimated by WLSMV) is
    :func:`ordinal_omega`.

    References
    ----------
    Zumbo, B. D., Gadermann, A. M., & Zeisser, C. (2007). Ordinal versions of coefficients
    alpha and theta for Likert rating scales. *Journal of Modern Applied Statistical
    Methods*, 6, 21-29.
    """
    where = "ordinal_alpha"
    reversed_items = (reverse,) if isinstance(reverse, str) else tuple(reverse)
    data, dropped = _reliability_items(items, where)
    unknown = [r for r in reversed_items if r not in data.columns]
    if unknown:
        raise DataError(f"reverse item(s) {', '.join(map(repr, unknown))} are not among the items", where=where,
                        fix="list in reverse= only items of the scale")
    keyed = data.copy()
    for name in reversed_items:
        keyed[name] = -keyed[name]
    result = polychoric(keyed, missing="listwise", max_categories=max_categories)
    corr = result.correlation.to_numpy()
    names = list(result.correlation.columns)
    value, r_bar = _standardized_alpha(corr)
    drop_alpha, drop_r = {}, {}
    for i, name in enumerate(names):
        keep = [j for j in range(len(names)) if j != i]
        drop_alpha[name], drop_r[name] = _standardized_alpha(corr[np.ix_(keep, keep)])
    index = pd.Index(names, name="item")
    return OrdinalAlphaResult(
        ordinal_alpha=value,
        average_r=r_bar,
        n=len(data),
        k=len(names),
        n_dropped=int(dropped),
        reverse=reversed_items,
        alpha_if_deleted=pd.Series(drop_alpha, index=index, name="alpha_if_deleted", dtype=float),
        average_r_if_deleted=pd.Series(drop_r, index=index, name="average_r_if_deleted", dtype=float),
        correlation=result.correlation,
        thresholds=result.thresholds,
    )


@dataclass(frozen=True)
class OrdinalOmegaResult:
    """Omega of one ordinal scale from a one-factor categorical CFA (WLSMV).

    Attributes
    ----------
    omega_total
        Omega on the latent-response scale, :math:`(\\sum\\lambda^*)^2 / ((\\sum\\lambda^*)^2
        + \\sum(1 - \\lambda^{*2}))` with the standardized loadings :math:`\\lambda^*`.
    omega_green_yang
        Green & Yang's (2009) omega: the reliability of the observed sum score.
    standardized_loadings
        :math:`\\lambda^*` by item (``std_all`` of the WLSMV fit).
    n, k, n_dropped
        Cases used (complete on every item), items, cases dropped (listwise).
    reverse
        The items reflected before the fit.
    converged
        Whether the WLSMV fit converged.
    """

    omega_total: float
    omega_green_yang: float
    standardized_loadings: pd.Series
    n: int
    k: int
    n_dropped: int
    reverse: tuple[str, ...]
    converged: bool

    def to_frame(self) -> pd.DataFrame:
        """One row: omega_total, omega_green_yang, n, k, n_dropped, converged."""
        return pd.DataFrame([{"omega_total": self.omega_total, "omega_green_yang": self.omega_green_yang,
                              "n": self.n, "k": self.k, "n_dropped": self.n_dropped, "converged": self.converged}])


def _sum_score_covariance(thresholds: list[np.ndarray], corr: np.ndarray) -> float:
    """``sum_ij Cov(x_i, x_j)`` of items scored 0..K-1 from their latent responses with
    correlation ``corr`` cut at ``thresholds``: ``Cov(x_i, x_j) = sum_c sum_c' Phi2(tau_ic, tau_jc';
    rho_ij) - (sum_c Phi(tau_ic)) (sum_c' Phi(tau_jc'))`` (Green & Yang 2009, eq. 21), with
    ``Phi2(a, b; 1) = Phi(min(a, b))`` on the diagonal."""
    total = 0.0
    for i, ti in enumerate(thresholds):
        for j, tj in enumerate(thresholds):
            a, b = np.meshgrid(ti, tj, indexing="ij")
            r = corr[i, j]
            both = stats.norm.cdf(np.minimum(a, b)) if r >= 1.0 else bivariate_normal_cdf(a, b, np.full(a.shape, r))
            total += float(both.sum()) - float(stats.norm.cdf(ti).sum()) * float(stats.norm.cdf(tj).sum())
    return total


def ordinal_omega(items: pd.DataFrame, *, reverse: Sequence[str] | str = (),
                  max_categories: int = DEFAULT_MAX_CATEGORIES) -> OrdinalOmegaResult:
    """Ordinal omega of a scale: a one-factor CFA of the items as ordered (WLSMV).

    Parameters
    ----------
    items
        One column per item (at least 3), integer category codes; listwise deletion.
    reverse
        Reverse-keyed items, reflected first (as in :func:`ordinal_alpha`).
    max_categories
        Most categories an item may have (see :func:`analysis.polychoric.polychoric`).

    Returns
    -------
    OrdinalOmegaResult

    Raises
    ------
    DataError
        As :func:`ordinal_alpha`; an item name that is not a valid model variable name.

    Notes
    -----
    The model ``f =~ x1 + ... + xk`` is fitted by :func:`analysis.sem.fit` with
    ``ordered=`` (WLSMV, delta parameterization, so the latent responses have variance 1
    and :math:`\\theta_i = 1 - \\lambda_i^{*2}`). Omega on the latent-response scale is

    .. math:: \\omega = \\frac{(\\sum_i\\lambda^*_i)^2}{(\\sum_i\\lambda^*_i)^2 + \\sum_i(1 - \\lambda^{*2}_i)}

    the reliability of the sum of the latent responses. Green and Yang's (2009) omega is
    the reliability of the observed sum score: the variance of the sum score explained by
    the factor, :math:`\\sum_{ij}` of the item covariances implied by
    :math:`\\rho^{common}_{ij} = \\lambda^*_i\\lambda^*_j` through the thresholds, over the
    variance of the sum score implied by the sample polychoric correlations (the diagonal
    1) through the same thresholds (:func:`_sum_score_covariance`). R:
    ``lavaan::cfa(model, x, ordered = items, estimator = "WLSMV", std.lv = TRUE)`` and
    ``semTools::compRelSEM(fit)`` (``obs.var = TRUE``).

    References
    ----------
    Green, S. B., & Yang, Y. (2009). Reliability of summed item scores using structural
    equation modeling: An alternative to coefficient alpha. *Psychometrika*, 74, 155-167.
    """
    where = "ordinal_omega"
    reversed_items = (reverse,) if isinstance(reverse, str) else tuple(reverse)
    data, dropped = _reliability_items(items, where, min_items=3)
    unknown = [r for r in reversed_items if r not in data.columns]
    if unknown:
        raise DataError(f"reverse item(s) {', '.join(map(repr, unknown))} are not among the items", where=where,
                        fix="list in reverse= only items of the scale")
    bad = [c for c in data.columns if not _MODEL_NAME.match(str(c))]
    if bad:
        raise DataError(f"item name(s) {', '.join(map(repr, bad))} are not valid model variable names",
                        where=where, fix="rename the columns to letters, digits and underscores")
    keyed = data.copy()
    for name in reversed_items:
        keyed[name] = -keyed[name]
    names = [str(c) for c in keyed.columns]
    factor = "omega_factor"
    result = fit(f"{factor} =~ " + " + ".join(names), keyed, ordered=names, estimator="WLSMV")
    est = result.estimates
    lam = est[(est["op"] == "=~") & (est["lhs"] == factor)].set_index("rhs").loc[names, "std_all"].astype(float)
    total = float(lam.sum()) ** 2
    value = total / (total + float((1 - lam ** 2).sum()))
    stats_g = result.fitted.estimator.stats[0]
    thresholds = [np.asarray(stats_g.thresholds[v]) for v in names]
    common = np.outer(lam, lam)
    green_yang = _sum_score_covariance(thresholds, common) / _sum_score_covariance(thresholds, stats_g.correlation)
    loadings = lam.rename("std_all")
    loadings.index.name = "item"
    return OrdinalOmegaResult(float(value), float(green_yang), loadings, len(data), len(names), int(dropped),
                              reversed_items, bool(result.converged))
