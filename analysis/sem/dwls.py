"""Diagonally weighted least squares for ordinal indicators (lavaan ``estimator = "WLSMV"``).

The sample statistics of each group are the thresholds and polychoric correlations
``s_g`` with their NACOV ``Gamma_g`` (:mod:`analysis.sem.categorical`). In lavaan's delta
parameterization (the default) the latent responses ``y*`` have unit variance: the model
thresholds are the threshold parameters, the implied polychoric correlations the
off-diagonal entries of ``Sigma* = Lambda A Psi A' Lambda' + Theta``, and the residual
variances of the ordered variables are not parameters but ``1 - diag(Lambda A Psi A'
Lambda')`` (:class:`DeltaModel`). The DWLS discrepancy (Muthén, du Toit & Spisic 1997;
lavaan ``lav_model_objective``, ``estimator.DWLS``) is::

    F_DWLS = sum_g n_g / N (s_g - sigma_g(theta))' W_g (s_g - sigma_g(theta)),   W_g = diag(Gamma_g)^-1

minimised by Gauss-Newton (Fisher-scoring) steps on ``2 Delta' W Delta`` with
``Delta = d sigma / d theta`` (:mod:`analysis.sem.optimizer`). The robust standard errors,
the scaled-shifted test and the robust fit indices are in :mod:`analysis.sem.robust`.

References
----------
Muthén, B., du Toit, S. H. C., & Spisic, D. (1997). Robust inference using weighted least
squares and quadratic estimating equations in latent variable modeling with categorical and
continuous outcomes. Unpublished technical report.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from analysis.sem.categorical import OrdinalStats
from analysis.sem.matrices import Implied, Model
from analysis.sem.ml import MLEstimator
from analysis.sem.partable import ParameterTable


class DeltaModel(Model):
    """The LISREL model with lavaan's delta parameterization of ordered indicators: each
    group's scale factors ``Delta`` (``x ~*~ x``; 1 unless freed) fix the residual
    variances at ``theta_ii = 1/Delta_i^2 - (Lambda A Psi A' Lambda')_ii``, so the implied
    variance of each latent response is ``1/Delta_i^2`` and that of ``Delta y*`` is 1."""

    def __init__(self, table: ParameterTable):
        super().__init__(table)
        ov = table.structure.ov
        self.ordinal = np.array([ov.index(v) for v in table.ordered], dtype=int)
        ordered = set(table.ordered)
        self.theta = table.parameterization == "theta"
        self.residual_rows = [] if self.theta else [
            (i, r.group, r.r) for i, r in enumerate(table.rows)
            if r.op == "~~" and r.lhs == r.rhs and r.lhs in ordered and r.matrix == "theta"]
        self.scale_pid = np.full((self.G, self.p), -1, dtype=int)
        for r in table.scales:
            self.scale_pid[r.group, r.r] = r.pid

    def scales(self, x: np.ndarray, g: int, imp: Implied | None = None) -> np.ndarray:
        """``Delta`` of group ``g`` (1 for fixed scale factors and continuous variables; in
        the theta parameterization ``1 / sqrt(Sigma*_ii)`` of the ordered variables)."""
        if self.theta:
            out = np.ones(self.p)
            sigma = (imp or super().implied(x, g)).sigma
            out[self.ordinal] = 1.0 / np.sqrt(np.maximum(np.diag(sigma)[self.ordinal], 1e-300))
            return out
        pid = self.scale_pid[g]
        return np.where(pid >= 0, x[np.maximum(pid, 0)], 1.0)

    def implied(self, x: np.ndarray, g: int) -> Implied:
        """As :meth:`Model.implied`, with the ordered variables' residual variances set so
        that ``diag(Sigma*) = 1/Delta^2``."""
        imp = super().implied(x, g)
        k = self.ordinal
        if not len(k) or self.theta:
            return imp
        theta = imp.theta.copy()
        sigma = imp.sigma.copy()
        target = 1.0 / self.scales(x, g, imp)[k] ** 2
        theta[k, k] = target - (imp.sigma[k, k] - imp.theta[k, k])
        sigma[k, k] = target
        return dataclasses.replace(imp, theta=theta, sigma=sigma)

    def row_values(self, x: np.ndarray) -> np.ndarray:
        """Every row's value; the ordered variables' residual variances at ``x`` (fixed,
        derived rows, as lavaan reports them)."""
        values = super().row_values(x)
        cache: dict[int, Implied] = {}
        for i, g, k in self.residual_rows:
            if g not in cache:
                cache[g] = self.implied(x, g)
            values[i] = cache[g].theta[k, k]
        return values


class DWLSEstimator(MLEstimator):
    """The DWLS discrepancy of thresholds and polychoric correlations, its gradient and
    Gauss-Newton information (the interface :mod:`analysis.sem.optimizer` uses)."""

    name = "dwls"

    def __init__(self, model: DeltaModel, stats: Sequence[OrdinalStats]):
        self.stats = list(stats)
        super().__init__(model, [s.moments for s in stats])
        table = model.table
        self.model: DeltaModel = model
        self.iu = np.triu_indices(self.p, 1)
        self.first_pid, self.first_var, self.numeric = [], [], []
        for g in range(self.G):
            rows = [r for r in table.thresholds if r.group == g]
            if len(rows) != self.stats[g].n_thresholds:
                raise ValueError("the parameter table's thresholds do not match the sample thresholds")
            numeric = set(self.stats[g].numeric)
            pid, var = [], []
            for j in range(self.p):  # lavaan's order: thresholds or the mean, variable by variable
                own = [r.pid for r in rows if r.r == j]
                pid += [-1] if j in numeric else own
                var += [j] * (1 if j in numeric else len(own))
            self.first_pid.append(np.array(pid, dtype=int))
            self.first_var.append(np.array(var, dtype=int))
            self.numeric.append(np.array(sorted(numeric), dtype=int))
        self.weight = [s.n / self.N for s in self.stats]

    # ------------------------------------------------------------------ moments
    def implied_statistics(self, x: np.ndarray, g: int, imp: Implied | None = None) -> np.ndarray:
        """``sigma_g(theta)``: the model thresholds ``Delta_i (tau_ik - mu_i)`` (lavaan; ``mu =
        nu + Lambda A alpha``, 0 unless latent means are free), the means ``mu_i`` and
        variances ``Sigma_ii`` of continuous variables, and the implied covariances
        ``Delta_i Delta_j Sigma*_ij`` (polychoric correlations between ordered variables)."""
        imp = imp or self.model.implied(x, g)
        delta = self.model.scales(x, g, imp)
        var, pid = self.first_var[g], self.first_pid[g]
        mu = imp.mu[var]
        first = np.where(pid >= 0, delta[var] * (x[np.maximum(pid, 0)] - mu), mu)
        num, (i, j) = self.numeric[g], self.iu
        return np.concatenate([first, imp.sigma[num, num], delta[i] * delta[j] * imp.sigma[i, j]])

    def delta(self, x: np.ndarray, g: int, imp: Implied | None = None) -> np.ndarray:
        """``Delta_g = d sigma_g / d theta`` (statistics x parameters; lavaan ``computeDelta``):
        ``-Delta_i dmu_i`` (``dmu_i`` for a mean), ``dSigma_ii`` and ``Delta_i Delta_j dSigma_ij``
        for the model parameters, ``Delta_i`` for the thresholds, ``tau_ik - mu_i`` and
        ``Delta_j Sigma_ij`` for the scale factors."""
        imp = imp or self.model.implied(x, g)
        ds, dm = self.model.jacobian(imp, g)
        scale = self.model.scales(x, g, imp)
        var, pid = self.first_var[g], self.first_pid[g]
        num, (i, j) = self.numeric[g], self.iu
        n_f, n_v = len(pid), len(num)
        is_thr = pid >= 0
        out = np.zeros((n_f + n_v + len(i), self.npar))
        out[:n_f] = np.where(is_thr, -scale[var], 1.0)[:, None] * dm[:, var].T
        rows_t = np.flatnonzero(is_thr)
        np.add.at(out, (rows_t, pid[rows_t]), scale[var][rows_t])
        out[n_f:n_f + n_v] = ds[:, num, num].T
        out[n_f + n_v:] = (scale[i] * scale[j])[:, None] * ds[:, i, j].T
        spid = self.model.scale_pid[g]
        if np.any(spid >= 0):
            rows_s = rows_t[spid[var][rows_t] >= 0]
            np.add.at(out, (rows_s, spid[var][rows_s]), x[pid[rows_s]] - imp.mu[var][rows_s])
            sig = imp.sigma[i, j]
            for a, b in ((i, j), (j, i)):
                r = np.flatnonzero(spid[a] >= 0)
                np.add.at(out, (n_f + n_v + r, spid[a][r]), scale[b][r] * sig[r])
        if self.model.theta:  # derived scales: dDelta_k = -Delta_k^3 dSigma_kk / 2
            k = self.model.ordinal
            d_scale = np.zeros((self.npar, self.p))
            d_scale[:, k] = -0.5 * scale[k] ** 3 * ds[:, k, k]
            rows_t = np.flatnonzero(is_thr)
            out[rows_t] += (x[pid[rows_t]] - imp.mu[var][rows_t])[:, None] * d_scale[:, var[rows_t]].T
            sig = imp.sigma[i, j]
            out[n_f + n_v:] += (sig * scale[j])[:, None] * d_scale[:, i].T + (sig * scale[i])[:, None] * d_scale[:, j].T
        return out

    # ------------------------------------------------------------------ discrepancy
    def objective(self, x: np.ndarray, gradient: bool = True) -> float | tuple[float, np.ndarray]:
        """``F_DWLS`` and, by default, its gradient ``-2 sum_g n_g/N Delta_g' W_g (s_g - sigma_g)``:
        through :meth:`Model.gradient` with ``dF/dSigma_ij = Delta_i Delta_j h_ij / 2`` on both
        off-diagonal positions, ``dF/dSigma_ii = h_ii`` for a continuous variance and
        ``dF/dmu_i = -Delta_i sum_k h_ik`` (``h_i`` for a mean; ``h = -2 n_g/N W e``), plus the
        thresholds' and scale factors' own terms."""
        f = 0.0
        grad = np.zeros(self.npar)
        i, j = self.iu
        for g, st in enumerate(self.stats):
            imp = self.model.implied(x, g)
            e = st.s - self.implied_statistics(x, g, imp)
            we = st.weights * e
            fg = self.weight[g]
            f += fg * float(e @ we)
            if not gradient:
                continue
            h = -2 * fg * we
            if self.model.theta:  # the chain rule through the derived scales: Delta_g' h
                grad += self.delta(x, g, imp).T @ h
                continue
            scale = self.model.scales(x, g, imp)
            var, pid, num = self.first_var[g], self.first_pid[g], self.numeric[g]
            n_f, n_v = len(pid), len(num)
            is_thr = pid >= 0
            h_first = h[:n_f]
            d_sigma = np.zeros((self.p, self.p))
            d_sigma[i, j] = 0.5 * h[n_f + n_v:] * scale[i] * scale[j]
            d_sigma = d_sigma + d_sigma.T
            d_sigma[num, num] += h[n_f:n_f + n_v]
            d_mu = None
            if self.meanstructure:
                d_mu = np.bincount(var, weights=h_first * np.where(is_thr, -scale[var], 1.0), minlength=self.p)
            grad += self.model.gradient(imp, g, d_sigma, d_mu)
            np.add.at(grad, pid[is_thr], (h_first * scale[var])[is_thr])
            spid = self.model.scale_pid[g]
            if np.any(spid >= 0):
                d_scale = np.bincount(var[is_thr], weights=(h_first * (x[np.maximum(pid, 0)] - imp.mu[var]))[is_thr],
                                      minlength=self.p)
                hs = h[n_f + n_v:] * imp.sigma[i, j]
                d_scale += np.bincount(i, weights=hs * scale[j], minlength=self.p)
                d_scale += np.bincount(j, weights=hs * scale[i], minlength=self.p)
                free = spid >= 0
                np.add.at(grad, spid[free], d_scale[free])
        return (f, grad) if gradient else f

    def unit_information(self, x: np.ndarray) -> np.ndarray:
        """``E = sum_g n_g/N Delta_g' W_g Delta_g`` (lavaan's expected information of DWLS)."""
        info = np.zeros((self.npar, self.npar))
        for g, st in enumerate(self.stats):
            d = self.delta(x, g)
            info += self.weight[g] * (d.T * st.weights) @ d
        return info

    def scoring(self, x: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """``(F, gradient, E)``: ``2 E`` is the Gauss-Newton Hessian of ``F_DWLS``."""
        f, grad = self.objective(x)
        return f, grad, self.unit_information(x)

    def information(self, x: np.ndarray) -> np.ndarray:
        """``N E``: the information whose inverse would be the non-robust covariance (lavaan
        ``se = "standard"`` with DWLS); WLSMV's standard errors are the sandwich of
        :func:`analysis.sem.robust.sandwich_vcov`."""
        return self.N * self.unit_information(x)
