"""The model matrices: implied moments and their analytic derivatives (the Jacobian Delta).

Model representation (lavaan's LISREL all-y form, Bollen 1989 ch. 8)::

    eta   = alpha + B eta + zeta,        Cov(zeta) = Psi
    x     = nu + Lambda eta + eps,       Cov(eps)  = Theta
    Sigma = Lambda A Psi A' Lambda' + Theta,   mu = nu + Lambda A alpha,   A = (I - B)^-1

Observed variables that take part in regressions are "phantom" latent variables (loading
1, residual variance 0), as in lavaan. :class:`Model` turns a parameter vector into the
matrices of each group; :meth:`Model.jacobian` gives ``d vec(Sigma) / d theta`` and
``d mu / d theta`` in closed form, which the estimators use for the gradient, the
expected information (Fisher scoring and standard errors) and modification indices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analysis.sem.partable import MATRICES, SYMMETRIC, ParameterTable
from analysis.sem.samplestats import GroupStats


@dataclass(frozen=True)
class Implied:
    """One group's matrices at a parameter vector, with the implied moments.

    ``a = (I - B)^-1``, ``la = Lambda A``, ``eta_cov = A Psi A'`` (covariance of the
    latent and phantom variables), ``eta_mean = A alpha``.
    """

    sigma: np.ndarray
    mu: np.ndarray
    lam: np.ndarray
    beta: np.ndarray
    psi: np.ndarray
    theta: np.ndarray
    nu: np.ndarray
    alpha: np.ndarray
    a: np.ndarray
    la: np.ndarray
    eta_cov: np.ndarray
    eta_mean: np.ndarray

    def matrix(self, name: str) -> np.ndarray:
        return {"lambda": self.lam, "beta": self.beta, "psi": self.psi, "theta": self.theta,
                "nu": self.nu, "alpha": self.alpha}[name]


@dataclass(frozen=True)
class _Positions:
    """The free positions of one matrix in one group: row, column, parameter id (a
    symmetric off-diagonal parameter has both of its positions)."""

    r: np.ndarray
    c: np.ndarray
    pid: np.ndarray


class Model:
    """The matrices of a parameter table, for any parameter vector.

    Parameters
    ----------
    table
        The parameter table.

    Notes
    -----
    Fixed-x covariances and means (``fixed.x = TRUE``) are set from the sample by
    :meth:`set_sample`; :attr:`values` then holds every row's fixed value (the sample
    moment for fixed-x rows), so :meth:`row_values` gives each row's value at ``x``.
    """

    def __init__(self, table: ParameterTable):
        st = table.structure
        self.table = table
        self.G, self.npar, self.meanstructure = table.n_groups, table.npar, table.meanstructure
        self.p, self.m = p, m = len(st.ov), len(st.eta)
        self.shapes = {"lambda": (p, m), "beta": (m, m), "psi": (m, m), "theta": (p, p), "nu": (p, 1),
                       "alpha": (m, 1)}
        self.pid = np.array([r.pid for r in table.rows], dtype=int)
        self.values = np.array([r.value for r in table.rows], dtype=float)
        self.templates: list[dict[str, np.ndarray]] = []
        self.free: list[dict[str, _Positions]] = []
        self.fixed_x: list[list[int]] = []
        ov_phantom = [st.ov.index(v) for v in st.phantom]
        eta_phantom = [st.eta.index(v) for v in st.phantom]
        for g in range(self.G):
            tmpl = {k: np.zeros(s) for k, s in self.shapes.items()}
            tmpl["lambda"][ov_phantom, eta_phantom] = 1.0
            pos: dict[str, tuple[list[int], list[int], list[int]]] = {k: ([], [], []) for k in MATRICES}
            fx = []
            for i, r in enumerate(table.rows):
                if r.group != g:
                    continue
                cells = [(r.r, r.c)] + ([(r.c, r.r)] if r.matrix in SYMMETRIC and r.r != r.c else [])
                for a, b in cells:
                    if r.free:
                        pos[r.matrix][0].append(a)
                        pos[r.matrix][1].append(b)
                        pos[r.matrix][2].append(r.pid)
                    else:
                        tmpl[r.matrix][a, b] = r.value
                if r.fixed_x:
                    fx.append(i)
            self.templates.append(tmpl)
            self.free.append({k: _Positions(*(np.array(v, dtype=int) for v in lists)) for k, lists in pos.items()})
            self.fixed_x.append(fx)
        self._scatter: list[np.ndarray | None] = []
        for g in range(self.G):  # positions in jacobian()'s block order -> parameters
            pid = np.concatenate([self.free[g][k].pid for k in ("lambda", "beta", "psi", "theta", "nu", "alpha")])
            if len(np.unique(pid)) == len(pid):
                self._scatter.append(None)
            else:
                scatter = np.zeros((self.npar, len(pid)))
                scatter[pid, np.arange(len(pid))] = 1.0
                self._scatter.append(scatter)
        self.eye_m = np.eye(m)
        self.has_beta = any(np.any(t["beta"]) for t in self.templates) or any(
            len(f["beta"].pid) for f in self.free)

    # ------------------------------------------------------------------ data-dependent fixed values
    def set_sample(self, sample: Sequence[GroupStats]) -> None:
        """Fix the fixed-x (co)variances and means at the sample moments of each group."""
        ov_i = {v: i for i, v in enumerate(self.table.structure.ov)}
        for g, d in enumerate(sample):
            tmpl = self.templates[g]
            for i in self.fixed_x[g]:
                r = self.table.rows[i]
                if r.fixed_x == "cov":
                    val = d.cov[ov_i[r.lhs], ov_i[r.rhs]]
                    tmpl["psi"][r.r, r.c] = tmpl["psi"][r.c, r.r] = val
                else:
                    val = d.mean[ov_i[r.lhs]]
                    tmpl["alpha"][r.r, 0] = val
                self.values[i] = val

    def row_values(self, x: np.ndarray) -> np.ndarray:
        """Every row's value: ``x[pid]`` for free rows, the fixed value otherwise."""
        return np.where(self.pid >= 0, x[np.maximum(self.pid, 0)], self.values)

    # ------------------------------------------------------------------ matrices and moments
    def implied(self, x: np.ndarray, g: int) -> Implied:
        """The matrices of group ``g`` at ``x`` and the implied ``Sigma`` and ``mu``."""
        mats = {}
        free, tmpl = self.free[g], self.templates[g]
        for k in MATRICES:
            pos = free[k]
            if len(pos.pid):
                mat = tmpl[k].copy()
                mat[pos.r, pos.c] = x[pos.pid]
                mats[k] = mat
            else:
                mats[k] = tmpl[k]  # not written to: the Implied matrices are read-only by contract
        a = np.linalg.inv(self.eye_m - mats["beta"]) if self.has_beta else self.eye_m
        la = mats["lambda"] @ a
        eta_cov = a @ mats["psi"] @ a.T
        sigma = mats["lambda"] @ eta_cov @ mats["lambda"].T + mats["theta"]
        eta_mean = (a @ mats["alpha"]).ravel()
        mu = mats["nu"].ravel() + mats["lambda"] @ eta_mean
        return Implied(sigma, mu, mats["lambda"], mats["beta"], mats["psi"], mats["theta"], mats["nu"],
                       mats["alpha"], a, la, eta_cov, eta_mean)

    def gradient(self, imp: Implied, g: int, d_sigma: np.ndarray, d_mu: np.ndarray | None) -> np.ndarray:
        """Chain rule from ``dF/dSigma`` and ``dF/dmu`` (symmetric ``d_sigma``) to the
        parameters, in matrix form (cheaper than building the Jacobian):
        ``dF/dLambda = 2 G Lambda M + g (A alpha)'``, ``dF/dB = 2 L' G Lambda M + L' g (A alpha)'``,
        ``dF/dPsi = L' G L``, ``dF/dTheta = G``, ``dF/dnu = g``, ``dF/dalpha = L' g`` with
        ``G = dF/dSigma``, ``g = dF/dmu``, ``M = A Psi A'``, ``L = Lambda A``."""
        la = imp.la
        gsl = d_sigma @ imp.lam
        parts = {"lambda": 2 * gsl @ imp.eta_cov, "psi": la.T @ d_sigma @ la, "theta": d_sigma}
        parts["beta"] = 2 * la.T @ gsl @ imp.eta_cov
        if d_mu is not None:
            lg = la.T @ d_mu
            parts["lambda"] = parts["lambda"] + np.outer(d_mu, imp.eta_mean)
            parts["beta"] = parts["beta"] + np.outer(lg, imp.eta_mean)
            parts["nu"], parts["alpha"] = d_mu[:, None], lg[:, None]
        grad = np.zeros(self.npar)
        for k, pos in self.free[g].items():
            if len(pos.pid) and k in parts:
                grad += np.bincount(pos.pid, weights=parts[k][pos.r, pos.c], minlength=self.npar)
        return grad

    def jacobian(self, imp: Implied, g: int) -> tuple[np.ndarray, np.ndarray]:
        """``(dSigma, dmu)`` of group ``g``: ``dSigma[k]`` (npar x p x p) and ``dmu[k]`` (npar x p)
        are the derivatives of the implied moments by parameter ``k``.

        Notes
        -----
        With ``H = Lambda A Psi A'`` and ``L = Lambda A``, for one position (i, j):
        ``dSigma/dLambda_ij = e_i H_.j' + H_.j e_i'``, ``dSigma/dB_ij = L_.i H_.j' + H_.j L_.i'``,
        ``dSigma/dPsi_ij = L_.i L_.j'``, ``dSigma/dTheta_ij = e_i e_j'``;
        ``dmu/dLambda_ij = e_i (A alpha)_j``, ``dmu/dB_ij = L_.i (A alpha)_j``,
        ``dmu/dnu_i = e_i``, ``dmu/dalpha_i = L_.i`` (Neudecker & Satorra 1991; lavaan
        ``computeDelta``). A symmetric parameter sums its two positions; parameters tied by
        a label sum theirs.
        """
        p = self.p
        free = self.free[g]
        h = imp.lam @ imp.eta_cov
        la = imp.la
        blocks_s, blocks_m, pids = [], [], []
        pos = free["lambda"]
        if len(pos.pid):
            k = len(pos.pid)
            d = np.zeros((k, p, p))
            ar = np.arange(k)
            hj = h[:, pos.c].T
            d[ar, pos.r, :] += hj
            d[ar, :, pos.r] += hj
            dm = np.zeros((k, p))
            dm[ar, pos.r] = imp.eta_mean[pos.c]
            blocks_s.append(d)
            blocks_m.append(dm)
            pids.append(pos.pid)
        pos = free["beta"]
        if len(pos.pid):
            u, v = la[:, pos.r].T, h[:, pos.c].T
            d = u[:, :, None] * v[:, None, :]
            blocks_s.append(d + d.transpose(0, 2, 1))
            blocks_m.append(u * imp.eta_mean[pos.c][:, None])
            pids.append(pos.pid)
        pos = free["psi"]
        if len(pos.pid):
            u, v = la[:, pos.r].T, la[:, pos.c].T
            blocks_s.append(u[:, :, None] * v[:, None, :])
            blocks_m.append(np.zeros((len(pos.pid), p)))
            pids.append(pos.pid)
        pos = free["theta"]
        if len(pos.pid):
            k = len(pos.pid)
            d = np.zeros((k, p, p))
            d[np.arange(k), pos.r, pos.c] = 1.0
            blocks_s.append(d)
            blocks_m.append(np.zeros((k, p)))
            pids.append(pos.pid)
        pos = free["nu"]
        if len(pos.pid):
            k = len(pos.pid)
            dm = np.zeros((k, p))
            dm[np.arange(k), pos.r] = 1.0
            blocks_s.append(np.zeros((k, p, p)))
            blocks_m.append(dm)
            pids.append(pos.pid)
        pos = free["alpha"]
        if len(pos.pid):
            blocks_s.append(np.zeros((len(pos.pid), p, p)))
            blocks_m.append(la[:, pos.r].T)
            pids.append(pos.pid)
        if not pids:
            return np.zeros((self.npar, p, p)), np.zeros((self.npar, p))
        ds = np.concatenate(blocks_s)
        dmv = np.concatenate(blocks_m)
        scatter = self._scatter[g]
        if scatter is None:  # every position its own parameter: a permutation
            pid = np.concatenate(pids)
            dsigma = np.zeros((self.npar, p, p))
            dmu = np.zeros((self.npar, p))
            dsigma[pid] = ds
            dmu[pid] = dmv
            return dsigma, dmu
        # positions sharing a parameter (symmetric pairs, labels) add up: one matrix product
        return (scatter @ ds.reshape(len(ds), -1)).reshape(self.npar, p, p), scatter @ dmv
