"""Standard errors of polychoric correlations and thresholds, and lavaan's NACOV (Muthén 1984).

The two-step estimator's asymptotic covariance matrix of all thresholds and polychoric
correlations, from the casewise scores of the univariate and bivariate likelihoods,
with the same shortcut lavaan uses (Hessians approximated by the cross-products of the
scores). It is what WLSMV weights by. Used by :func:`analysis.polychoric.polychoric`
with ``se=True`` / ``gamma=True``; checked against ``lavCor(se = "standard")``.

References
----------
Muthén, B. (1984). A general structural equation model with dichotomous, ordered
categorical, and continuous latent variable indicators. *Psychometrika*, 49, 115-132.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from analysis.bivariate_normal import BivariateGrid, normal_pdf

__all__ = ["standard_errors"]


#: Cases per chunk when summing the influence rows' cross-products (lavaan's NACOV).
GAMMA_CHUNK = 50_000


def _threshold_scores(thresholds: np.ndarray) -> np.ndarray:
    """Scores of the univariate ordinal likelihood: row = category (K), column = threshold (K-1)."""
    k = len(thresholds) + 1
    ext = np.concatenate([[-np.inf], thresholds, [np.inf]])
    prob = special.ndtr(ext[1:]) - special.ndtr(ext[:-1])
    density = normal_pdf(thresholds)
    scores = np.zeros((k, k - 1))
    scores[np.arange(k - 1), np.arange(k - 1)] = density / prob[:-1]    # the threshold above the category
    scores[np.arange(1, k), np.arange(k - 1)] = -density / prob[1:]     # the threshold below it
    return scores


def _influence_tables(counts: np.ndarray, ext_a: np.ndarray, ext_b: np.ndarray, rho: np.ndarray,
                      scores_a: np.ndarray, inv_a: np.ndarray, scores_b: np.ndarray, inv_b: np.ndarray
                      ) -> np.ndarray:
    """lavaan's (Muthén 1984) linearisation of every pair's correlation, per cell of its table.

    With the case-wise scores of the correlation (:math:`s_r`) and of the two items'
    thresholds, and lavaan's outer-product approximations :math:`A_{22} = \\sum s_r^2`,
    :math:`A_{21} = \\sum s_r \\partial\\log P_r/\\partial\\tau`, :math:`A_{11}` (the threshold
    scores' cross-products), a case in cell (a, b) contributes
    :math:`U_{ab} = -A_{22}^{-1} A_{21} A_{11}^{-1} s^\\tau + s_{ab}/A_{22}`; the asymptotic
    covariance of the estimates is :math:`\\sum_r U_r U_r'`. ``scores_*`` are (P, K, K-1)
    threshold scores by category, ``inv_*`` the (P, K-1, K-1) inverses of :math:`A_{11}`.
    """
    grid = BivariateGrid(ext_a, ext_b)
    prob, dp, _ = grid.cell_terms(rho)
    observed = counts > 0
    safe = np.where(observed, np.maximum(prob, 1e-300), 1.0)
    score = np.where(observed, dp / safe, 0.0)
    q = np.where(observed, counts * score / safe, 0.0)
    shape = grid.shape
    a = np.broadcast_to(ext_a[:, :, None], shape)
    b = np.broadcast_to(ext_b[:, None, :], shape)
    r = rho[:, None, None]
    s = np.sqrt((1.0 - r) * (1.0 + r))
    fa, fb = np.isfinite(a), np.isfinite(b)
    a0, b0 = np.where(fa, a, 0.0), np.where(fb, b, 0.0)
    ga = np.where(fa, normal_pdf(a0) * special.ndtr((b - r * a0) / s), 0.0)   # dPhi2/da
    gb = np.where(fb, normal_pdf(b0) * special.ndtr((a - r * b0) / s), 0.0)   # dPhi2/db
    k = counts.shape[1]
    row_a = (ga[:, :, 1:] - ga[:, :, :-1])[:, 1:k, :]          # (P, K-1, K): threshold u, column b
    row_b = (gb[:, 1:, :] - gb[:, :-1, :])[:, :, 1:k]          # (P, K, K-1): row a, threshold v
    a21_a = (row_a * (q[:, :-1, :] - q[:, 1:, :])).sum(axis=2)
    a21_b = (row_b * (q[:, :, :-1] - q[:, :, 1:])).sum(axis=1)
    a22 = (counts * score * score).sum(axis=(1, 2))
    coef_a = -np.einsum("pu,puv->pv", a21_a, inv_a) / a22[:, None]
    coef_b = -np.einsum("pu,puv->pv", a21_b, inv_b) / a22[:, None]
    u_a = np.einsum("pkt,pt->pk", scores_a, coef_a)
    u_b = np.einsum("pkt,pt->pk", scores_b, coef_b)
    return u_a[:, :, None] + u_b[:, None, :] + score / a22[:, None, None]


def standard_errors(names: list[str], codes: np.ndarray, n_levels: np.ndarray, thresholds: dict[str, np.ndarray],
                     tables: np.ndarray, ext: np.ndarray, pairs: np.ndarray, rho: np.ndarray, fixed: np.ndarray,
                     k_max: int, *, with_gamma: bool) -> dict:
    """Standard errors of thresholds and correlations and lavaan's NACOV (complete data, all ordered)."""
    p, n = len(names), codes.shape[0]
    scores = np.zeros((p, k_max, k_max - 1))
    inverse = np.zeros((p, k_max - 1, k_max - 1))
    threshold_se = {}
    for j, name in enumerate(names):
        k = n_levels[j]
        sc = _threshold_scores(thresholds[name])
        counts = np.bincount(codes[:, j], minlength=k).astype(float)
        inv = np.linalg.inv(sc.T @ (sc * counts[:, None]))
        scores[j, :k, :k - 1] = sc
        inverse[j, :k - 1, :k - 1] = inv
        threshold_se[name] = tuple(float(v) for v in np.sqrt(np.diag(inv) * n / (n - 1)))
    live = ~fixed
    u = np.zeros(tables.shape)
    if live.any():
        a, b = pairs[live, 0], pairs[live, 1]
        u[live] = _influence_tables(tables[live].astype(float), ext[a], ext[b], rho[live],
                                    scores[a], inverse[a], scores[b], inverse[b])
    variance = np.where(live, (tables * u * u).sum(axis=(1, 2)), np.nan)
    se = np.full((p, p), np.nan)
    se[pairs[:, 0], pairs[:, 1]] = se[pairs[:, 1], pairs[:, 0]] = np.sqrt(variance * n / (n - 1))
    index = pd.Index(names, name="item")
    out: dict = {"se": pd.DataFrame(se, index=index, columns=names), "threshold_se": threshold_se, "gamma": None}
    if with_gamma:
        # sum_i s_i s_i' of each case's influence row s_i, over chunks of cases (memory bounded
        # by the chunk, not by n: a million cases with a hundred statistics would be gigabytes)
        labels = [f"{name}|t{t + 1}" for name in names for t in range(len(thresholds[name]))]
        labels += [f"{names[i]}~~{names[j]}" for i, j in pairs]
        cross = np.zeros((len(labels), len(labels)))
        pair_index = np.arange(len(pairs))[None, :]
        for start in range(0, n, GAMMA_CHUNK):
            chunk = codes[start:start + GAMMA_CHUNK]
            blocks = [scores[j][chunk[:, j], :n_levels[j] - 1] @ inverse[j][:n_levels[j] - 1, :n_levels[j] - 1]
                      for j in range(p)]
            blocks.append(u[pair_index, chunk[:, pairs[:, 0]], chunk[:, pairs[:, 1]]])
            matrix = np.hstack(blocks)
            cross += matrix.T @ matrix
        out["gamma"] = pd.DataFrame(n * cross, index=labels, columns=labels)
    return out
