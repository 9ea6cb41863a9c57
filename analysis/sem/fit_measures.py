"""Fit measures of an ML structural equation model, with lavaan's definitions.

Computed from the sample (or, with FIML, the EM-estimated unrestricted) moments and the
model-implied moments, so they do not depend on the optimiser that produced them.
The names are lavaan's ``fitMeasures`` names (underscores for dots).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

from analysis.sem.dwls import DWLSEstimator
from analysis.sem.ml import MLEstimator, inverse_pd
from analysis.sem.partable import ParameterTable
from analysis.sem.robust import WLSPieces, baseline_scaled_shifted, catml_robust, scaled_shifted
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
    (upper); a bound is 0 when even ``lambda = 0`` cannot reach its probability, both are 0
    when ``df < 1`` (lavaan ``lav_fit_rmsea_ci``: ``rmsea.ci.lower`` / ``rmsea.ci.upper``). Each root is found by a
    safeguarded Newton iteration with the exact derivative
    ``dF_k(x; lambda)/d lambda = (F_{k+2}(x; lambda) - F_k(x; lambda)) / 2``, in a handful
    of evaluations of the noncentral chi-square cdf; the root is exact to ``1e-12``
    relative, as the former bracketing search.
    """
    if df < 1:  # lavaan: no interval below one degree of freedom (a scaled df may be fractional)
        return 0.0, 0.0
    alpha = (1 - level) / 2
    lo, up = _ncx2_root(chisq, df, 1 - alpha), _ncx2_root(chisq, df, alpha)
    scale = df * n
    return math.sqrt(lo / scale) * math.sqrt(n_groups), math.sqrt(up / scale) * math.sqrt(n_groups)


def robust_rmsea(chisq: float, df: float, c_hat: float, n: int, n_groups: int = 1) -> tuple[float, float, float]:
    """Robust RMSEA and its 90% interval: ``(rmsea, ci_lower, ci_upper)`` (lavaan ``lav_fit_rmsea``
    and ``lav_fit_rmsea_ci`` with ``c.hat``).

    Notes
    -----
    ``sqrt(max(T / (N df) - c / N, 0)) sqrt(G)`` with ``T`` the unscaled statistic and ``c`` its
    scaling (Brosseau-Liard, Savalei & Li 2012; for categorical data Savalei 2021); the interval
    is that of the RMSEA of ``T / c`` (:func:`rmsea_ci`) times ``sqrt(c)``. NaN if ``T``, ``c``
    or ``df`` is NaN or ``df <= 0``.
    """
    if any(math.isnan(v) for v in (chisq, df, c_hat)) or df <= 0:
        return float("nan"), float("nan"), float("nan")
    lo, up = rmsea_ci(chisq / c_hat, df, n, n_groups)
    value = math.sqrt(max(chisq / (n * df) - c_hat / n, 0.0)) * math.sqrt(n_groups)
    return value, math.sqrt(c_hat) * lo, math.sqrt(c_hat) * up


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


def cfi(chisq: float, df: float, baseline_chisq: float, baseline_df: float, *, c_hat: float = 1.0,
        c_hat_null: float = 1.0) -> float:
    """Comparative fit index (Bentler 1990), cut to [0, 1] as in lavaan.

    ``1 - max(chisq - c df, 0) / max(chisq_b - c_0 df_b, chisq - c df, 0)``; ``c = c_0 = 1``
    except for Savalei's (2021) robust CFI of categorical data (lavaan ``lav_fit_cfi`` with
    ``c.hat``, ``c.hat.null``; used only when both differ from 1). NaN if an input is NaN.
    """
    if any(math.isnan(v) for v in (chisq, df, baseline_chisq, baseline_df, c_hat, c_hat_null)):
        return float("nan")
    if not (df > 0 and c_hat != 1 and c_hat_null != 1):
        c_hat = c_hat_null = 1.0
    num = max(chisq - c_hat * df, 0.0)
    den = max(baseline_chisq - c_hat_null * baseline_df, chisq - c_hat * df, 0.0)
    return 1.0 if den == 0 else 1 - num / den


def tli(chisq: float, df: float, baseline_chisq: float, baseline_df: float, *, c_hat: float = 1.0,
        c_hat_null: float = 1.0) -> float:
    """Tucker-Lewis index (non-normed fit index; Tucker & Lewis 1973), as lavaan.

    ``1 - (chisq - c df) df_b / ((chisq_b - c_0 df_b) df)``, i.e. ``(chisq_b/df_b - chisq/df) /
    (chisq_b/df_b - 1)`` with ``c = c_0 = 1``; 1 when ``df = 0``. ``c_hat``/``c_hat_null`` as in
    :func:`cfi` (lavaan ``lav_fit_tli``).
    """
    if any(math.isnan(v) for v in (chisq, df, baseline_chisq, baseline_df, c_hat, c_hat_null)):
        return float("nan")
    if df <= 0 or baseline_df <= 0:
        return 1.0
    if c_hat != 1 and c_hat_null != 1:
        t1 = (chisq - c_hat * df) * baseline_df
        t2 = (baseline_chisq - c_hat_null * baseline_df) * df
        return 1 - t1 / t2 if t2 != 0 else 1.0
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


def wls_fit_measures(estimator: DWLSEstimator, x: np.ndarray, table: ParameterTable,
                     pieces: WLSPieces) -> dict[str, float]:
    """Fit measures of a WLSMV fit (lavaan ``fitMeasures`` of ``estimator = "WLSMV"``).

    Returns
    -------
    dict
        ``chisq`` (``sum_g (n_g - 1) F_DWLS,g``, lavaan's ``0.5 (n - 1)/n`` factor of the
        least-squares discrepancies in ``lav_model_objective``), ``df``, ``pvalue``, the baseline's (thresholds free,
        correlations 0: ``sum_g n_g sum_r w_r r^2``), ``cfi``, ``tli``, ``rmsea`` (+ 90%
        interval) from them; the scaled-shifted ``chisq_scaled``, ``df_scaled``,
        ``pvalue_scaled``, ``chisq_scaling_factor``, ``chisq_shift_parameter``,
        ``baseline_chisq_scaled``, ``baseline_df_scaled``, ``cfi_scaled``, ``tli_scaled``,
        ``rmsea_scaled`` (+ interval) from those (:mod:`analysis.sem.robust`);
        ``cfi_robust``, ``tli_robust``, ``rmsea_robust`` (+ interval) after Savalei (2021)
        (:func:`analysis.sem.robust.catml_robust`); ``srmr`` on the correlations only
        (lavaan's ``srmr_bentler_nomean``); ``logl``, ``unrestricted_logl``, ``aic``,
        ``bic`` NaN (no likelihood); ``npar``, ``nobs``.

    Notes
    -----
    The RMSEAs use ``N - G`` cases (lavaan's ``lav_utils_get_ntotal`` for a non-ML estimator).
    Robust RMSEA: :func:`robust_rmsea` of ``T_ML`` with ``c``. Robust CFI/TLI:
    :func:`cfi`, :func:`tli` of ``T_ML`` and ``T_ML,0`` with ``c`` and ``c_0``.
    """
    n_groups, df, base_df = table.n_groups, float(table.df), float(table.baseline_df)
    n = estimator.N - n_groups  # lavaan's N for the RMSEA of a least-squares estimator (lav_utils_get_ntotal)
    chisq = base = srmr_sum = 0.0
    for g, st in enumerate(estimator.stats):
        imp = estimator.model.implied(x, g)
        e = st.s - estimator.implied_statistics(x, g, imp)
        chisq += (st.n - 1) * float(e @ (st.weights * e))
        r = st.s[st.n_univariate:]
        base += (st.n - 1) * float(r @ (st.weights[st.n_univariate:] * r))
        scale = estimator.model.scales(x, g, imp)
        sample = st.correlation if st.cov is None else st.cov
        srmr_sum += st.n * srmr(sample, scale[:, None] * imp.sigma * scale[None, :])  # implied Delta Sigma Delta
    out = likelihood_measures(chisq=chisq, df=int(df), baseline_chisq=base, baseline_df=int(base_df),
                              logl=float("nan"), logl_h1=float("nan"), npar=table.npar, n=n, n_groups=n_groups)
    for key in ("logl", "unrestricted_logl", "aic", "bic"):
        out[key] = float("nan")
    out["nobs"] = float(estimator.N)
    scaled = scaled_shifted(chisq, df, pieces.delta, pieces.v, pieces.gamma, pieces.e_inv)
    base_scaled = baseline_scaled_shifted(base, base_df, pieces, estimator)
    lo, up = rmsea_ci(scaled.stat, df, n, n_groups)
    out.update({
        "chisq_scaled": scaled.stat, "df_scaled": df,
        "pvalue_scaled": float(stats.chi2.sf(scaled.stat, df)) if df > 0 else float("nan"),
        "chisq_scaling_factor": scaled.scaling_factor, "chisq_shift_parameter": scaled.shift,
        "baseline_chisq_scaled": base_scaled.stat, "baseline_df_scaled": base_df,
        "baseline_pvalue_scaled": float(stats.chi2.sf(base_scaled.stat, base_df)),
        "baseline_chisq_scaling_factor": base_scaled.scaling_factor,
        "cfi_scaled": cfi(scaled.stat, df, base_scaled.stat, base_df),
        "tli_scaled": tli(scaled.stat, df, base_scaled.stat, base_df),
        "rmsea_scaled": rmsea(scaled.stat, df, n, n_groups), "rmsea_ci_lower_scaled": lo,
        "rmsea_ci_upper_scaled": up,
    })
    ml = catml_robust(estimator, x, pieces, table)
    out["cfi_robust"] = cfi(ml.chisq, df, ml.chisq_null, ml.df_null, c_hat=ml.c_hat, c_hat_null=ml.c_hat_null)
    out["tli_robust"] = tli(ml.chisq, df, ml.chisq_null, ml.df_null, c_hat=ml.c_hat, c_hat_null=ml.c_hat_null)
    out["rmsea_robust"], out["rmsea_ci_lower_robust"], out["rmsea_ci_upper_robust"] = robust_rmsea(
        ml.chisq, ml.df, ml.c_hat, n, n_groups)
    out["srmr"] = srmr_sum / estimator.N
    return out


def yuan_bentler_mplus(chisq: float, df: float, trace_ugamma: float) -> dict[str, float]:
    """The Yuan-Bentler scaled test of an ML fit (lavaan ``test = "yuan.bentler.mplus"``,
    MLR's default; lavaan ``lav_test_yuan_bentler``).

    Parameters
    ----------
    chisq, df
        The likelihood-ratio statistic against the unrestricted (h1) model and its df.
    trace_ugamma
        ``tr(A_1^-1 B_1) - tr(A_0^-1 B_0)`` (lavaan's ``trace.UGamma``): ``A`` the observed
        and ``B`` the first-order information of the unrestricted model (1) and of the
        fitted model (0), each at its own ML estimates.

    Returns
    -------
    dict
        ``stat = chisq / c``, ``df``, ``scaling_factor = c = trace_ugamma / df`` and ``pvalue``
        of ``stat`` on ``df`` (Yuan & Bentler 2000; Asparouhov & Muthén 2005); all NaN but
        ``df`` when ``df <= 0``.
    """
    if df <= 0:
        return {"stat": float("nan"), "df": float(df), "scaling_factor": float("nan"), "pvalue": float("nan")}
    c = trace_ugamma / df
    stat = chisq / c
    return {"stat": stat, "df": float(df), "scaling_factor": c, "pvalue": float(stats.chi2.sf(stat, df))}


def mlr_fit_measures(*, chisq: float, df: float, trace_ugamma: float, baseline_chisq: float, baseline_df: float,
                     baseline_trace_ugamma: float, n: int, robust: bool = True) -> dict[str, float]:
    """The scaled and robust fit measures of an MLR fit (lavaan ``fitMeasures`` with
    ``test = "yuan.bentler.mplus"``: ``lav_fit_cfi_lavobject``, ``lav_fit_rmsea_lavobject``,
    lavaan 0.6.14); two-level models (:func:`analysis.sem.twolevel.fit_twolevel`).

    Parameters
    ----------
    chisq, df, trace_ugamma
        The model's likelihood-ratio statistic, df and ``trace.UGamma``
        (:func:`yuan_bentler_mplus`).
    baseline_chisq, baseline_df, baseline_trace_ugamma
        The same for the baseline (independence) model, whose scaled test is computed the
        same way against the same unrestricted model (NaN ``baseline_trace_ugamma``: no
        scaled baseline test, and so NaN scaled and robust CFI/TLI).
    n
        The number of cases (lavaan ``lav_utils_get_ntotal``: ``N`` for ML).
    robust
        False gives NaN robust indices: lavaan 0.6.14 with ``missing = "ml"`` takes them from
        ``lav_fit_fiml_corrected``, which returns NA for multilevel models.

    Returns
    -------
    dict
        ``chisq_scaled``, ``df_scaled``, ``chisq_scaling_factor``, ``pvalue_scaled`` (``T/c``);
        ``baseline_chisq_scaled``, ``baseline_df_scaled``, ``baseline_pvalue_scaled``,
        ``baseline_chisq_scaling_factor`` (``T_0/c_0``); ``cfi_scaled``, ``tli_scaled``
        (:func:`cfi`, :func:`tli` of ``T/c`` and ``T_0/c_0``); ``rmsea_scaled``,
        ``rmsea_ci_lower_scaled``, ``rmsea_ci_upper_scaled``; ``cfi_robust``, ``tli_robust``,
        ``rmsea_robust``, ``rmsea_ci_lower_robust``, ``rmsea_ci_upper_robust``.

    Notes
    -----
    With ``c`` and ``c_0`` the scaling factors of the model and of the baseline:

    * scaled RMSEA: lavaan refers the *unscaled* ``T`` to ``tr(U Gamma) = c df`` for the
      Yuan-Bentler test (not the scaled ``T/c`` to ``df``),
      ``sqrt(max(T - c df, 0) / (c df N))`` = ``sqrt(max(T/c - df, 0) / (c df N))``, its
      interval :func:`rmsea_ci` of ``T`` on ``c df`` degrees of freedom;
    * robust CFI ``1 - max(T - c df, 0) / max(T - c df, T_0 - c_0 df_0, 0)`` and robust TLI
      ``1 - (T - c df) df_0 / ((T_0 - c_0 df_0) df)`` (Brosseau-Liard & Savalei 2014, eq. 15;
      :func:`cfi`, :func:`tli` with ``c_hat``, ``c_hat_null``);
    * robust RMSEA ``sqrt(max(T / (N df) - c / N, 0))`` (Brosseau-Liard, Savalei & Li 2012;
      :func:`robust_rmsea`).

    References
    ----------
    Brosseau-Liard, P. E., Savalei, V., & Li, L. (2012). An investigation of the sample
    performance of two nonnormality corrections for RMSEA. *Multivariate Behavioral Research*,
    47(6), 904-930.
    Brosseau-Liard, P. E., & Savalei, V. (2014). Adjusting incremental fit indices for
    nonnormality. *Multivariate Behavioral Research*, 49(5), 460-470.
    """
    nan = float("nan")
    model = yuan_bentler_mplus(chisq, df, trace_ugamma)
    base = yuan_bentler_mplus(baseline_chisq, baseline_df, baseline_trace_ugamma)
    c, c0 = model["scaling_factor"], base["scaling_factor"]
    df_ugamma = trace_ugamma if math.isfinite(trace_ugamma) and trace_ugamma != 0 else nan
    lo, up = rmsea_ci(chisq, df_ugamma, n) if not math.isnan(df_ugamma) else (nan, nan)
    out = {
        "chisq_scaled": model["stat"], "df_scaled": model["df"], "chisq_scaling_factor": c,
        "pvalue_scaled": model["pvalue"],
        "baseline_chisq_scaled": base["stat"], "baseline_df_scaled": base["df"],
        "baseline_pvalue_scaled": base["pvalue"], "baseline_chisq_scaling_factor": c0,
        "cfi_scaled": cfi(model["stat"], df, base["stat"], baseline_df),
        "tli_scaled": tli(model["stat"], df, base["stat"], baseline_df),
        "rmsea_scaled": rmsea(chisq, df_ugamma, n) if not math.isnan(df_ugamma) else nan,
        "rmsea_ci_lower_scaled": lo, "rmsea_ci_upper_scaled": up,
    }
    if robust:
        rob = robust_rmsea(chisq, df, c, n)
        out.update({"cfi_robust": cfi(chisq, df, baseline_chisq, baseline_df, c_hat=c, c_hat_null=c0),
                    "tli_robust": tli(chisq, df, baseline_chisq, baseline_df, c_hat=c, c_hat_null=c0)})
    else:
        rob = (nan, nan, nan)
        out.update({"cfi_robust": nan, "tli_robust": nan})
    out["rmsea_robust"], out["rmsea_ci_lower_robust"], out["rmsea_ci_upper_robust"] = rob
    return out
