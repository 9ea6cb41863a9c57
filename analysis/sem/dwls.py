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
    """The LISREL model with lavaan's delta parameterization of ordered indicators: their
    residual variances are ``theta_ii = 1 - (Lambda A Psi A' Lambda')_ii``, so the implied
    variance of each latent response is 1 (scale factors fixed at 1)."""

    def __init__(self, table: ParameterTable):
        super().__init__(table)
        ov = table.structure.ov
        self.ordinal = np.array([ov.index(v) for v in table.ordered], dtype=int)
        ordered = set(table.ordered)
        self.residual_rows = [(i, r.group, r.r) for i, r in enumerate(table.rows)
                              if r.op == "~~" and r.lhs == r.rhs and r.lhs in ordered and r.matrix == "theta"]

    def implied(self, x: np.ndarray, g: int) -> Implied:
        """As :meth:`Model.implied`, with the ordered variables' residual variances set so
        that ``diag(Sigma*) = 1``."""
        imp = super().implied(x, g)
        k = self.ordinal
        if not len(k):
            return imp
        theta = imp.theta.copy()
        sigma = imp.sigma.copy()
        theta[k, k] = 1.0 - (imp.sigma[k, k] - imp.theta[k, k])
        sigma[k, k] = 1.0
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
        p = model.p
        self.iu = np.triu_indices(p, 1)
        self.threshold_pid = []
        for g in range(self.G):
            pid = np.array([r.pid for r in table.thresholds if r.group == g], dtype=int)
            if len(pid) != self.stats[g].n_thresholds:
                raise ValueError("the parameter table's thresholds do not match the sample thresholds")
            self.threshold_pid.append(pid)
        self.weight = [s.n / self.N for s in self.stats]

    # ------------------------------------------------------------------ moments
    def implied_statistics(self, x: np.ndarray, g: int, imp: Implied | None = None) -> np.ndarray:
        """``sigma_g(theta)``: the model thresholds (delta parameterization, intercepts and
        latent means 0: the threshold parameters) and implied polychoric correlations."""
        imp = imp or self.model.implied(x, g)
        return np.concatenate([x[self.threshold_pid[g]], imp.sigma[self.iu]])

    def delta(self, x: np.ndarray, g: int, imp: Implied | None = None) -> np.ndarray:
        """``Delta_g = d sigma_g / d theta`` (statistics x parameters; lavaan ``computeDelta``)."""
        imp = imp or self.model.implied(x, g)
        ds, _ = self.model.jacobian(imp, g)
        n_t = len(self.threshold_pid[g])
        out = np.zeros((n_t + len(self.iu[0]), self.npar))
        out[np.arange(n_t), self.threshold_pid[g]] = 1.0
        out[n_t:] = ds[:, self.iu[0], self.iu[1]].T
        return out

    # ------------------------------------------------------------------ discrepancy
    def objective(self, x: np.ndarray, gradient: bool = True) -> float | tuple[float, np.ndarray]:
        """``F_DWLS`` and, by default, its gradient ``-2 sum_g n_g/N Delta_g' W_g (s_g - sigma_g)``
        (through :meth:`Model.gradient` with ``dF/dSigma_ij = -n_g/N w_ij e_ij`` on both
        off-diagonal positions)."""
        f = 0.0
        grad = np.zeros(self.npar)
        for g, st in enumerate(self.stats):
            imp = self.model.implied(x, g)
            e = st.s - self.implied_statistics(x, g, imp)
            we = st.weights * e
            fg = self.weight[g]
            f += fg * float(e @ we)
            if gradient:
                n_t = st.n_thresholds
                d_sigma = np.zeros((self.p, self.p))
                d_sigma[self.iu] = -fg * we[n_t:]
                d_sigma = d_sigma + d_sigma.T
                grad += self.model.gradient(imp, g, d_sigma, None)
                np.add.at(grad, self.threshold_pid[g], -2 * fg * we[:n_t])
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
