"""Fit measures of an ML structural equation model, with lavaan's definitions.

Computed from the sample (or, with FIML, the EM-estimated unrestricted) moments and the
model-implied moments, so they do not depend on the optimiser that produced them.
The names are lavaan's ``fitMeasures`` names (underscores for dots).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import optimize, stats


def data_moments(p: int, p_x: int = 0, meanstructure: bool = False) -> int:
    """Number of sample moments of one group that the model must reproduce.

    ``p(p+1)/2`` variances and covariances plus ``p`` means with a mean structure, less
    those of the ``p_x`` exogenous covariates held at their sample values (fixed.x).
    """
    count = p * (p + 1) // 2 - p_x * (p_x + 1) // 2
    if meanstructure:
        count += p - p_x
    return count


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
    (lavaan ``rmsea.ci.lower`` / ``rmsea.ci.upper``).
    """
    if df <= 0:
        return 0.0, 0.0
    alpha = (1 - level) / 2

    def solve(prob: float) -> float:
        f = lambda lam: stats.ncx2.cdf(chisq, df, lam) - prob if lam > 0 else stats.chi2.cdf(chisq, df) - prob
        if f(0.0) < 0:
            return 0.0
        hi = max(chisq, 1.0)
        while f(hi) > 0:
            hi *= 2
        return optimize.brentq(f, 0.0, hi, xtol=1e-12)

    lo, up = solve(1 - alpha), solve(alpha)
    scale = df * n
    return math.sqrt(lo / scale) * math.sqrt(n_groups), math.sqrt(up / scale) * math.sqrt(n_groups)


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


def fit_measures(engine: Any, x: np.ndarray, structure: Any, npar: int, *, missing: str,
                 meanstructure: bool) -> dict[str, float]:
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
    values, :meth:`analysis.fiml.IncompleteData.loglik`, Arbuckle 1996), ``chisq = 2 (logl_h1 -
    logl)`` with ``h1`` the unrestricted model (sample moments; FIML: EM estimates);
    ``aic = -2 logl + 2 npar``, ``bic = -2 logl + npar log N``. The baseline is the
    independence model with free means and variances (exogenous covariates kept at their
    sample covariances). SRMR is averaged over groups with weights ``n_g / N``.
    """
    n_total = engine.N
    n_groups = engine.G
    p = len(structure.ov)
    p_x = len(structure.exo_x)
    x_idx = [structure.ov.index(v) for v in structure.exo_x]
    logl = logl_h1 = logl_b = 0.0
    srmr_sum = 0.0
    for g, d in enumerate(engine.data):
        sigma, mu, _ = engine.implied(x, g)
        mu_h0 = mu if meanstructure else d.mean
        logl += d.cases.loglik(mu_h0, sigma)
        logl_h1 += d.cases.loglik(d.mean, d.cov)
        if d.cases.complete:
            base = np.diag(np.diag(d.cov))
            if x_idx:
                base[np.ix_(x_idx, x_idx)] = d.cov[np.ix_(x_idx, x_idx)]
            base_mean = d.mean
        else:  # independence model under FIML: available-case ML means and variances
            base_mean, base_var = d.cases.available_case_moments()
            base = np.diag(base_var)
        logl_b += d.cases.loglik(base_mean, base)
        srmr_sum += d.n * srmr(d.cov, sigma, d.mean if meanstructure else None, mu if meanstructure else None)
    ndat = data_moments(p, p_x, meanstructure) * n_groups
    df = ndat - npar
    chisq = max(2 * (logl_h1 - logl), 0.0)
    base_df = (p * (p - 1) // 2 - p_x * (p_x - 1) // 2) * n_groups
    base_chisq = max(2 * (logl_h1 - logl_b), 0.0)
    lo, up = rmsea_ci(chisq, df, n_total, n_groups)
    return {
        "chisq": chisq,
        "df": float(df),
        "pvalue": float(stats.chi2.sf(chisq, df)) if df > 0 else float("nan"),
        "baseline_chisq": base_chisq,
        "baseline_df": float(base_df),
        "baseline_pvalue": float(stats.chi2.sf(base_chisq, base_df)) if base_df > 0 else float("nan"),
        "cfi": cfi(chisq, df, base_chisq, base_df),
        "tli": tli(chisq, df, base_chisq, base_df),
        "rmsea": rmsea(chisq, df, n_total, n_groups),
        "rmsea_ci_lower": lo,
        "rmsea_ci_upper": up,
        "srmr": srmr_sum / n_total,
        "logl": logl,
        "unrestricted_logl": logl_h1,
        "aic": -2 * logl + 2 * npar,
        "bic": -2 * logl + npar * math.log(n_total),
        "npar": float(npar),
        "nobs": float(n_total),
    }
