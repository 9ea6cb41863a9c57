"""Variances of the estimates: the information matrix, its inverse, and the delta method
for ``:=`` parameters.

Standard errors come from the inverse of the estimator's information
(:meth:`analysis.sem.ml.MLEstimator.information`: expected for ML, lavaan
``information = "expected"``; observed for FIML, lavaan's default with ``missing = "ml"``).
A singular information matrix means the model is not identified, and names the
parameters involved. A defined parameter ``d(theta)`` gets ``se = sqrt(J V J')`` with
``J`` its gradient by central differences (the delta method; lavaan ``lav_func_jacobian_complex``
does the same numerically).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import linalg

from analysis.errors import ModelSpecificationError
from analysis.sem.ml import MLEstimator
from analysis.sem.partable import ParameterTable
from analysis.sem.syntax import ModelSyntax, evaluate


def identification_check(info: np.ndarray, table: ParameterTable) -> None:
    """Raise :class:`ModelSpecificationError` if the information matrix is singular."""
    eig, vec = np.linalg.eigh(info)
    if eig[0] <= max(1e-10, 1e-12 * eig[-1]):
        pids = np.argsort(-np.abs(vec[:, 0]))[:3]
        names = []
        for pid in pids:
            r = table.row_of(int(pid))
            names.append(f"{r.lhs} {r.op} {r.rhs}".strip())
        raise ModelSpecificationError(
            f"the model is not identified: the information matrix is singular; parameters involved: "
            f"{', '.join(names)}",
            where="model", fix="fix a loading to 1 or a latent variance to 1 per factor, or remove parameters")


def vcov(estimator: MLEstimator, x: np.ndarray, table: ParameterTable) -> np.ndarray:
    """Covariance matrix of the free parameters: the inverse information."""
    info = estimator.information(x)
    identification_check(info, table)
    return linalg.inv(info)


def label_values(table: ParameterTable, values: np.ndarray) -> dict[str, float]:
    """The value of every label (first row carrying it) from the rows' ``values``."""
    out: dict[str, float] = {}
    for r, v in zip(table.rows, values, strict=True):
        if r.label and r.label not in out:
            out[r.label] = float(v)
    return out


def defined_values(syntax: ModelSyntax, labels: dict[str, float]) -> np.ndarray:
    """Every ``:=`` parameter at the given label values (NaN where it is undefined, e.g.
    ``a/b`` at ``b = 0`` or ``log`` of a negative value); later definitions may use earlier ones."""
    vals = dict(labels)
    out = []
    for d in syntax.definitions:
        try:
            v = evaluate(d.expression, vals)
        except (ZeroDivisionError, ValueError, OverflowError):
            v = float("nan")
        vals[d.name] = v
        out.append(v)
    return np.array(out)


def defined_se(syntax: ModelSyntax, table: ParameterTable, row_values, x: np.ndarray,
               cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(values, delta-method standard errors)`` of the ``:=`` parameters.

    ``row_values(x)`` gives every row's value at ``x``; only the parameters that carry a
    label can move a defined parameter, so only their columns of ``J`` are computed.
    """
    labelled = sorted({r.pid for r in table.rows if r.label and r.pid >= 0})
    return delta_method(lambda xx: defined_values(syntax, label_values(table, row_values(xx))), x, labelled, cov)


def delta_method(values, x: np.ndarray, moving: list[int], cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""``(values(x), delta-method SEs)``: :math:`SE = \sqrt{\operatorname{diag}(J \Sigma J')}`
    with the Jacobian :math:`J` by central differences over the parameters in ``moving``
    (the others cannot change the values); ``cov`` is the parameters' covariance matrix."""
    dvals = values(x)
    jac = np.zeros((len(dvals), len(x)))
    for k in moving:
        h = 1e-6 * max(1.0, abs(x[k]))
        xp, xm = x.copy(), x.copy()
        xp[k] += h
        xm[k] -= h
        jac[:, k] = (values(xp) - values(xm)) / (2 * h)
    return dvals, np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", jac, cov, jac), 0))


def parameter_se(table: ParameterTable, cov: np.ndarray) -> np.ndarray:
    """Standard error of every row (0 for fixed rows)."""
    return np.array([math.sqrt(max(cov[r.pid, r.pid], 0)) if r.pid >= 0 else 0.0 for r in table.rows])
