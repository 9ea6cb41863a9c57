"""Robust inference for DWLS (WLSMV): sandwich standard errors, the mean- and
variance-adjusted (scaled-shifted) test, and Savalei's (2021) robust CFI, TLI and RMSEA.

With ``Delta_g`` the Jacobian of the WLS statistics, ``W_g = diag(Gamma_g)^-1`` the DWLS
weights, ``Gamma_g`` lavaan's NACOV and ``f_g = n_g / N``:

* ``E = sum_g f_g Delta_g' W_g Delta_g`` (lavaan's expected information of DWLS);
* standard errors (lavaan ``se = "robust.sem"``)::

      Var(theta) = E^-1 [sum_g f_g Delta_g' W_g Gamma_g W_g Delta_g] E^-1 / (N - G)

  (``N - G``: lavaan's number of cases for a least-squares estimator, ``lav_utils_get_ntotal``;
  checked on one and two groups);

* the scaled-shifted test (lavaan ``test = "scaled.shifted"``; Asparouhov & Muthén 2010),
  with the stacked ``V = bdiag(f_g W_g)``, ``Gamma = bdiag(Gamma_g / f_g)``, ``Delta`` the
  rows of all groups and ``U = V - V Delta E^-1 Delta' V``::

      a = sqrt(df / tr[(U Gamma)^2]),   b = df - a tr(U Gamma),   T_ss = a T + b

  (``scaling_factor = 1/a``, ``shift = b``; lavaan ``lav_test_satorra_bentler``);
* Savalei's robust indices for categorical data (lavaan ``lav_fit_catml_dwls``): the ML
  discrepancy of the polychoric matrix at the DWLS estimates, ``T_ML = sum_g n_g [log|Sigma|
  + tr(R Sigma^-1) - log|R| - p]``, with its scaling ``c = k / df``, where
  ``k = tr[(I - Delta E^-1 Delta' W)' V_ML (I - Delta E^-1 Delta' W) Gamma]`` over the
  correlation part (``V_ML`` the normal-theory weights of correlations,
  ``(V_ML)_{ij,kl} = K_ik K_jl + K_il K_jk`` with ``K = Sigma^-1``), and for the baseline
  ``T_ML,0 = -sum_g n_g log|R_g|`` with ``c_0 = tr(Gamma) / df_0``.

References
----------
Asparouhov, T., & Muthén, B. (2010). Simple second order chi-square correction. Technical
appendix, Mplus.
Savalei, V. (2021). Improving fit indices in structural equation modeling with categorical
data. *Multivariate Behavioral Research*, 56(3), 390-407.
Satorra, A., & Bentler, P. M. (1994). Corrections to test statistics and standard errors in
covariance structure analysis. In *Latent variables analysis* (pp. 399-419). Sage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import linalg

from analysis.sem.dwls import DWLSEstimator
from analysis.sem.ml import inverse_pd
from analysis.sem.partable import ParameterTable
from analysis.sem.variance import identification_check


@dataclass(frozen=True)
class WLSPieces:
    """The stacked ingredients at the estimates: ``delta`` (all groups' rows), the
    weights ``v`` (``f_g W_g``, a vector), ``gamma`` (``bdiag(Gamma_g / f_g)``), the
    information ``e`` and its inverse, the row blocks of the groups and of their
    correlations."""

    delta: np.ndarray
    v: np.ndarray
    gamma: np.ndarray
    e: np.ndarray
    e_inv: np.ndarray
    blocks: tuple[slice, ...]
    corr_blocks: tuple[slice, ...]


def wls_pieces(estimator: DWLSEstimator, x: np.ndarray, table: ParameterTable) -> WLSPieces:
    """Stack ``Delta``, ``V`` and ``Gamma`` of all groups; invert ``E`` (a singular ``E``
    means the model is not identified: :func:`analysis.sem.variance.identification_check`)."""
    deltas, vs, gammas, blocks, corr_blocks = [], [], [], [], []
    start = 0
    for g, st in enumerate(estimator.stats):
        fg = estimator.weight[g]
        d = estimator.delta(x, g)
        deltas.append(d)
        vs.append(fg * st.weights)
        gammas.append(st.gamma / fg)
        blocks.append(slice(start, start + len(d)))
        corr_blocks.append(slice(start + st.n_univariate, start + len(d)))
        start += len(d)
    delta = np.vstack(deltas)
    v = np.concatenate(vs)
    e = (delta.T * v) @ delta
    identification_check(estimator.N * e, table)
    return WLSPieces(delta, v, linalg.block_diag(*gammas), e, linalg.inv(e), tuple(blocks), tuple(corr_blocks))


def sandwich_vcov(pieces: WLSPieces, n: int) -> np.ndarray:
    """``E^-1 Delta' V Gamma V Delta E^-1 / n`` (lavaan ``se = "robust.sem"``, with ``n = N - G``)."""
    vd = pieces.delta * pieces.v[:, None]
    middle = vd.T @ pieces.gamma @ vd
    return pieces.e_inv @ middle @ pieces.e_inv / n


@dataclass(frozen=True)
class ScaledShifted:
    """A scaled-shifted statistic: ``stat = a T + shift``, ``scaling_factor = 1/a``."""

    stat: float
    scaling_factor: float
    shift: float


def scaled_shifted(chisq: float, df: float, delta: np.ndarray, v: np.ndarray, gamma: np.ndarray,
                   e_inv: np.ndarray) -> ScaledShifted:
    """The mean- and variance-adjusted statistic (lavaan ``scaled.shifted``) of a model
    with Jacobian ``delta``, weights ``v`` (diagonal), ``gamma`` and inverse information
    ``e_inv``: ``U Gamma = V Gamma - V Delta E^-1 Delta' V Gamma``, ``a = sqrt(df / tr[(U
    Gamma)^2])``, ``shift = df - a tr(U Gamma)``."""
    if df <= 0:
        return ScaledShifted(float("nan"), float("nan"), float("nan"))
    vg = v[:, None] * gamma
    ug = vg - (v[:, None] * delta) @ (e_inv @ (delta.T @ vg)) if delta.shape[1] else vg
    tr1 = float(np.trace(ug))
    tr2 = float(np.sum(ug * ug.T))
    a = math.sqrt(df / tr2) if tr2 > 0 else float("nan")
    shift = df - a * tr1
    return ScaledShifted(a * chisq + shift, 1 / a, shift)


def baseline_scaled_shifted(chisq: float, df: float, pieces: WLSPieces, estimator: DWLSEstimator
                            ) -> ScaledShifted:
    """The scaled-shifted statistic of the baseline model (lavaan's independence model for
    categorical data: thresholds, means and variances free, covariances 0), whose Jacobian
    is the identity on the univariate statistics of each group and 0 on the covariances."""
    n_t = sum(st.n_univariate for st in estimator.stats)
    delta = np.zeros((len(pieces.v), n_t))
    col = 0
    for block, st in zip(pieces.blocks, estimator.stats, strict=True):
        rows = np.arange(block.start, block.start + st.n_univariate)
        delta[rows, col + np.arange(st.n_univariate)] = 1.0
        col += st.n_univariate
    e = (delta.T * pieces.v) @ delta
    return scaled_shifted(chisq, df, delta, pieces.v, pieces.gamma, np.diag(1 / np.diag(e)) if n_t else e)


@dataclass(frozen=True)
class CatMLRobust:
    """Savalei's (2021) ingredients: the ML statistic of the correlations at the DWLS
    estimates, its df and scaling ``c_hat``; the same for the baseline (``_null``)."""

    chisq: float
    df: float
    c_hat: float
    chisq_null: float
    df_null: float
    c_hat_null: float


def catml_robust(estimator: DWLSEstimator, x: np.ndarray, pieces: WLSPieces, table: ParameterTable
                 ) -> CatMLRobust:
    """lavaan ``lav_fit_catml_dwls``: NaN where a polychoric matrix is not positive definite
    (eigenvalue below ``sqrt(eps)``, lavaan's rule) or the implied one is not, and with
    free scale factors (thresholds equal across groups) or continuous variables, where
    lavaan 0.6.14 reports NA."""
    nan = float("nan")
    # lavaan's catML model drops the `|` and `~1` rows: its parameters are the others
    dropped = {r.pid for r in table.thresholds} | {r.pid for r in table.rows if r.op == "~1" and r.pid >= 0}
    df3 = float(len(estimator.iu[0]) * len(estimator.stats) - (table.npar - len(dropped)))
    df_null = float(table.baseline_df)
    tied = any(r.pid >= 0 for r in table.scales) or (table.parameterization == "theta" and any(
        r.pid >= 0 and r.lhs in table.ordered for r in table.rows if r.op == "~~" and r.lhs == r.rhs and r.group > 0))
    if tied or any(st.numeric for st in estimator.stats):
        return CatMLRobust(nan, df3, nan, nan, df_null, nan)  # lavaan: NA (continuous variables, free scales)
    t_ml, t_null = 0.0, 0.0
    v_blocks = []
    for g, st in enumerate(estimator.stats):
        r = st.correlation
        if np.linalg.eigvalsh(r)[0] < math.sqrt(np.finfo(float).eps):
            return CatMLRobust(nan, df3, nan, nan, df_null, nan)
        imp = estimator.model.implied(x, g)
        scale = estimator.model.scales(x, g, imp)
        inv = inverse_pd(scale[:, None] * imp.sigma * scale[None, :])
        if inv is None:
            return CatMLRobust(nan, df3, nan, nan, df_null, nan)
        k, logdet = inv
        p = len(r)
        logdet_r = float(np.linalg.slogdet(r)[1])
        t_ml += st.n * (logdet + float(np.sum(k * r)) - logdet_r - p)
        t_null += -st.n * logdet_r
        i, j = estimator.iu
        v_blocks.append(estimator.weight[g] * (k[np.ix_(i, i)] * k[np.ix_(j, j)] + k[np.ix_(i, j)] * k[np.ix_(j, i)]))
    rows = np.concatenate([np.arange(b.start, b.stop) for b in pieces.corr_blocks])
    delta = pieces.delta[rows]
    w = pieces.v[rows]
    gamma = pieces.gamma[np.ix_(rows, rows)]
    v_ml = linalg.block_diag(*v_blocks)
    wiu = np.eye(len(rows)) - delta @ pieces.e_inv @ (delta.T * w)
    ks = float(np.sum((wiu.T @ v_ml @ wiu) * gamma.T))
    return CatMLRobust(t_ml, df3, ks / df3 if df3 > 0 else nan, t_null, df_null,
                       float(np.trace(gamma)) / df_null if df_null > 0 else nan)
