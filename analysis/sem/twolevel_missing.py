"""The two-level normal log-likelihood of data with arbitrary missing values (two-level FIML).

Used by :mod:`analysis.sem.twolevel` with ``missing="fiml"`` when the missing values are not
"stacked by design" (:mod:`analysis.sem.cluster_likelihood` has that closed form). The model
is lavaan's (``lav_mvnorm_cluster_missing``, ``missing = "ml"`` with ``cluster =``): for row
``i`` of cluster ``j`` the level-1 variables are ``y_ij = mu_y + u_j + e_ij`` with
``e_ij ~ N(0, S_W)`` and the between-only variables ``z_j``, ``(u_j, z_j) ~ N((0, mu_z), S_B)``
(``u_j`` zero for within-only variables: zero rows of ``S_B``). Cluster ``j``'s observed values
are those of its rows (each row its own pattern ``o_i``) and its observed ``z_j`` (pattern
``o_z``); its log-likelihood is that of ``z_j[o_z]`` plus that of the rows given it::

    y_ij[o_i] | z  ~  mu_y + m_j + u,   m_j = S_yz S_zz^-1 (z_j - mu_z)   (over o_z)
    Cov = D_j + T_j B_z T_j',  D_j = blockdiag_i S_W[o_i, o_i],  B_z = S_yy - S_yz S_zz^-1 S_zy

with ``T_j`` stacking the rows' selection matrices. By the Woodbury identity (``A_j = T'D^-1 T
= sum_i E_i' S_W[o_i,o_i]^-1 E_i``, ``p_j = T'D^-1 r_j``, ``H_j = (I + B_z A_j)^-1 B_z``)::

    log|Cov| = sum_i log|S_W[o_i,o_i]| + log|I + B_z A_j|
    r' Cov^-1 r = sum_i r_i' S_W[o_i,o_i]^-1 r_i - p_j' H_j p_j

so an evaluation costs O(p^2) per row, O(p^3) per row pattern and per cluster (``B_z`` may be
singular: within-only variables). The derivatives by ``S_W``, ``S_B`` and ``mu`` are analytic
(:meth:`ClusterMissing.loglik`), from ``dL/dCov = (Cov^-1 r r' Cov^-1 - Cov^-1)/2`` of the
joint vector ``(y_j, z_j)`` in the same Woodbury pieces. Rows are grouped by their pattern;
their sums per cluster are one sparse product.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from analysis.sem.casewise import missing_patterns
from analysis.sem.cluster_likelihood import Sides
from analysis.sem.ml import inverse_pd

__all__ = ["ClusterMissing"]


@dataclass(frozen=True)
class ClusterMissing(Sides):
    """Two-level data with missing values: ``y`` (rows x p_y, NaN missing; split then
    within-only variables), ``z`` (clusters x p_z, NaN missing: between-only variables) and
    each row's cluster index. The attributes ``within``, ``between_cov``, ``grand_mean``,
    ``side_of``, ``n_side`` mirror :class:`~analysis.sem.cluster_likelihood.ClusterStats`'s
    for start values (pairwise-available moments) and the unrestricted models: with sides
    (stacked samples, no row with values of two sides) ``side_of`` is each level-1
    variable's side and ``n_side`` the rows with a value of that side; the within
    covariances between sides never enter the likelihood."""

    n: int
    J: int
    p_y: int
    y: np.ndarray             # rows x p_y, zero where missing
    obs: np.ndarray           # rows x p_y, observed
    z: np.ndarray             # J x p_z, zero where missing
    z_obs: np.ndarray         # J x p_z
    codes: np.ndarray         # each row's cluster
    row_patterns: np.ndarray  # P x p_y
    row_pattern: np.ndarray   # each row's pattern
    pattern_rows: tuple       # per pattern, its rows
    counts: np.ndarray        # J x P: rows of each pattern per cluster
    z_patterns: np.ndarray    # R x p_z
    z_pattern: np.ndarray     # each cluster's z pattern
    sum_rows: sparse.csr_matrix  # J x n: sums rows per cluster
    n_values: int             # observed values (for the 2 pi constant)
    within: np.ndarray
    between_cov: np.ndarray
    grand_mean: np.ndarray
    side_of: np.ndarray
    n_side: np.ndarray

    @classmethod
    def of(cls, y: np.ndarray, z: np.ndarray, cluster: np.ndarray,
           side_of: np.ndarray | None = None) -> ClusterMissing:
        """From split/within-only values ``y`` (rows x p_y), between-only values ``z`` (rows x
        p_z, constant within a cluster where observed) and the cluster ids; ``side_of`` the
        side of each level-1 variable (default: one side; no row may have values of two)."""
        codes, _ = pd.factorize(cluster)
        n, p_y = y.shape
        J = int(codes.max()) + 1
        obs = ~np.isnan(y)
        patterns, pattern = missing_patterns(obs, inverse=True)
        counts = np.zeros((J, len(patterns)))
        np.add.at(counts, (codes, pattern), 1.0)
        order = np.argsort(pattern, kind="stable")
        bounds = np.searchsorted(pattern[order], np.arange(len(patterns) + 1))
        pattern_rows = tuple(order[bounds[k]:bounds[k + 1]] for k in range(len(patterns)))
        z_obs_rows = ~np.isnan(z)
        zsum = np.zeros((J, z.shape[1]))
        zcount = np.zeros((J, z.shape[1]))
        np.add.at(zsum, codes, np.nan_to_num(z))
        np.add.at(zcount, codes, z_obs_rows.astype(float))
        z_obs = zcount > 0
        zj = np.where(z_obs, zsum / np.maximum(zcount, 1), 0.0)
        if z.shape[1]:
            z_patterns, z_pattern = missing_patterns(z_obs, inverse=True)
        else:
            z_patterns, z_pattern = np.zeros((1, 0), dtype=bool), np.zeros(J, dtype=int)
        sum_rows = sparse.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(J, n))
        # start-value moments from the available values
        yy = np.where(obs, y, np.nan)
        ybar = np.array([np.nanmean(yy[:, i]) if obs[:, i].any() else 0.0 for i in range(p_y)])
        csum, ccount = np.zeros((J, p_y)), np.zeros((J, p_y))
        np.add.at(csum, codes, np.nan_to_num(y))
        np.add.at(ccount, codes, obs.astype(float))
        cmean = np.where(ccount > 0, csum / np.maximum(ccount, 1), np.nan)
        dev = np.where(obs, np.nan_to_num(y) - np.nan_to_num(cmean[codes]), np.nan)
        s_w = pd.DataFrame(dev).cov(min_periods=2).to_numpy() if n > 1 else np.eye(p_y)
        s_w = np.where(np.isfinite(s_w), s_w, 0.0)
        s_w[np.diag_indices(p_y)] = np.where(np.diag(s_w) > 0, np.diag(s_w), 1.0)
        zmean = np.array([zj[z_obs[:, k], k].mean() if z_obs[:, k].any() else 0.0 for k in range(z.shape[1])])
        u = np.hstack([cmean, np.where(z_obs, zj, np.nan)])
        mean_u = np.concatenate([ybar, zmean])
        cov_u = pd.DataFrame(u).cov(min_periods=2, ddof=0).to_numpy() if J > 1 else np.eye(len(mean_u))
        cov_u = np.where(np.isfinite(cov_u), cov_u, 0.0)
        cov_u[np.diag_indices(len(mean_u))] = np.where(np.diag(cov_u) > 0, np.diag(cov_u), 1.0)
        side_of = np.zeros(p_y, dtype=int) if side_of is None else np.asarray(side_of, dtype=int)
        n_sides = int(side_of.max()) + 1 if p_y else 1
        on_side = np.stack([obs[:, side_of == s].any(axis=1) for s in range(n_sides)], axis=1)
        if (on_side.sum(axis=1) > 1).any():
            raise ValueError("a row has values of two sides")
        n_side = on_side.sum(axis=0)
        s_w[side_of[:, None] != side_of[None, :]] = 0.0
        df = (n_side - J)[side_of].astype(float)
        return cls(n, J, p_y, np.nan_to_num(y), obs, zj, z_obs, codes, patterns, pattern, pattern_rows, counts,
                   z_patterns, np.asarray(z_pattern).ravel(), sum_rows, int(obs.sum() + z_obs.sum()),
                   s_w * np.minimum.outer(df, df), cov_u, mean_u, side_of, n_side)

    # the rest of the ClusterStats interface (start values, the unrestricted models) comes from Sides
    def row_side(self) -> np.ndarray:
        """Each row's side (-1: no level-1 value)."""
        first = np.argmax(self.obs, axis=1)
        return np.where(self.obs.any(axis=1), self.side_of[first], -1)

    def loglik(self, s_w: np.ndarray, s_b: np.ndarray, mu: np.ndarray, *, derivatives: bool = False):
        """The log-likelihood (the module docstring); with ``derivatives`` also ``dL/dS_W``,
        ``dL/dS_B`` (entries taken as independent, as
        :func:`analysis.sem.cluster_likelihood.loglik`) and ``dL/dmu``. ``-inf`` if a matrix is
        not positive definite. ``s_w`` is ``p_y x p_y``, ``s_b`` and ``mu`` cover ``y`` then ``z``."""
        fail = (-math.inf, None, None, None) if derivatives else -math.inf
        py, J = self.p_y, self.J
        yi = np.arange(py)
        zi = np.arange(py, len(mu))
        if not (np.all(np.isfinite(s_w)) and np.all(np.isfinite(s_b)) and np.all(np.isfinite(mu))):
            return fail
        # the rows: each pattern's S_W[o, o]^-1 (embedded in p_y x p_y) and log-determinant
        n_pat = len(self.row_patterns)
        k_pat = np.zeros((n_pat, py, py))
        logdet_rows = 0.0
        c = np.where(self.obs, self.y - mu[:py], 0.0)
        a0 = np.zeros_like(c)
        for k, pat in enumerate(self.row_patterns):
            o = np.flatnonzero(pat)
            rows = self.pattern_rows[k]
            if not len(o):
                continue
            inv = inverse_pd(s_w[np.ix_(o, o)])
            if inv is None:
                return fail
            k_pat[k][np.ix_(o, o)] = inv[0]
            logdet_rows += len(rows) * inv[1]
            a0[rows] = c[rows] @ k_pat[k]
        quad = float(np.sum(c * a0))
        a_j = (self.counts @ k_pat.reshape(n_pat, -1)).reshape(J, py, py)
        p0 = np.asarray(self.sum_rows @ a0)
        # the between-only values: per pattern of z, their log-likelihood and the conditional moments
        s_yy = s_b[np.ix_(yi, yi)]
        m = np.zeros((J, py))
        b_z = np.empty((len(self.z_patterns), py, py))
        logdet_z = 0.0
        z_parts = []
        for r, zpat in enumerate(self.z_patterns):
            js = np.flatnonzero(self.z_pattern == r)
            oz = zi[zpat]
            if not len(oz):
                b_z[r] = s_yy
                z_parts.append((js, oz, None, None, None))
                continue
            inv = inverse_pd(s_b[np.ix_(oz, oz)])
            if inv is None:
                return fail
            k_zz, ld = inv
            rz = self.z[np.ix_(js, zpat)] - mu[oz]
            kz = rz @ k_zz
            quad += float(np.sum(rz * kz))
            logdet_z += len(js) * ld
            s_yz = s_b[np.ix_(yi, oz)]
            reg = s_yz @ k_zz                       # p_y x |o_z|
            m[js] = kz @ s_yz.T
            b_z[r] = s_yy - reg @ s_yz.T
            z_parts.append((js, oz, k_zz, reg, rz))
        bz_j = b_z[self.z_pattern]
        p_j = p0 - np.einsum("jab,jb->ja", a_j, m)
        quad += float(np.sum(-2 * m * p0) + np.einsum("ja,jab,jb->", m, a_j, m))
        big = np.eye(py)[None] + bz_j @ a_j
        sign, logdet_big = np.linalg.slogdet(big)
        if not np.all(sign > 0) or not np.all(np.isfinite(logdet_big)):
            return fail
        try:
            h = np.linalg.solve(big, bz_j)
        except np.linalg.LinAlgError:
            return fail
        h = (h + np.swapaxes(h, 1, 2)) / 2
        e = np.einsum("jab,jb->ja", h, p_j)
        quad -= float(np.sum(p_j * e))
        logdet = logdet_rows + logdet_z + float(logdet_big.sum())
        ll = -0.5 * (self.n_values * math.log(2 * math.pi) + logdet + quad)
        if not math.isfinite(ll):
            return fail
        if not derivatives:
            return ll
        # dL/dCov = (Cov^-1 r r' Cov^-1 - Cov^-1) / 2 of the joint vector, in the Woodbury pieces
        shift = m + e                                # rows: Cov^-1 r = S_W[o,o]^-1 (c_i - m_j - e_j)
        a = a0.copy()
        for k in range(n_pat):
            rows = self.pattern_rows[k]
            a[rows] -= shift[self.codes[rows]] @ k_pat[k]
        h_sum = (self.counts.T @ h.reshape(J, -1)).reshape(n_pat, py, py)
        g_w = 0.5 * (a.T @ a - np.einsum("k,kab->ab", self.counts.sum(axis=0), k_pat)
                     + np.einsum("kab,kbc,kcd->ad", k_pat, h_sum, k_pat))
        g_y = p_j - np.einsum("jab,jb->ja", a_j, e)   # T' Cov^-1 r per cluster
        ah = a_j @ h
        q_j = a_j - ah @ a_j                          # T' Cov^-1 T (the y block)
        g_b = np.zeros_like(s_b)
        g_mu = np.zeros_like(mu)
        g_b[np.ix_(yi, yi)] = 0.5 * (g_y.T @ g_y - q_j.sum(axis=0))
        g_mu[:py] = g_y.sum(axis=0)
        for js, oz, k_zz, reg, rz in z_parts:
            if k_zz is None:
                continue
            s_zy = s_b[np.ix_(oz, yi)]
            g_z = (rz - g_y[js] @ s_zy.T) @ k_zz     # the z block of Cov^-1 r
            q_sum = q_j[js].sum(axis=0)
            g_b[np.ix_(yi, oz)] += 0.5 * (g_y[js].T @ g_z + q_sum @ reg)
            g_b[np.ix_(oz, yi)] += 0.5 * (g_z.T @ g_y[js] + reg.T @ q_sum)
            g_b[np.ix_(oz, oz)] += 0.5 * (g_z.T @ g_z - len(js) * k_zz - reg.T @ q_sum @ reg)
            g_mu[oz] += g_z.sum(axis=0)
        return ll, g_w, g_b, g_mu
