"""The maximum-likelihood estimator for complete data (lavaan ``estimator = "ML"``).

:class:`MLEstimator` is the base of every estimator: it holds the model matrices and the
groups' sample statistics and gives the discrepancy, its analytic gradient and the
expected information, which the optimiser (:mod:`analysis.sem.optimizer`), the standard
errors (:mod:`analysis.sem.variance`) and the modification indices use. FIML
(:mod:`analysis.sem.fiml`) overrides the per-group discrepancy; a DWLS or two-level
estimator would be one more module overriding :meth:`MLEstimator.group_terms` and
:meth:`MLEstimator.information` (and be added to ``ESTIMATORS`` in
:mod:`analysis.sem.fitting`).

Complete-data ML (Jöreskog 1969; Bollen 1989, ch. 4)::

    F_ML = sum_g n_g / N [log|Sigma_g| + tr(S_g Sigma_g^-1) - log|S_g| - p + (m_g - mu_g)' Sigma_g^-1 (m_g - mu_g)]

with S divided by N (lavaan ``likelihood = "normal"``); the chi-square is ``N F_ML``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.linalg import lapack

from analysis.sem.matrices import Implied, Model
from analysis.sem.samplestats import GroupStats


@dataclass(frozen=True)
class GroupTerms:
    """One group's contribution at a parameter vector: the deviance
    ``sum_i [log|Sigma| + e_i' Sigma^-1 e_i]`` (casewise with missing values), the
    derivatives of the discrepancy (deviance / N) by Sigma and mu, and ``Sigma^-1``."""

    deviance: float
    d_sigma: np.ndarray
    d_mu: np.ndarray
    sigma_inv: np.ndarray


def inverse_pd(sigma: np.ndarray) -> tuple[np.ndarray, float] | None:
    """``(Sigma^-1, log|Sigma|)`` by Cholesky; None if ``sigma`` is not positive definite."""
    chol, info = lapack.dpotrf(sigma, lower=1)
    if info != 0:
        return None
    diag = np.diag(chol)
    if not np.all(diag > 0) or not np.all(np.isfinite(diag)):
        return None
    inv, info = lapack.dpotri(chol, lower=1)
    if info != 0:
        return None
    # dpotrf cleans the upper triangle and dpotri fills the lower one: mirror it
    return inv + inv.T - np.diag(np.diag(inv)), 2 * float(np.sum(np.log(diag)))


class MLEstimator:
    """ML discrepancy, gradient and information of a model on the attached sample."""

    name = "ml"

    def __init__(self, model: Model, sample: Sequence[GroupStats]):
        self.model = model
        self.G, self.npar, self.meanstructure = model.G, model.npar, model.meanstructure
        self.p = model.p
        self.sample: list[GroupStats] = []
        self.N = 0
        self.const = 0.0
        self.set_sample(sample)

    # ------------------------------------------------------------------ data
    def set_sample(self, sample: Sequence[GroupStats]) -> None:
        """Attach group statistics; fixed-x moments are set to their sample values."""
        self.sample = list(sample)
        self.N = sum(d.n for d in sample)
        self.model.set_sample(sample)
        # constant so that the complete-data discrepancy is lavaan's F_ML (0 at the saturated model)
        self.const = 0.0
        for d in sample:
            if d.complete:
                self.const += d.n * (np.linalg.slogdet(d.cov)[1] + self.p) / self.N

    @property
    def data(self) -> list[GroupStats]:
        return self.sample

    # ------------------------------------------------------------------ per group
    def group_terms(self, imp: Implied, d: GroupStats, *, derivatives: bool = True) -> GroupTerms | None:
        """Complete-data terms from the sample moments; None if Sigma is not positive definite."""
        inv = inverse_pd(imp.sigma)
        if inv is None:
            return None
        k, logdet = inv
        n = d.n
        e = d.mean - imp.mu if self.meanstructure else np.zeros(self.p)
        ke = k @ e
        deviance = n * (logdet + float(np.sum(k * d.cov)) + float(e @ ke))
        if not derivatives:
            return GroupTerms(deviance, np.empty(0), np.empty(0), k)
        ks = k @ d.cov
        d_sigma = n * (k - ks @ k - np.outer(ke, ke)) / self.N
        d_mu = -2 * n * ke / self.N
        return GroupTerms(deviance, d_sigma, d_mu, k)

    # ------------------------------------------------------------------ whole model
    def objective(self, x: np.ndarray, gradient: bool = True) -> float | tuple[float, np.ndarray]:
        """Discrepancy (1e10 where Sigma is not positive definite) and, by default, its gradient."""
        f = 0.0
        grad = np.zeros(self.npar)
        for g, d in enumerate(self.sample):
            imp = self.model.implied(x, g)
            terms = self.group_terms(imp, d, derivatives=gradient)
            if terms is None:
                return (1e10, grad) if gradient else 1e10
            f += terms.deviance
            if gradient:
                grad += self.model.gradient(imp, g, terms.d_sigma, terms.d_mu if self.meanstructure else None)
        f = f / self.N - self.const
        return (f, grad) if gradient else f

    def scoring(self, x: np.ndarray) -> tuple[float, np.ndarray, np.ndarray] | None:
        """``(F, gradient, expected information / N)`` in one pass (Fisher scoring);
        None where Sigma is not positive definite. ``2 * info`` is the expected Hessian of F."""
        f = 0.0
        grad = np.zeros(self.npar)
        info = np.zeros((self.npar, self.npar))
        for g, d in enumerate(self.sample):
            imp = self.model.implied(x, g)
            terms = self.group_terms(imp, d)
            if terms is None:
                return None
            f += terms.deviance
            ds, dm = self.model.jacobian(imp, g)
            grad += np.einsum("kab,ab->k", ds, terms.d_sigma)
            if self.meanstructure:
                grad += dm @ terms.d_mu
            info += d.n / self.N * self._unit_information(terms.sigma_inv, ds, dm)
        return f / self.N - self.const, grad, info

    def _unit_information(self, k: np.ndarray, ds: np.ndarray, dm: np.ndarray) -> np.ndarray:
        """``1/2 tr(K dS_k K dS_l) + dmu_k' K dmu_l`` (one case's expected information)."""
        lchol = np.linalg.cholesky(k)
        v = (lchol.T @ ds @ lchol).reshape(len(ds), -1)
        part = 0.5 * v @ v.T
        if self.meanstructure:
            part += dm @ k @ dm.T
        return part

    def expected_information(self, x: np.ndarray) -> np.ndarray:
        """Total expected information ``sum_g n_g [1/2 tr(S^-1 dS_k S^-1 dS_l) + dmu_k' S^-1 dmu_l]``
        (lavaan ``information = "expected"``)."""
        info = np.zeros((self.npar, self.npar))
        for g, d in enumerate(self.sample):
            imp = self.model.implied(x, g)
            inv = inverse_pd(imp.sigma)
            k = inv[0] if inv is not None else np.linalg.inv(imp.sigma)
            ds, dm = self.model.jacobian(imp, g)
            info += d.n * self._unit_information(k, ds, dm)
        return info

    def information(self, x: np.ndarray) -> np.ndarray:
        """The information whose inverse gives the standard errors: expected for ML."""
        return self.expected_information(x)
