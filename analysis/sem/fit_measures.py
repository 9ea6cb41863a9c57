"""Fit measures of an ML structural equation model, with lavaan's definitions.

Computed from the sample (or, with FIML, the EM-estimated unrestricted) moments and the
model-implied moments, so they do not depend on the optimiser that produced them.
The names are lavaan's ``fitMeasures`` names (underscores for dots).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

from analysis.sem.ml import MLEstimator, inverse_pd
from analysis.sem.partable import ParameterTable
from analysis.sem.samplestats import GroupStats


def rmsea(chisq: float, df: float, n: int, n_groups: int = 1) -> float:
    """Root mean square error of approximation (Steiger 1990; Browne & Cudeck 1993).

    Notes
    -----
    ``sqrt(max(chisq - df, 0) / (df N)) * sqrt(G)`` with N the number of cases (not
    N - 1, as lavaan) and G groups; 0 when ``df = 0``.
    """
    if df <= 0:
        return 0.0
    return math.sqrt(max(chisq - df, 0.0) / (df * n)) * math.sqrt(n_groups)


def rmsea_ci(chisq: float, df: float, n: int, n_groups: int = 1, level: float = 0.90) -> tuple[float, float]:
    """Interval of the RMSEA from the noncentral chi-square (Browne & Cudeck 1993).

    Notes
    -----
    The bounds are ``sqrt(lambda / (df N)) sqrt(G)`` where ``lambda`` solves
    ``P(chi2_df(lambda) <= chisq) = 1 - (1 - level)/2`` (lower) and ``(1 - level)/2``
    (upper); a bound is 0 when even ``lambda = 0`` cannot reach its probability
    (lavaan ``rmsea.ci.lower`` / ``rmsea.ci.upper``). Each root is found by a
    safeguarded Newton iteration with the exact derivative
    ``dF_k(x; lambda)/d lambda = (F_{k+2}(x; lambda) - F_k(x; lambda)) / 2``, in a handful
    of evaluations of the noncentral chi-square cdf; the root is exact to ``1e-12``
    relative, as the former bracketing search.
    """
    if df <= 0:
        return 0.0, 0.0
    alpha = (1 - level) / 2
    lo, up = _ncx2_root(chisq, df, 1 - alpha), _ncx2_root(chisq, df, alpha)
    scale = df * n
    return math.sqrt(lo / scale) * math.sqrt(n_groups), math.sqrt(up / scale) * math.sqrt(n_groups)


def _ncx2_cdf(x: float, k: float, lam: float) -> float:
    return float(special.chdtr(k, x)) if lam <= 0 else float(special.chndtr(x, k, lam))


def _ncx2_root(x: float, k: float, prob: float) -> float:
    """``lambda >= 0`` with ``P(chi2_k(lambda) <= x) = prob`` (0 if the cdf at 0 is below ``prob``).

    The cdf falls monotonically in ``lambda``; Newton steps from the normal approximation
    ``lambda ~ x - k``, kept inside a bracket that every evaluation narrows (bisection when
    a step leaves it).
    """
    if _ncx2_cdf(x, k, 0.0) - prob < 0:
        return 0.0
    lo, hi = 0.0, max(x, 1.0)
    while _ncx2_cdf(x, k, hi) - prob > 0:
        lo, hi = hi, hi * 2
    lam = x - k
    if not lo < lam < hi:
        lam = 0.5 * (lo + hi)
    for _ in range(100):
        f = _ncx2_cdf(x, k, lam) - prob
        if f > 0:
            lo = lam
        else:
            hi = lam
        slope = 0.5 * (float(special.chndtr(x, k + 2, lam)) if lam > 0 else float(special.chdtr(k + 2, x))) \
            - 0.5 * (f + prob)
        new = lam - f / slope if slope < 0 else 0.5 * (lo + hi)
        if not lo < new < hi:
            new = 0.5 * (lo + hi)
        if abs(new - lam) <= 1e-12 * max(1.0, lam) or hi - lo <= 1e-12 * max(1.0, hi):
            return new
        lam = new
    return lam


def srmr(cov: np.ndarray, implied_cov: np.ndarray, mean: np.ndarray | None = None,
         implied_mean: np.ndarray | None = None) -> float:
    """Standardized root mean square residual, Bentler's definition (lavaan ``srmr``).

    Notes
    -----
    ``sqrt(sum_{i<=j} r_ij^2 / (p(p+1)/2 [+ p]))`` with ``r_ij = (s_ij - sigma_ij) /
    sqrt(s_ii s_jj)``; with a mean structure the mean residuals
    ``(m_i - mu_i) / sqrt(s_ii)`` enter as well (Bentler 1995; lavaan ``lav_fit_srmr``).
    """
    sd = np.sqrt(np.diag(cov))
    resid = (cov - implied_cov) / np.outer(sd, sd)
    iu = np.triu_indices(len(sd))
    ss = float(np.sum(resid[iu] ** 2))
    count = len(iu[0])
    if mean is not None and implied_mean is not None:
        ss += float(np.sum(((mean - implied_mean) / sd) ** 2))
        count += len(sd)
    return math.sqrt(ss / count)


def cfi(chisq: float, df: float, baseline_chisq: float, baseline_df: float) -> float:
    """Comparative fit index (Bentler 1990), cut to [0, 1] as in lavaan.

    ``1 - max(chisq - df, 0) / max(chisq_b - df_b, chisq - df, 0)``.
    """
    num = max(chisq - df, 0.0)
    den = max(baseline_chisq - baseline_df, chisq - df, 0.0)
    return 1.0 if den == 0 else 1 - num / den


def tli(chisq: float, df: float, baseline_chisq: float, baseline_df: float) -> float:
    """Tucker-Lewis index (non-normed fit index; Tucker & Lewis 1973), as lavaan.

    ``(chisq_b/df_b - chisq/df) / (chisq_b/df_b - 1)``; 1 when ``df = 0``.
    """
    if df <= 0 or baseline_df <= 0:
        return 1.0
    t1 = baseline_chisq / baseline_df - chisq / df
    t2 = baseline_chisq / baseline_df - 1
    if t1 < 0 and t2 < 0:
        return 1.0
    return t1 / t2


def loglik(d: GroupStats, mu: np.ndarray, sigma: np.ndarray) -> float:
    """Normal log-likelihood of one group: casewise with missing values
    (:meth:`analysis.sem.casewise.IncompleteData.loglik`), else from the sample moments
    ``-n/2 [p log 2 pi + log|Sigma| + tr(Sigma^-1 S) + (m - mu)' Sigma^-1 (m - mu)]``."""
    if d.cases is not None:
        return d.cases.loglik(mu, sigma)
    inv = inverse_pd(sigma)
    if inv is None:
        return float("-inf")
    k, logdet = inv
    e = d.mean - mu
    p = len(mu)
    return -0.5 * d.n * (p * math.log(2 * math.pi) + logdet + float(np.sum(k * d.cov)) + float(e @ k @ e))


def saturated_loglik(n: int, cov: np.ndarray) -> float:
    """The saturated normal logl of ``n`` cases with ML covariance ``cov``:
    ``-n/2 (p log 2 pi + log|S| + p)`` (the part of the joint logl that fixed.x conditions out)."""
    p = cov.shape[0]
    return -0.5 * n * (p * math.log(2 * math.pi) + float(np.linalg.slogdet(cov)[1]) + p)


def fit_measures(estimator: MLEstimator, x: np.ndarray, table: ParameterTable) -> dict[str, float]:
    """All fit measures of a fitted model (lavaan ``fitMeasures``).

    Returns
    -------
    dict
        ``chisq, df, pvalue, baseline_chisq, baseline_df, baseline_pvalue, cfi, tli,
        rmsea, rmsea_ci_lower, rmsea_ci_upper, srmr, logl, unrestricted_logl, aic, bic,
        npar, nobs``.

    Notes
    -----
    ``logl`` is the full log-likelihood of the model (all groups; casewise with missing
    values, :meth:`analysis.sem.casewise.IncompleteData.loglik`, Arbuckle 1996), ``chisq = 2 (logl_h1 -
    logl)`` with ``h1`` the unrestricted model (sample moments; FIML: EM estimates);
    ``aic = -2 logl + 2 npar``, ``bic = -2 logl + npar log N``. The baseline is the
    independence model with free means and variances (exogenous covariates kept at their
    sample covariances). SRMR is averaged over groups with weights ``n_g / N``. ``npar``,
    ``df`` and the baseline df come from the parameter table
    (:class:`analysis.sem.partable.ParameterTable`).
    """
    structure, meanstructure, npar = table.structure, table.meanstructure, table.npar
    n_total = estimator.N
    n_groups = table.n_groups
    x_idx = [structure.ov.index(v) for v in structure.exo_x]
    fixed_idx = [structure.ov.index(v) for v in table.fixed_exo]
    logl = logl_h1 = logl_b = 0.0
    srmr_sum = 0.0
    for g, d in enumerate(estimator.sample):
        imp = estimator.model.implied(x, g)
        sigma, mu = imp.sigma, imp.mu
        mu_h0 = mu if meanstructure else d.mean
        # fixed.x: conditional on the covariates, less their own saturated normal logl
        logl_x = saturated_loglik(d.n, d.cov[np.ix_(fixed_idx, fixed_idx)]) if fixed_idx else 0.0
        logl += loglik(d, mu_h0, sigma) - logl_x
        logl_h1 += loglik(d, d.mean, d.cov) - logl_x
        if d.cases is None:
            base = np.diag(np.diag(d.cov))
            if x_idx:
                base[np.ix_(x_idx, x_idx)] = d.cov[np.ix_(x_idx, x_idx)]
            base_mean = d.mean
        else:  # independence model under FIML: available-case ML means and variances
            base_mean, base_var = d.cases.available_case_moments()
            base = np.diag(base_var)
            if x_idx:  # the covariates keep their (EM = complete-case) covariances and means
                base[np.ix_(x_idx, x_idx)] = d.cov[np.ix_(x_idx, x_idx)]
                base_mean = base_mean.copy()
                base_mean[x_idx] = d.mean[x_idx]
        logl_b += loglik(d, base_mean, base) - logl_x
        srmr_sum += d.n * srmr(d.cov, sigma, d.mean if meanstructure else None, mu if meanstructure else None)
    df = table.df
    chisq = max(2 * (logl_h1 - logl), 0.0)
    base_df = table.baseline_df
    base_chisq = max(2 * (logl_h1 - logl_b), 0.0)
    return {**likelihood_measures(chisq=chisq, df=df, baseline_chisq=base_chisq, baseline_df=base_df,
                                  logl=logl, logl_h1=logl_h1, npar=npar, n=n_total, n_groups=n_groups),
            "srmr": srmr_sum / n_total}


def likelihood_measures(*, chisq: float, df: int, baseline_chisq: float, baseline_df: int, logl: float,
                        logl_h1: float, npar: int, n: int, n_groups: int = 1) -> dict[str, float]:
    """The fit measures that follow from the likelihoods and counts, with lavaan's names:
    chisq, df, pvalue, the baseline's, cfi, tli, rmsea with its 90% interval, logl,
    unrestricted_logl, aic (-2 logl + 2 npar), bic (-2 logl + npar log n), npar, nobs.
    Shared by single-level (:func:`fit_measures`) and two-level models."""
    lo, up = rmsea_ci(chisq, df, n, n_groups)
    return {
        "chisq": chisq,
        "df": float(df),
        "pvalue": float(stats.chi2.sf(chisq, df)) if df > 0 else float("nan"),
        "baseline_chisq": baseline_chisq,
        "baseline_df": float(baseline_df),
        "baseline_pvalue": float(stats.chi2.sf(baseline_chisq, baseline_df)) if baseline_df > 0 else float("nan"),
        "cfi": cfi(chisq, df, baseline_chisq, baseline_df),
        "tli": tli(chisq, df, baseline_chisq, baseline_df),
        "rmsea": rmsea(chisq, df, n, n_groups),
        "rmsea_ci_lower": lo,
        "rmsea_ci_upper": up,
        "logl": logl,
        "unrestricted_logl": logl_h1,
        "aic": -2 * logl + 2 * npar,
        "bic": -2 * logl + npar * math.log(n),
        "npar": float(npar),
        "nobs": float(n),
    }
