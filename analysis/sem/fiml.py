"""Full-information maximum likelihood for incomplete data (lavaan ``missing = "ml"``).

The casewise log-likelihood ``-1/2 sum_i [p_i log 2 pi + log|Sigma_i| + (x_i - mu_i)'
Sigma_i^-1 (x_i - mu_i)]`` over the variables observed in case i (Arbuckle 1996;
Enders 2010), from one factorisation of the full ``Sigma`` per evaluation
(:meth:`analysis.sem.casewise.IncompleteData.estep`). By Fisher's identity its gradient
with respect to the implied moments is the complete-data one at the expected sufficient
statistics: ``dF/dSigma = (n K - K S^ K) / N`` and ``dF/dmu = -2 K e^ / N`` with
``K = Sigma^-1``, ``S^ = sum_i E[(x_i - mu)(x_i - mu)']`` and ``e^ = sum_i E[x_i - mu]``,
then chained to the parameters by the Jacobian (:meth:`analysis.sem.matrices.Model.jacobian`).
Groups without missing values use the complete-data terms of :class:`MLEstimator`.
Standard errors use the observed information (lavaan's default with ``missing = "ml"``):
central differences of the analytic gradient.
"""

from __future__ import annotations

import numpy as np

from analysis.sem.matrices import Implied
from analysis.sem.ml import GroupTerms, MLEstimator
from analysis.sem.samplestats import GroupStats


class FIMLEstimator(MLEstimator):
    """Casewise (full-information) ML; complete groups as :class:`MLEstimator`."""

    name = "fiml"

    def group_terms(self, imp: Implied, d: GroupStats, *, derivatives: bool = True) -> GroupTerms | None:
        if d.cases is None:
            return super().group_terms(imp, d, derivatives=derivatives)
        step = d.cases.estep(imp.mu, imp.sigma)
        if step is None:
            return None
        k = step.sigma_inv
        if not derivatives:
            return GroupTerms(step.deviance, np.empty(0), np.empty(0), k)
        d_sigma = (d.n * k - k @ step.cross_sum @ k) / self.N
        d_mu = -2 * k @ step.dev_sum / self.N
        return GroupTerms(step.deviance, d_sigma, d_mu, k)

    def observed_information(self, x: np.ndarray) -> np.ndarray:
        """Hessian of -logl = N/2 * Hessian of the discrepancy (central differences of the gradient)."""
        h_mat = np.zeros((self.npar, self.npar))
        for k in range(self.npar):
            h = 1e-5 * max(1.0, abs(x[k]))
            xp, xm = x.copy(), x.copy()
            xp[k] += h
            xm[k] -= h
            h_mat[:, k] = (self.objective(xp)[1] - self.objective(xm)[1]) / (2 * h)
        return self.N / 2 * (h_mat + h_mat.T) / 2

    def information(self, x: np.ndarray) -> np.ndarray:
        """The observed information (lavaan's default with ``missing = "ml"``)."""
        return self.observed_information(x)
