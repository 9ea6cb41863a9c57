"""Casewise normal likelihood of incomplete data and its E-step (FIML and EM).

:class:`IncompleteData` keeps the sufficient statistics of a data matrix with missing
values once; :meth:`IncompleteData.estep` then gives, for any mean vector and covariance
matrix, the casewise (full-information) -2 log-likelihood together with the conditional
expectations of the complete-data sufficient statistics. The FIML discrepancy, its
analytic gradient (:mod:`analysis.sem`) and the EM estimate of the unrestricted model
(:func:`em_saturated`) all come from that one computation.

Only the full ``Sigma`` is factored: the inverse and determinant of the observed block of
a case follow from ``K = Sigma^-1`` and the small block ``K_mm`` of its missing
variables (lavaan does the same in ``lav_mvnorm_missing_loglik_samplestats`` with
``lav_matrix_symmetric_inverse_update``). Cases with q missing values whose patterns
repeat (on average at least p - q cases per pattern, as in large surveys) are kept as
each pattern's count, sum and cross-product matrix, so an evaluation costs O(p^3) per
pattern whatever the number of cases; other cases are kept one by one, O(q p) each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.linalg import lapack as _lapack


@dataclass(frozen=True)
class EStep:
    """Casewise -2 log-likelihood kernel and expected complete-data statistics.

    Attributes
    ----------
    deviance
        ``sum_i [log|Sigma_oo,i| + e_i' Sigma_oo,i^-1 e_i]`` with ``e_i = x_o,i - mu_o``:
        -2 log-likelihood less the constant ``sum_i p_i log(2 pi)``.
    dev_sum
        ``sum_i E[x_i - mu | x_o,i]`` (p).
    cross_sum
        ``sum_i E[(x_i - mu)(x_i - mu)' | x_o,i]`` (p x p).
    sigma_inv
        ``Sigma^-1``.
    """

    deviance: float
    dev_sum: np.ndarray
    cross_sum: np.ndarray
    sigma_inv: np.ndarray


@dataclass(frozen=True)
class _Missing:
    """Cases with the same number q of missing values: their observed values (centred),
    observed and missing column indices, and flat indices into a p x p matrix."""

    x_obs: np.ndarray        # (r, p - q)
    obs: np.ndarray          # (r, p - q)
    mis: np.ndarray          # (r, q)
    flat_mo: np.ndarray      # (r, q, p - q)
    flat_mm: np.ndarray      # (r, q, q)


@dataclass(frozen=True)
class _Patterns:
    """Missing-data patterns with q missing values, P of them: each pattern's number of cases,
    the sum and cross-product matrix of its cases' centred observed values, its observed and
    missing column indices, and flat indices into a p x p matrix."""

    count: np.ndarray        # (P,)
    s1: np.ndarray           # (P, p - q)
    a0: np.ndarray           # (P, p - q, p - q)
    obs: np.ndarray          # (P, p - q)
    mis: np.ndarray          # (P, q)
    flat_mo: np.ndarray      # (P, q, p - q)
    flat_mm: np.ndarray      # (P, q, q)


def missing_patterns(observed: np.ndarray, *, inverse: bool = False) -> Any:
    """The distinct rows of a boolean matrix (sorted by their bits), and with ``inverse`` each
    row's index among them: each row read as the bits of one integer where they fit (one sort
    of integers; ``np.unique(axis=0)`` sorts the rows as records, seconds for a million rows)."""
    p = observed.shape[1]
    if p > 62:
        return np.unique(observed, axis=0, return_inverse=inverse)
    bits = np.arange(p, dtype=np.int64)
    keys = observed.astype(np.int64) @ (np.int64(1) << bits)
    found = np.unique(keys, return_inverse=inverse)
    unique = found[0] if inverse else found
    patterns = ((unique[:, None] >> bits) & 1).astype(bool)
    return (patterns, found[1].ravel()) if inverse else patterns


class IncompleteData:
    """Sufficient statistics of an n x p data matrix with missing values (NaN).

    Parameters
    ----------
    x
        The data; every row has at least one observed value.

    Attributes
    ----------
    n, p
        Number of cases and of variables.
    complete
        True when no value is missing.
    count, center
        Cases observing each variable, and its available-case mean.

    Notes
    -----
    With ``o_i`` the 0/1 indicator of the observed values of case i and ``x~_i`` the case
    centred at the available-case means ``c`` with zeros for missing values, the class
    keeps ``s1 = sum_i x~_i``, ``A = sum_i x~_i x~_i'``, ``M = sum_i x~_i o_i'``,
    ``P = sum_i o_i o_i'`` and, for the cases with missing values only, their observed
    values. Then for any ``mu`` (``d = mu - c``)
    ``sum_i (x~_i - d o_i)(x~_i - d o_i)' = A - M D - D M' + P * d d'`` with ``D = diag(d)``,
    which is all the complete part of the E-step needs.
    """

    def __init__(self, x: np.ndarray):
        x = np.asarray(x, dtype=float)
        observed = ~np.isnan(x)
        self.n, self.p = n, p = x.shape
        self.complete = bool(observed.all())
        self.missing: list[_Missing] = []
        self.patterns: list[_Patterns] = []
        if self.complete:
            self.count = np.full(p, float(n))
            self.center = x.mean(axis=0)
            xc = x - self.center
            self.s1 = xc.sum(axis=0)
            self.a0 = xc.T @ xc
            self.m0 = np.repeat(self.s1[:, None], p, axis=1)
            self.pairs = np.full((p, p), float(n))
            self.n_values = n * p
            return
        o = observed.astype(float)
        self.count = o.sum(axis=0)
        self.center = np.where(observed, x, 0.0).sum(axis=0) / self.count
        xc = np.where(observed, x - self.center, 0.0)
        self.s1 = xc.sum(axis=0)
        self.a0 = xc.T @ xc
        self.m0 = xc.T @ o
        self.pairs = o.T @ o
        self.n_values = int(observed.sum())
        q_row = p - observed.sum(axis=1)
        for q in np.unique(q_row[q_row > 0]):
            rows = np.flatnonzero(q_row == q)
            patterns, which = missing_patterns(observed[rows], inverse=True)
            if len(patterns) * (p - q) <= len(rows):
                self.patterns.append(_pattern_moments(xc[rows], patterns, which))
                continue
            obs = np.nonzero(observed[rows])[1].reshape(len(rows), p - q)
            mis = np.nonzero(~observed[rows])[1].reshape(len(rows), q)
            self.missing.append(_Missing(xc[rows[:, None], obs], obs, mis,
                                         mis[:, :, None] * p + obs[:, None, :],
                                         mis[:, :, None] * p + mis[:, None, :]))

    def available_case_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Means and (biased) variances of each variable over the cases that observe it."""
        shift = self.s1 / self.count
        return self.center + shift, np.diag(self.a0) / self.count - shift ** 2

    def estep(self, mu: np.ndarray, sigma: np.ndarray) -> EStep | None:
        """Casewise -2 log-likelihood kernel and E-step at ``(mu, sigma)``; None if ``sigma``
        is not positive definite.

        Notes
        -----
        With ``K = Sigma^-1`` and, for a case, observed part o and missing part m
        (Arbuckle 1996; Enders 2010, ch. 4; Little & Rubin 2002, ch. 11):
        ``Sigma_oo^-1 = K_oo - K_om K_mm^-1 K_mo``, ``log|Sigma_oo| = log|Sigma| + log|K_mm|``,
        ``E[x_m - mu_m | x_o] = -K_mm^-1 K_mo e`` and
        ``Cov[x_m | x_o] = K_mm^-1``, so with ``u = K_mo e`` and ``v = K_mm^-1 u``:
        ``e' Sigma_oo^-1 e = e' K_oo e - u'v`` and the expected cross-products are
        ``e e'`` (oo), ``-v e'`` (mo) and ``v v' + K_mm^-1`` (mm).
        """
        chol, info = _lapack.dpotrf(sigma, lower=1)
        if info != 0:
            return None
        diag = np.diag(chol)
        if not np.all(diag > 0) or not np.all(np.isfinite(diag)):
            return None
        inv, info = _lapack.dpotri(chol, lower=1)
        if info != 0:
            return None
        k = np.tril(inv) + np.tril(inv, -1).T
        p = self.p
        d = mu - self.center
        md = self.m0 * d
        cross = self.a0 - md - md.T + self.pairs * np.outer(d, d)
        dev_sum = self.s1 - self.count * d
        deviance = 2 * np.sum(np.log(diag)) * self.n + float(np.sum(k * cross))
        mo_sum = np.zeros(p * p)
        k_flat = k.ravel()
        for g in self.missing:
            e = g.x_obs - d[g.obs]
            kmo = k_flat[g.flat_mo]
            kmm = k_flat[g.flat_mm]
            u = np.einsum("rqk,rk->rq", kmo, e)
            try:
                lmm = np.linalg.cholesky(kmm)
            except np.linalg.LinAlgError:
                return None
            cmm = np.linalg.inv(kmm)
            v = np.einsum("rij,rj->ri", cmm, u)
            deviance += 2 * float(np.sum(np.log(np.diagonal(lmm, axis1=1, axis2=2)))) - float(np.sum(u * v))
            dev_sum -= np.bincount(g.mis.ravel(), weights=v.ravel(), minlength=p)
            mo_sum -= np.bincount(g.flat_mo.ravel(), weights=(v[:, :, None] * e[:, None, :]).ravel(),
                                  minlength=p * p)
            cross += np.bincount(g.flat_mm.ravel(), weights=(v[:, :, None] * v[:, None, :] + cmm).ravel(),
                                 minlength=p * p).reshape(p, p)
        for g in self.patterns:  # the same sums, from each pattern's moments (e = x_o - d_o over its cases)
            d_o = d[g.obs]
            e_sum = g.s1 - g.count[:, None] * d_o
            sd = np.einsum("pi,pj->pij", g.s1, d_o)
            ee = g.a0 - sd - sd.transpose(0, 2, 1) + g.count[:, None, None] * np.einsum("pi,pj->pij", d_o, d_o)
            kmo = k_flat[g.flat_mo]
            kmm = k_flat[g.flat_mm]
            try:
                lmm = np.linalg.cholesky(kmm)
            except np.linalg.LinAlgError:
                return None
            cmm = np.linalg.inv(kmm)
            w = cmm @ kmo  # v = w e for each case of the pattern
            w_ee = w @ ee
            deviance += 2 * float(g.count @ np.sum(np.log(np.diagonal(lmm, axis1=1, axis2=2)), axis=1)) \
                - float(np.einsum("pqo,pqo->", kmo, w_ee))
            dev_sum -= np.bincount(g.mis.ravel(), weights=np.einsum("pqo,po->pq", w, e_sum).ravel(), minlength=p)
            mo_sum -= np.bincount(g.flat_mo.ravel(), weights=w_ee.ravel(), minlength=p * p)
            vv = w_ee @ w.transpose(0, 2, 1) + g.count[:, None, None] * cmm
            cross += np.bincount(g.flat_mm.ravel(), weights=vv.ravel(), minlength=p * p).reshape(p, p)
        mo = mo_sum.reshape(p, p)
        cross += mo + mo.T
        return EStep(deviance, dev_sum, cross, k)

    def loglik(self, mu: np.ndarray, sigma: np.ndarray) -> float:
        """Casewise normal log-likelihood ``-1/2 sum_i [p_i log(2 pi) + log|Sigma_oo,i| +
        e_i' Sigma_oo,i^-1 e_i]`` (-inf if ``sigma`` is not positive definite)."""
        step = self.estep(mu, sigma)
        if step is None:
            return float("-inf")
        return -0.5 * (self.n_values * np.log(2 * np.pi) + step.deviance)


def _pattern_moments(xc: np.ndarray, patterns: np.ndarray, which: np.ndarray) -> _Patterns:
    """:class:`_Patterns` of cases ``xc`` (centred, zeros where missing) with pattern
    ``patterns[which[i]]``."""
    p = patterns.shape[1]
    q = p - int(patterns[0].sum())
    obs = np.nonzero(patterns)[1].reshape(len(patterns), p - q)
    mis = np.nonzero(~patterns)[1].reshape(len(patterns), q)
    order = np.argsort(which, kind="stable")
    starts = np.searchsorted(which[order], np.arange(len(patterns) + 1))
    count = np.diff(starts).astype(float)
    s1 = np.empty((len(patterns), p - q))
    a0 = np.empty((len(patterns), p - q, p - q))
    for j in range(len(patterns)):
        cases = xc[order[starts[j]:starts[j + 1]]][:, obs[j]]
        s1[j] = cases.sum(axis=0)
        a0[j] = cases.T @ cases
    return _Patterns(count, s1, a0, obs, mis, mis[:, :, None] * p + obs[:, None, :],
                     mis[:, :, None] * p + mis[:, None, :])


def em_saturated(data: IncompleteData, *, tol: float = 1e-10, max_iter: int = 10_000
                 ) -> tuple[np.ndarray, np.ndarray, int]:
    """EM estimates of the unrestricted mean vector and covariance matrix from incomplete data.

    Parameters
    ----------
    data
        The incomplete data.
    tol
        Stop when no mean or covariance changes by more than this.
    max_iter
        Most iterations.

    Returns
    -------
    mean, cov, iterations

    Notes
    -----
    Starts from the available-case means and variances. The E-step
    (:meth:`IncompleteData.estep`) completes each case with
    ``x_m | x_o ~ N(mu_m + Sigma_mo Sigma_oo^-1 (x_o - mu_o), Sigma_mm - Sigma_mo Sigma_oo^-1 Sigma_om)``;
    the M-step sets ``mu <- mu + sum_i E[x_i - mu] / n`` and ``Sigma`` to the completed
    second moments about it (Dempster, Laird & Rubin 1977; Little & Rubin 2002, ch. 11).
    This is lavaan's ``h1`` model for ``missing = "ml"``
    (``lav_mvnorm_missing_h1_estimate_moments``); R: ``norm::em.norm``.
    """
    mu, var = data.available_case_moments()
    sigma = np.diag(var)
    it = 0
    for iteration in range(1, max_iter + 1):
        it = iteration
        step = data.estep(mu, sigma)
        if step is None:  # singular data: the caller's covariance check reports it
            break
        shift = step.dev_sum / data.n
        new_mu = mu + shift
        new_sigma = step.cross_sum / data.n - np.outer(shift, shift)
        delta = max(np.max(np.abs(new_mu - mu)), np.max(np.abs(new_sigma - sigma)))
        mu, sigma = new_mu, new_sigma
        if delta < tol:
            break
    return mu, sigma, it
