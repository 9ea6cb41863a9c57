"""The NACOV of mixed ordinal and continuous indicators (lavaan ``muthen1984``).

With continuous variables among the ordered ones, lavaan's WLS statistics of a group are

    s = (thresholds of each ordered variable / mean of each continuous one, in variable order,
         variances of the continuous variables,
         vech_offdiag(COV))

where ``COV`` is the polychoric / polyserial / Pearson correlation matrix rescaled by the
continuous variables' standard deviations (a continuous-ordinal entry is ``rho sd``, a
continuous pair's the covariance). Their asymptotic covariance follows Muthén (1984), as
lavaan computes it: each case's influence on the univariate statistics is its score times
the inverse of the scores' cross-product (per variable: the thresholds; a continuous
variable's mean and variance jointly); on a correlation ``r`` it is
``(s_r - A21 IF_univariate) / A22`` with ``A21`` the cross-products of the pair's
correlation score with its scores for the univariate parameters and ``A22 = sum s_r^2``
(the outer-product approximations of the Hessians). The correlations of the continuous
variables are then carried to covariances by the delta rule (lavaan's ``H``):
``d(r s_i s_j) = s_i s_j dr + r s_j / (2 s_i) dv_i + r s_i / (2 s_j) dv_j``. ``Gamma = N
sum_i IF_i IF_i'``, N times the asymptotic covariance of the statistics.

The ordinal-ordinal influences are those of :mod:`analysis.polychoric_se`; the
polyserial scores are lavaan's ``lav_bvmix_cor_scores``, the bivariate normal ones
``lav_bvreg_cor_scores`` (derivatives of the bivariate log-likelihood by the correlation,
means, variances and thresholds).

References
----------
Muthén, B. (1984). A general structural equation model with dichotomous, ordered
categorical, and continuous latent variable indicators. *Psychometrika*, 49, 115-132.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from analysis.bivariate_normal import normal_pdf
from analysis.polychoric_se import _influence_tables, _threshold_scores


def mixed_statistics(values: np.ndarray, ordered: np.ndarray, corr: np.ndarray,
                     thresholds: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(s, Gamma, COV)`` of complete data with ordered and continuous columns.

    Parameters
    ----------
    values
        N x p complete data (ordered columns as category codes 0..K-1).
    ordered
        p booleans.
    corr
        The two-step correlation matrix (:func:`analysis.polychoric.polychoric`).
    thresholds
        Column -> thresholds of the ordered columns.
    """
    n, p = values.shape
    num = np.flatnonzero(~ordered)
    mean = values[:, num].mean(axis=0)
    var = values[:, num].var(axis=0)
    sd_all = np.ones(p)
    sd_all[num] = np.sqrt(var)
    # ------------------------------------------------ univariate influences
    first_if: list[np.ndarray] = []
    var_if = np.zeros((n, len(num)))
    uni_scores: dict[int, np.ndarray] = {}
    uni_inverse: dict[int, np.ndarray] = {}
    z_of: dict[int, np.ndarray] = {}
    for j in range(p):
        if ordered[j]:
            codes = values[:, j].astype(int)
            sc = _threshold_scores(thresholds[j])
            counts = np.bincount(codes, minlength=len(thresholds[j]) + 1).astype(float)
            inv = np.linalg.inv(sc.T @ (sc * counts[:, None]))
            uni_scores[j], uni_inverse[j] = sc, inv
            first_if.append(sc[codes] @ inv)
        else:
            k = int(np.searchsorted(num, j))
            yc = values[:, j] - mean[k]
            v = var[k]
            z_of[j] = yc / np.sqrt(v)
            s = np.column_stack([yc / v, -0.5 / v + yc * yc / (2 * v * v)])
            infl = s @ np.linalg.inv(s.T @ s)
            first_if.append(infl[:, :1])
            var_if[:, k] = infl[:, 1]
    iu = np.triu_indices(p, 1)
    pair_if = np.zeros((n, len(iu[0])))
    for x, (a, b) in enumerate(zip(*iu, strict=True)):
        rho = corr[a, b]
        if ordered[a] and ordered[b]:
            ca, cb = values[:, a].astype(int), values[:, b].astype(int)
            ka, kb = len(thresholds[a]) + 1, len(thresholds[b]) + 1
            k = max(ka, kb)
            table = np.bincount(ca * k + cb, minlength=k * k).reshape(1, k, k).astype(float)
            ext_a = np.full((1, k + 1), np.inf)
            ext_b = np.full((1, k + 1), np.inf)
            ext_a[0, 0] = ext_b[0, 0] = -np.inf
            ext_a[0, 1:ka] = thresholds[a]
            ext_b[0, 1:kb] = thresholds[b]
            sa = np.zeros((1, k, k - 1))
            sb = np.zeros((1, k, k - 1))
            ia = np.zeros((1, k - 1, k - 1))
            ib = np.zeros((1, k - 1, k - 1))
            sa[0, :ka, :ka - 1], ia[0, :ka - 1, :ka - 1] = uni_scores[a], uni_inverse[a]
            sb[0, :kb, :kb - 1], ib[0, :kb - 1, :kb - 1] = uni_scores[b], uni_inverse[b]
            u = _influence_tables(table, ext_a, ext_b, np.array([rho]), sa, ia, sb, ib)[0]
            pair_if[:, x] = u[ca, cb]
            continue
        if ordered[a] != ordered[b]:  # polyserial (lavaan lav_bvmix_cor_scores)
            c, o = (b, a) if ordered[a] else (a, b)
            z, codes = z_of[c], values[:, o].astype(int)
            ext = np.concatenate([[-np.inf], thresholds[o], [np.inf]])
            r = np.sqrt(1 - rho * rho)
            up, lo = (ext[codes + 1] - rho * z) / r, (ext[codes] - rho * z) / r
            dup, dlo = normal_pdf(np.where(np.isfinite(up), up, 0.0)), normal_pdf(np.where(np.isfinite(lo), lo, 0.0))
            dup, dlo = np.where(np.isfinite(up), dup, 0.0), np.where(np.isfinite(lo), dlo, 0.0)
            prob = np.maximum(special.ndtr(up) - special.ndtr(lo), np.finfo(float).eps)
            k = int(np.searchsorted(num, c))
            v = var[k]
            s_rho = ((dup * (np.where(np.isfinite(up), ext[codes + 1], 0.0) * rho - z))
                     - (dlo * (np.where(np.isfinite(lo), ext[codes], 0.0) * rho - z))) / (r ** 3 * prob)
            d_mu = (z + (rho / r) * (dup - dlo) / prob) / np.sqrt(v)
            d_var = ((z * z - 1) + (rho * z / r) * (dup - dlo) / prob) / (2 * v)
            n_t = len(thresholds[o])
            d_th = np.zeros((n, n_t))
            rows = np.arange(n)
            upper, lower = codes < n_t, codes > 0
            d_th[rows[upper], codes[upper]] += dup[upper] / (r * prob[upper])
            d_th[rows[lower], codes[lower] - 1] -= dlo[lower] / (r * prob[lower])
            adj = (s_rho @ d_mu) * first_if[c][:, 0] + (s_rho @ d_var) * var_if[:, k] + first_if[o] @ (d_th.T @ s_rho)
        else:  # two continuous variables (lavaan lav_bvreg_cor_scores)
            ka, kb = int(np.searchsorted(num, a)), int(np.searchsorted(num, b))
            za, zb = z_of[a], z_of[b]
            va, vb = var[ka], var[kb]
            r2 = 1 - rho * rho
            q = za * za - 2 * rho * za * zb + zb * zb
            s_rho = rho / r2 + za * zb / r2 - q * rho / (r2 * r2)
            d_mu_a = (za - rho * zb) / (np.sqrt(va) * r2)
            d_mu_b = (zb - rho * za) / (np.sqrt(vb) * r2)
            d_var_a = -(0.5 / va - (za * za - rho * za * zb) / (2 * va * r2))
            d_var_b = -(0.5 / vb - (zb * zb - rho * za * zb) / (2 * vb * r2))
            adj = ((s_rho @ d_mu_a) * first_if[a][:, 0] + (s_rho @ d_mu_b) * first_if[b][:, 0]
                   + (s_rho @ d_var_a) * var_if[:, ka] + (s_rho @ d_var_b) * var_if[:, kb])
        pair_if[:, x] = (s_rho - adj) / float(s_rho @ s_rho)
    # ------------------------------------------------ correlations -> covariances (delta rule)
    a_idx, b_idx = iu
    pair_if = pair_if * (sd_all[a_idx] * sd_all[b_idx])
    for x, (a, b) in enumerate(zip(a_idx, b_idx, strict=True)):
        for this, other in ((a, b), (b, a)):
            if not ordered[this]:
                k = int(np.searchsorted(num, this))
                pair_if[:, x] += corr[a, b] * sd_all[other] / (2 * sd_all[this]) * var_if[:, k]
    infl = np.hstack([*first_if, var_if, pair_if])
    cov = corr * np.outer(sd_all, sd_all)
    s = np.concatenate([np.concatenate([thresholds[j] if ordered[j] else mean[[np.searchsorted(num, j)]]
                                        for j in range(p)]), var, cov[iu]])
    return s, n * (infl.T @ infl), cov
