"""The sufficient statistics and the normal log-likelihood of two-level data.

Used by :mod:`analysis.sem.twolevel`. Every observed variable of the model is *split*
(a within part and a between part) or *between-only* (one value per cluster). The split
variables may come in **sides**: disjoint sets of variables observed on disjoint sets of
rows, as when the employees and the customers of the same units answer different
surveys (stacked, each side's rows missing the other side's variables by design). With
one side this is lavaan's complete-data two-level likelihood (``lav_mvnorm_cluster``);
with several it is the two-level FIML likelihood of that missing-data pattern, in closed
form: nobody answers two sides, so a side's within deviations are independent of the
others' and of the cluster means, and the within covariance between sides never enters.

For cluster ``j`` with ``n_sj`` rows on side ``s`` and cluster vector
``u_j = (ybar_1j, ..., ybar_Sj, z_j)`` (side means, then the between-only values)::

    logl = sum_s [ -(N_s - J)/2 (p_s log 2 pi + log|S_W,ss|) - tr(S_W,ss^-1 W_s)/2 ]
           - J q/2 log 2 pi - sum_j sum_s p_s/2 log n_sj
           + sum_j [ -log|V_j|/2 - (u_j - mu)' V_j^-1 (u_j - mu)/2 ]
    V_j  = S_B + blockdiag(S_W,11 / n_1j, ..., S_W,SS / n_Sj, 0)

with ``W_s`` the pooled within-cluster SSCP of side ``s`` and ``N_s`` its rows. Clusters
with the same sizes share one factorisation of ``V_j``. References: Muthén (1990);
McDonald & Goldstein (1989); for linked samples in units, Lüdtke et al. (2008) and Marsh et
al. (2009) (latent aggregation); lavaan fits the same model with ``missing = "ml"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize

from analysis.sem.ml import inverse_pd

__all__ = ["ClusterStats", "cluster_scores", "em_saturated", "fit_blocks", "loglik", "robust_trace"]


class Sides:
    """What the two-level statistics classes share: the level-1 variables' sides (``side_of``,
    ``n_side`` rows per side) and the number of clusters ``J``."""

    J: int
    side_of: np.ndarray
    n_side: np.ndarray

    @property
    def n_sides(self) -> int:
        """Number of sides (1, or 2 for samples stacked by design)."""
        return len(self.n_side)

    def within_df(self) -> np.ndarray:
        """Per level-1 variable, the within degrees of freedom of its side, ``N_s - J``."""
        return (self.n_side - self.J)[self.side_of]

    def side_blocks(self) -> list[np.ndarray]:
        """The level-1 variables' indices, side by side."""
        return [np.flatnonzero(self.side_of == s) for s in range(self.n_sides)]


@dataclass(frozen=True)
class ClusterStats(Sides):
    """The sufficient statistics of two-level data.

    ``n`` rows in ``J`` clusters; the first ``p_y`` variables are split (within and between
    parts), the others between-only (constant within a cluster). ``side_of[i]`` is the side
    of split variable ``i`` and ``n_side[s]`` the rows of side ``s`` (one side: every row has
    every split variable). ``within`` is the pooled within-cluster SSCP
    ``sum_j sum_i (y_ij - ybar_j)(y_ij - ybar_j)'`` of each side (zero between sides); each
    cluster has the vector ``u_j = (ybar_j, z_j)``; per distinct row of cluster sizes
    ``sizes[k]`` (one entry per side): ``counts[k]`` clusters, ``sums[k]`` the sum of their
    ``u_j`` and ``cross[k]`` the sum of ``u_j u_j'``; ``pattern[j]`` is cluster ``j``'s row of
    ``sizes`` and ``within_j[j]`` its own within SSCP (for the clusters' scores)."""

    n: int
    J: int
    p_y: int
    within: np.ndarray
    sizes: np.ndarray          # K x S
    counts: np.ndarray
    sums: np.ndarray
    cross: np.ndarray
    log_sizes: float           # sum_j sum_s p_s log n_sj
    grand_mean: np.ndarray     # row means of the split variables (over their side), cluster means of the others
    between_cov: np.ndarray    # covariance of the u_j (/J), for start values
    u: np.ndarray              # the u_j (J x q), for lavaan's EM of the saturated model
    n_j: np.ndarray            # cluster sizes, J x S
    y1y1: np.ndarray           # sum_i y_i y_i' of the split variables (uncentred; one side only)
    side_of: np.ndarray        # side of each split variable
    n_side: np.ndarray         # rows per side
    pattern: np.ndarray        # each cluster's row of sizes
    within_j: np.ndarray       # J x p_y x p_y: each cluster's within SSCP

    @classmethod
    def of(cls, y: np.ndarray, z: np.ndarray, cluster: np.ndarray, side: np.ndarray | None = None,
           side_of: np.ndarray | None = None) -> ClusterStats:
        """Statistics of split variables ``y`` (rows x p_y; NaN off the row's side), between-only
        ``z`` and cluster ids; ``side`` is each row's side and ``side_of`` each split variable's
        (default: one side). Every cluster needs a row on every side."""
        codes, _ = pd.factorize(cluster)
        n_rows, p_y = y.shape
        side = np.zeros(n_rows, dtype=int) if side is None else np.asarray(side, dtype=int)
        side_of = np.zeros(p_y, dtype=int) if side_of is None else np.asarray(side_of, dtype=int)
        n_sides = int(side_of.max()) + 1 if p_y else 1
        J = int(codes.max()) + 1
        n_j = np.zeros((J, n_sides), dtype=int)
        np.add.at(n_j, (codes, side), 1)
        u = np.zeros((J, p_y + z.shape[1]))
        within_j = np.zeros((J, p_y, p_y))
        for s in range(n_sides):
            rows, cols = side == s, np.flatnonzero(side_of == s)
            block = y[np.ix_(rows, cols)]
            np.add.at(u, (codes[rows][:, None], cols[None, :]), block)
            u[:, cols] /= n_j[:, [s]]
            dev = block - u[np.ix_(codes[rows], cols)]
            for a_, a in enumerate(cols):  # one pass over the rows per pair of variables
                for b_, b in enumerate(cols[:a_ + 1]):
                    within_j[:, a, b] = within_j[:, b, a] = np.bincount(codes[rows], dev[:, a_] * dev[:, b_],
                                                                        minlength=J)
        within = within_j.sum(axis=0)
        first = np.zeros((J, z.shape[1]))
        first[codes[::-1]] = z[::-1]
        u[:, p_y:] = first
        sizes, pattern = np.unique(n_j, axis=0, return_inverse=True)
        pattern = pattern.ravel()
        counts = np.bincount(pattern, minlength=len(sizes))
        sums = np.array([u[pattern == k].sum(axis=0) for k in range(len(sizes))])
        cross = np.array([u[pattern == k].T @ u[pattern == k] for k in range(len(sizes))])
        centred = u - u.mean(axis=0)
        p_s = np.bincount(side_of, minlength=n_sides)
        split_means = np.array([np.nanmean(y[side == side_of[i], i]) for i in range(p_y)])
        y1 = np.nan_to_num(y)
        return cls(n_rows, J, p_y, within, sizes, counts, sums, cross, float(np.sum(np.log(n_j) @ p_s)),
                   np.concatenate([split_means, u[:, p_y:].mean(axis=0)]), centred.T @ centred / J, u, n_j,
                   y1.T @ y1, side_of, np.bincount(side, minlength=n_sides), pattern, within_j)



def loglik(cs: ClusterStats, s_w: np.ndarray, s_b: np.ndarray, mu: np.ndarray, *, derivatives: bool = False):
    """The two-level normal log-likelihood (the module docstring); with ``derivatives`` also
    ``dL/dS_W``, ``dL/dS_B`` (entries taken as independent) and ``dL/dmu``. ``-inf`` if a
    matrix is not positive definite. ``s_w`` covers the split variables (its entries between
    sides are not used), ``s_b`` and ``mu`` all variables (split, then between-only).

    ``cs`` may instead be data with arbitrary missing values
    (:class:`analysis.sem.twolevel_missing.ClusterMissing`): its own ``loglik`` then gives the
    same quantities (two-level FIML)."""
    if not isinstance(cs, ClusterStats):
        return cs.loglik(s_w, s_b, mu, derivatives=derivatives)
    q = len(mu)
    log2pi = math.log(2 * math.pi)
    ll = -0.5 * cs.J * q * log2pi - 0.5 * cs.log_sizes
    g_w = np.zeros_like(s_w) if derivatives else None
    blocks = cs.side_blocks()
    for s, idx in enumerate(blocks):
        inv_w = inverse_pd(s_w[np.ix_(idx, idx)])
        if inv_w is None:
            return (-math.inf, None, None, None) if derivatives else -math.inf
        k_w, logdet_w = inv_w
        df = cs.n_side[s] - cs.J
        w = cs.within[np.ix_(idx, idx)]
        ll -= 0.5 * df * (len(idx) * log2pi + logdet_w) + 0.5 * float(np.sum(k_w * w))
        if derivatives:
            g_w[np.ix_(idx, idx)] = -0.5 * df * k_w + 0.5 * k_w @ w @ k_w
    # the cluster vectors, all size patterns at once: V_k = S_B + blockdiag(S_W,ss / n_ks)
    v = np.broadcast_to(s_b, (len(cs.counts), q, q)).copy()
    for s, idx in enumerate(blocks):
        v[np.ix_(np.arange(len(cs.counts)), idx, idx)] += s_w[np.ix_(idx, idx)][None] / cs.sizes[:, s, None, None]
    lower = np.tril(v)
    v = lower + np.swapaxes(np.tril(v, -1), 1, 2)  # the lower triangle, as LAPACK's Cholesky reads it
    try:
        if not np.all(np.isfinite(v)):
            raise np.linalg.LinAlgError
        chol = np.linalg.cholesky(v)
    except np.linalg.LinAlgError:
        return (-math.inf, None, None, None) if derivatives else -math.inf
    logdet_v = 2 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    k_v = np.linalg.inv(v)
    c = cs.counts.astype(float)
    mm = (cs.cross - mu[None, :, None] * cs.sums[:, None, :] - cs.sums[:, :, None] * mu[None, None, :]
          + c[:, None, None] * np.outer(mu, mu)[None])
    ll -= 0.5 * float(c @ logdet_v) + 0.5 * float(np.sum(k_v * mm))
    if not derivatives:
        return ll
    gv = -0.5 * c[:, None, None] * k_v + 0.5 * k_v @ mm @ k_v
    for s, idx in enumerate(blocks):
        g_w[np.ix_(idx, idx)] += np.einsum("kij,k->ij", gv[:, idx][:, :, idx], 1.0 / cs.sizes[:, s])
    g_mu = np.einsum("kij,kj->i", k_v, cs.sums - c[:, None] * mu[None])
    return ll, g_w, gv.sum(axis=0), g_mu


def cluster_scores(cs: ClusterStats, s_w: np.ndarray, s_b: np.ndarray,
                   mu: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each cluster's share of the log-likelihood's derivatives: ``(G_W, G_B, g_mu)``, of shapes
    ``J x p_y x p_y``, ``J x q x q`` and ``J x q``, summing over the clusters to
    :func:`loglik`'s derivatives (entries taken as independent).

    Notes
    -----
    Cluster ``j``'s term is ``L_j = sum_s [-(n_sj - 1)/2 log|S_W,ss| - tr(S_W,ss^-1 W_sj)/2]
    - log|V_j|/2 - d_j' V_j^-1 d_j / 2`` (constants left out) with ``d_j = u_j - mu`` and
    ``W_sj`` its own within SSCP, so with ``K = S_W,ss^-1`` and ``e_j = V_j^-1 d_j``::

        dL_j/dV_j   = (e_j e_j' - V_j^-1) / 2          (= dL_j/dS_B)
        dL_j/dmu    = e_j
        dL_j/dS_W,ss = -(n_sj - 1)/2 K + K W_sj K / 2 + [dL_j/dV_j]_ss / n_sj

    Their outer products over clusters are the first-order information of the cluster-robust
    (Huber-White) sandwich: lavaan ``estimator = "MLR"`` for two-level models (Muthén &
    Satorra 1995; Yuan & Bentler 2002)."""
    q = len(mu)
    blocks = cs.side_blocks()
    v = np.broadcast_to(s_b, (len(cs.counts), q, q)).copy()
    for s, idx in enumerate(blocks):
        v[np.ix_(np.arange(len(cs.counts)), idx, idx)] += s_w[np.ix_(idx, idx)][None] / cs.sizes[:, s, None, None]
    k_v = np.linalg.inv(v)[cs.pattern]
    e = np.einsum("jab,jb->ja", k_v, cs.u - mu[None])
    g_b = 0.5 * (e[:, :, None] * e[:, None, :] - k_v)
    g_w = np.zeros((cs.J, cs.p_y, cs.p_y))
    for s, idx in enumerate(blocks):
        k_w = np.linalg.inv(s_w[np.ix_(idx, idx)])
        n_s = cs.n_j[:, s].astype(float)[:, None, None]
        w_s = cs.within_j[:, idx][:, :, idx]
        g_w[:, idx[:, None], idx[None, :]] = (-0.5 * (n_s - 1) * k_w[None] + 0.5 * k_w @ w_s @ k_w
                                              + g_b[:, idx][:, :, idx] / n_s)
    return g_w, g_b, e


def robust_trace(cs: ClusterStats, s_w: np.ndarray, s_b: np.ndarray, mu: np.ndarray,
                 blocks_w: list[list[int]], blocks_b: list[list[int]], fixed: list[int] | None = None) -> float:
    """``tr(A^-1 B)`` of the unrestricted model at ``(S_W, S_B, mu)``: free within
    ``blocks_w`` / ``blocks_b`` (as :func:`fit_blocks`), ``A`` the observed information (central
    differences of the analytic gradient) and ``B`` the clusters' first-order information
    (:func:`cluster_scores`). The h1 half of the Yuan-Bentler scaling factor
    (:func:`analysis.sem.twolevel.fit_twolevel`), and the baseline's.

    ``fixed`` are between-only covariates under ``fixed_x``: their means, variances and
    covariances among themselves are not parameters (held at their values), so their rows and
    columns leave ``A`` and ``B`` before the trace, as lavaan's h1 information with
    ``fixed.x`` (its ``h1.ndat`` less their moments)."""
    pairs_w = [(i, j) for b in blocks_w for i in b for j in b if i >= j]
    pairs_b = [(i, j) for b in blocks_b for i in b for j in b if i >= j]
    k_w, k_b, q = len(pairs_w), len(pairs_b), len(mu)

    def to_params(g_w: np.ndarray, g_b: np.ndarray, g_mu: np.ndarray) -> np.ndarray:
        """Matrix derivatives (leading axes kept) to the free entries: a covariance counts twice."""
        sym_w = [g_w[..., i, j] + (g_w[..., j, i] if i != j else 0) for i, j in pairs_w]
        sym_b = [g_b[..., i, j] + (g_b[..., j, i] if i != j else 0) for i, j in pairs_b]
        return np.concatenate([np.stack(sym_w + sym_b, axis=-1), g_mu], axis=-1)

    def gradient(shift: np.ndarray) -> np.ndarray:
        sw, sb, m = s_w.copy(), s_b.copy(), mu + shift[k_w + k_b:]
        for (i, j), h in zip(pairs_w, shift[:k_w], strict=True):
            sw[i, j] += h
            if i != j:
                sw[j, i] += h
        for (i, j), h in zip(pairs_b, shift[k_w:k_w + k_b], strict=True):
            sb[i, j] += h
            if i != j:
                sb[j, i] += h
        _, g_w, g_b, g_mu = loglik(cs, sw, sb, m, derivatives=True)
        return to_params(g_w, g_b, g_mu)

    k = k_w + k_b + q
    info = np.zeros((k, k))
    for a in range(k):
        step = np.zeros(k)
        step[a] = 1e-5 * max(1.0, abs(float(np.concatenate([[s_w[i, j] for i, j in pairs_w],
                                                          [s_b[i, j] for i, j in pairs_b], mu])[a])))
        info[:, a] = -(gradient(step) - gradient(-step)) / (2 * step[a])
    scores = to_params(*cluster_scores(cs, s_w, s_b, mu))
    fixed_set = set(fixed or ())
    keep = [a for a, (i, j) in enumerate(pairs_w + pairs_b) if a < k_w or not (i in fixed_set and j in fixed_set)]
    keep += [k_w + k_b + i for i in range(q) if i not in fixed_set]
    info, first_order = (info + info.T)[np.ix_(keep, keep)] / 2, (scores.T @ scores)[np.ix_(keep, keep)]
    return float(np.trace(np.linalg.solve(info, first_order)))


# ----------------------------------------------------------------------------- unrestricted models
def _lower_mask(p: int, blocks: list[list[int]]) -> np.ndarray:
    mask = np.zeros((p, p), dtype=bool)
    for b in blocks:
        for i in b:
            for j in b:
                mask[max(i, j), min(i, j)] = True
    return mask


def fit_blocks(cs: ClusterStats, blocks_w: list[list[int]],
               blocks_b: list[list[int]]) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """ML of S_W, S_B block-diagonal over ``blocks_w`` / ``blocks_b`` (free within a block) and
    free mu, by L-BFGS on Cholesky factors (the saturated model: one block per level and side;
    the baseline: singletons, the exogenous covariates one block)."""
    py, q = cs.p_y, len(cs.grand_mean)
    mask_w, mask_b = _lower_mask(py, blocks_w), _lower_mask(q, blocks_b)
    rw, cw = np.nonzero(mask_w)
    rb, cb = np.nonzero(mask_b)
    kw, kb = len(rw), len(rb)
    s_w0 = cs.within / np.maximum(np.minimum.outer(cs.within_df(), cs.within_df()), 1)
    s_b0 = cs.between_cov.copy()
    s_b0[:py, :py] -= s_w0 * cs.J / np.maximum(cs.n_side[cs.side_of], 1)[:, None]
    s_b0 = (s_b0 + s_b0.T) / 2
    ev, evec = np.linalg.eigh(s_b0)
    s_b0 = (evec * np.maximum(ev, 0.05 * max(float(np.diag(s_b0).mean()), 1e-3))) @ evec.T

    def chol(s, blocks):  # block by block: variables in no block (within-only at level 2) get zero rows
        out = np.zeros_like(s)
        for b in blocks:
            block = s[np.ix_(b, b)]
            try:
                out[np.ix_(b, b)] = np.linalg.cholesky(block)
            except np.linalg.LinAlgError:  # singular start (collinear answers): eigenvalues floored
                ev, vec = np.linalg.eigh(block)
                floor = 0.05 * max(float(np.diag(block).mean()), 1e-3)
                out[np.ix_(b, b)] = np.linalg.cholesky((vec * np.maximum(ev, floor)) @ vec.T)
        return out

    x0 = np.concatenate([chol(s_w0, blocks_w)[rw, cw], chol(s_b0, blocks_b)[rb, cb], cs.grand_mean])

    def unpack(x):
        lw, lb = np.zeros((py, py)), np.zeros((q, q))
        lw[rw, cw], lb[rb, cb] = x[:kw], x[kw:kw + kb]
        return lw, lb, x[kw + kb:]

    def objective(x):
        lw, lb, mu = unpack(x)
        ll, g_w, g_b, g_mu = loglik(cs, lw @ lw.T, lb @ lb.T, mu, derivatives=True)
        if not np.isfinite(ll):
            return 1e10, np.zeros_like(x)
        d_lw = (g_w + g_w.T) @ lw
        d_lb = (g_b + g_b.T) @ lb
        return -ll / cs.n, -np.concatenate([d_lw[rw, cw], d_lb[rb, cb], g_mu]) / cs.n

    res = optimize.minimize(objective, x0, jac=True, method="L-BFGS-B",
                            options={"maxiter": 20_000, "maxfun": 40_000, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 30})
    lw, lb, mu = unpack(res.x)
    s_w, s_b = lw @ lw.T, lb @ lb.T
    return loglik(cs, s_w, s_b, mu), s_w, s_b, mu


def em_saturated(cs: ClusterStats, tol: float = 1e-4, max_iter: int = 5000,
                 min_variance: float = 1e-5) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """lavaan's saturated two-level model (``lav_mvnorm_cluster_em_sat``, used for h1 with
    complete data): EM from identity matrices, stopped when the logl gains less than ``tol``,
    so ``unrestricted_logl``, ``chisq`` and ``srmr_between`` are lavaan's even where its EM
    stops short of the ML (near a zero between variance). Returns ``(logl, S_W, S_B, mu)``
    with ``mu`` the total means (within + between). One side only (the EM of several sides is
    not lavaan's: :func:`fit_blocks` gives their saturated model)."""
    if cs.n_sides != 1:
        raise ValueError("em_saturated needs one side; use fit_blocks")
    py, q = cs.p_y, len(cs.grand_mean)
    pz = q - py
    sigma_w, sigma_b = np.eye(py), np.eye(py)
    sigma_yz = np.zeros((py, pz))
    mu_w, mu_b = np.zeros(py), np.zeros(py)
    z = cs.u[:, py:]
    mu_z = z.mean(axis=0)
    zc = z - mu_z
    sigma_zz = zc.T @ zc / cs.J

    def implied(s_w, s_b, s_yz, m_w, m_b):
        big = np.zeros((q, q))
        big[:py, :py], big[:py, py:], big[py:, :py], big[py:, py:] = s_b, s_yz, s_yz.T, sigma_zz
        return s_w, big, np.concatenate([m_w + m_b, mu_z])

    fx_old = loglik(cs, np.eye(py), np.eye(q), np.zeros(q))
    out = implied(sigma_w, sigma_b, sigma_yz, mu_w, mu_b)
    fx = fx_old
    for _ in range(max_iter):
        mu_y = mu_w + mu_b
        sigma_1 = np.hstack([sigma_yz, sigma_b])
        mu = np.concatenate([mu_z, mu_y])
        cw2, cb = np.zeros((py, py)), np.zeros((py, py))
        mw, mb, zy = np.zeros(py), np.zeros(py), np.zeros((pz, py))
        for nj in cs.sizes[:, 0]:
            sel = cs.n_j[:, 0] == nj
            ybar = cs.u[sel, :py]
            b_j = np.hstack([cs.u[sel, py:], ybar])
            sigma_j = sigma_w + nj * sigma_b
            omega = np.block([[sigma_zz, sigma_yz.T], [sigma_yz, sigma_j / nj]])
            s1_inv = sigma_1 @ np.linalg.inv(omega)
            ev = (b_j - mu) @ s1_inv.T + mu_b
            covv = int(sel.sum()) * (sigma_b - s1_inv @ sigma_1.T)
            evv = (covv + covv.T) / 2 + ev.T @ ev
            mw += nj * (ybar - ev).sum(axis=0)
            mb += ev.sum(axis=0)
            cw2 += nj * (evv - ybar.T @ ev - ev.T @ ybar)
            cb += evv
            if pz:
                zy += cs.u[sel, py:].T @ ev
        m_ws, m_bs = mw / cs.n, mb / cs.J
        sigma_w = (cs.y1y1 + cw2) / cs.n - np.outer(m_ws, m_ws)
        sigma_b = cb / cs.J - np.outer(m_bs, m_bs)
        if pz:
            sigma_yz = (zy / cs.J - np.outer(mu_z, m_bs)).T
        mu_w, mu_b = m_ws, m_bs
        s_w, s_b, mu_all = implied(sigma_w, sigma_b, sigma_yz, mu_w, mu_b)
        zero = np.diag(s_w) < min_variance
        if zero.any():
            s_w = s_w.copy()
            s_w[:, zero] = s_w[zero, :] = 0.0
            s_w[zero, zero] = min_variance
            sigma_w = s_w.copy()
        out = (s_w, s_b, mu_all)
        fx = loglik(cs, s_w, s_b, mu_all)
        if fx - fx_old < tol:
            break
        fx_old = fx
    return fx, out[0], out[1], out[2]
