"""The optimiser: Fisher scoring with a line search, and L-BFGS as the safeguard.

:func:`minimize` takes Fisher-scoring steps ``delta = -(2 I)^-1 g`` on the expected
information ``I`` (per case; ``2 I`` is the expected Hessian of the discrepancy F), the
Gauss-Newton step of ML estimation (Lee & Jennrich 1979; Bollen 1989, ch. 4; lavaan's
``optim.method = "GN"``). A backtracking (Armijo) line search keeps every step
downhill and Sigma positive definite. Near the optimum the steps converge fast (one or
two dozen for a survey SEM, where L-BFGS needed about 80 gradient evaluations); if a step
is not a descent direction, the line search fails or the iterations run out, the
current best point is handed to L-BFGS with the analytic gradient, the former
optimiser, so a hard model is never worse off than before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize

from analysis.sem.ml import MLEstimator

#: Gradient size below which a solution counts as converged (the former criterion).
CONVERGED_GRADIENT = 1e-4


@dataclass(frozen=True)
class Optimum:
    """The result of :func:`minimize`."""

    x: np.ndarray
    converged: bool
    message: str
    iterations: int
    method: str


def minimize(estimator: MLEstimator, x0: np.ndarray, *, precise: bool = True, max_iter: int = 100,
             metric: np.ndarray | None = None) -> Optimum:
    """Minimise the estimator's discrepancy from ``x0``.

    ``precise=False`` (bootstrap refits from the point estimate) stops at changes far
    below the sampling error. ``metric``: the Cholesky factor (lower) of a fixed
    Hessian, e.g. ``2 I`` at the point estimate for the bootstrap refits, which then
    take quasi-Newton steps with that metric and only the gradient per iteration
    (near the estimate the information hardly changes); full scoring takes over if
    those steps stall.
    """
    xtol = 1e-10 if precise else 1e-6
    if metric is not None:
        done = _fixed_metric(estimator, np.asarray(x0, dtype=float), metric, xtol, max_iter)
        if done is not None:
            return done
    x = np.asarray(x0, dtype=float).copy()
    state = estimator.scoring(x)
    it = 0
    message = "the start values give a covariance matrix that is not positive definite"
    if state is not None:
        f, g, info = state
        while it < max_iter:
            it += 1
            try:
                step = -linalg.solve(2 * info, g, assume_a="pos")
            except (linalg.LinAlgError, ValueError):
                message = "the expected information is singular"
                break
            slope = float(g @ step)
            if not np.isfinite(slope) or slope >= 0:
                message = "the scoring step is not a descent direction"
                break
            size = float(np.max(np.abs(step) / np.maximum(1.0, np.abs(x))))
            if size < xtol or -slope < 1e-18:
                x_new = x + step  # the last (tiny) step
                new = estimator.scoring(x_new)
                if new is not None and new[0] <= f + 1e-14 * max(1.0, abs(f)):
                    x, (f, g, info) = x_new, new
                if float(np.max(np.abs(g))) < CONVERGED_GRADIENT:
                    return Optimum(x, True, "Fisher scoring converged", it, "fisher")
                message = "Fisher scoring stalled with a large gradient"
                break
            t, accepted = 1.0, None
            for _ in range(40):
                x_try = x + t * step
                if t == 1.0:
                    trial = estimator.scoring(x_try)
                    f_try = trial[0] if trial is not None else np.inf
                else:
                    f_try = float(estimator.objective(x_try, gradient=False))
                    trial = None
                if np.isfinite(f_try) and f_try < 1e9 and f_try <= f + 1e-4 * t * slope:
                    accepted = (x_try, trial)
                    break
                if trial is not None and f_try - f <= 1e-12 * max(1.0, abs(f)) and \
                        np.max(np.abs(trial[1])) < np.max(np.abs(g)):
                    accepted = (x_try, trial)  # F changes at rounding level only, the gradient shrinks
                    break
                t *= 0.5
            if accepted is None:
                message = "the line search failed"
                break
            x, trial = accepted
            state = trial if trial is not None else estimator.scoring(x)
            if state is None:
                message = "the covariance matrix is not positive definite"
                break
            f, g, info = state
        else:
            message = f"Fisher scoring did not converge in {max_iter} iterations"
    return _lbfgs(estimator, x if state is not None else np.asarray(x0, dtype=float), precise, it, message)


def _fixed_metric(estimator: MLEstimator, x: np.ndarray, chol: np.ndarray, xtol: float,
                  max_iter: int) -> Optimum | None:
    """Steps ``-H^-1 g`` with a fixed ``H = chol chol'`` and a backtracking line search;
    None when they stall (the caller then runs full scoring from ``x``)."""
    f, g = estimator.objective(x)
    if not f < 1e9:
        return None
    for it in range(1, max_iter + 1):
        step = -linalg.cho_solve((chol, True), g)
        slope = float(g @ step)
        if not np.isfinite(slope) or slope >= 0:
            return None
        if float(np.max(np.abs(step) / np.maximum(1.0, np.abs(x)))) < xtol:
            if float(np.max(np.abs(g))) < CONVERGED_GRADIENT:
                return Optimum(x, True, "converged (fixed metric)", it, "fixed-metric")
            return None
        t = 1.0
        for _ in range(30):
            f_try, g_try = estimator.objective(x + t * step)
            if f_try < 1e9 and (f_try <= f + 1e-4 * t * slope or (
                    f_try - f <= 1e-12 * max(1.0, abs(f)) and np.max(np.abs(g_try)) < np.max(np.abs(g)))):
                break
            t *= 0.5
        else:
            return None
        x, f, g = x + t * step, f_try, g_try
    return None


def _lbfgs(estimator: MLEstimator, x0: np.ndarray, precise: bool, it: int, why: str) -> Optimum:
    """L-BFGS with the analytic gradient (the safeguard)."""
    tol = {"ftol": 1e-15, "gtol": 1e-9, "maxcor": 20} if precise else {"ftol": 1e-11, "gtol": 1e-6, "maxcor": 10}
    res = optimize.minimize(estimator.objective, x0, jac=True, method="L-BFGS-B",
                            options={"maxiter": 10_000, "maxfun": 20_000, **tol})
    f, g = estimator.objective(res.x)
    converged = bool(np.isfinite(f) and np.max(np.abs(g)) < CONVERGED_GRADIENT)
    return Optimum(res.x, converged, f"{why}; L-BFGS: {res.message}", it + int(res.nit), "lbfgs")
