"""Score tests of equality constraints across groups (lavaan ``lavTestScore``).

A multi-group model with ``group_equal`` ties each parameter of a later group to the
first group's (one parameter id). Releasing such a constraint is one more free
parameter, so its test is a modification index of the constraint (Rao 1948; Sörbom
1989; Bentler 1990): with the constrained estimates :math:`\\hat x` embedded in the
unconstrained parameterization (every tied row its own parameter) and re-parameterized
as ``[x; delta]`` with ``delta_j = theta_other_j - theta_reference_j``,

.. math::

    U_j = \\partial \\log L / \\partial \\delta_j, \\qquad
    V = I_{\\delta\\delta} - I_{\\delta x} I_{xx}^{-1} I_{x\\delta}, \\qquad
    X^2_j = U_j^2 / V_{jj} \\ (1\\ df), \\qquad \\mathrm{EPC}_j = U_j / V_{jj},

with the expected information ``I``. That is lavaan's univariate score test
``n s' Z (Z' J Z)^{-1} Z' s`` with ``Z`` spanning the constraints other than ``j``
(``lav_test_score_iinv``): both are the score statistic on the same subspace. The total
test releases all constraints, ``U' V^+ U`` on as many df as constraints (lavaan uses a
generalised inverse too, since releasing every intercept with free latent means is not
identified). Releasing one *parameter* in all later groups (lavaan ``group.partial``)
is the joint test over its constraints, ``U_S' V_SS^{-1} U_S`` on ``G - 1`` df.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import linalg, stats

from analysis.errors import ModelSpecificationError
from analysis.sem.fitted import FittedModel
from analysis.sem.modindices import conditional_score, extended_score

__all__ = ["CONSTRAINT_COLUMNS", "LIKELIHOOD_ESTIMATORS", "PARAMETER_COLUMNS", "ScoreTest", "partial_term",
           "score_test"]

#: Columns of :attr:`ScoreTest.univariate` (one row per constraint, lavaan's ``$uni``).
CONSTRAINT_COLUMNS = ["lhs", "op", "rhs", "group", "reference_group", "category", "X2", "df", "pvalue", "epc"]
#: Columns of :attr:`ScoreTest.by_parameter` (one row per parameter released in every later group).
PARAMETER_COLUMNS = ["term", "lhs", "op", "rhs", "category", "X2", "df", "pvalue"]
#: Estimators whose objective is a likelihood (the score is ``-N/2`` times its gradient).
LIKELIHOOD_ESTIMATORS = ("ml", "fiml")


@dataclass(frozen=True)
class ScoreTest:
    """Score tests of a model's equality constraints.

    Attributes
    ----------
    total
        ``X2``, ``df``, ``pvalue`` of releasing every constraint tested (lavaan ``$test``).
    univariate
        One row per constraint (:data:`CONSTRAINT_COLUMNS`): the parameter, the later
        group whose row is tied to the reference group's, its category (``loadings``,
        ``intercepts`` ...), ``X2`` on 1 df, ``pvalue`` and ``epc`` (expected change of
        the group's value minus the reference group's), largest ``X2`` first.
    by_parameter
        One row per parameter (:data:`PARAMETER_COLUMNS`): releasing it in all later
        groups at once, as ``group_partial`` does; ``term`` is its ``group_partial`` text.
    """

    total: dict[str, float]
    univariate: pd.DataFrame
    by_parameter: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """The univariate tests (a copy)."""
        return self.univariate.copy()


def partial_term(lhs: str, op: str, rhs: str) -> str:
    """The ``group_partial`` text of a parameter: ``"x3 ~ 1"``, ``"visual =~ x2"``."""
    return f"{lhs} ~ 1" if op == "~1" else f"{lhs} {op} {rhs}"


def _constraints(fitted: FittedModel, categories: Sequence[str] | None) -> list[tuple[int, int]]:
    """(reference row, tied row) of every equality of a later group's row with an earlier
    row of the same parameter id, the first row of each id being the reference (lavaan
    ``lav_test_score_ceq_simple``); only tied rows of ``categories`` if given."""
    first: dict[int, int] = {}
    out = []
    for i, r in enumerate(fitted.rows):
        if r.pid < 0:
            continue
        if r.pid not in first:
            first[r.pid] = i
        elif categories is None or r.category in categories:
            out.append((first[r.pid], i))
    return out


def score_test(fitted: FittedModel, *, categories: Sequence[str] | None = None) -> ScoreTest:
    """Score tests of releasing the equality constraints of a fitted model.

    Parameters
    ----------
    fitted
        :attr:`analysis.sem.SEMResult.fitted` of a model with equality constraints
        (``group_equal``, shared labels).
    categories
        Test only constraints whose tied row is of these parameter classes, e.g.
        ``("intercepts",)`` (lavaan ``lavTestScore(fit, release = ...)`` of those rows);
        default every constraint.

    Returns
    -------
    ScoreTest

    Raises
    ------
    ModelSpecificationError
        No equality constraint to test, or an estimator without a likelihood score.

    Notes
    -----
    The module docstring gives the statistic. Expected information, as lavaan's
    default ``information = "expected"``; with FIML the complete-data expected
    information at the estimates (as :func:`analysis.sem.modindices.modification_indices`).
    R: ``lavTestScore(fit)`` (``$test``, ``$uni``).
    """
    name = getattr(fitted.estimator, "name", "")
    if name not in LIKELIHOOD_ESTIMATORS:
        raise ModelSpecificationError(f"score tests of equality constraints need a likelihood; estimator '{name}' "
                                      "has none here yet", where="score_test(fitted)",
                                      fix="use estimator ML (missing='listwise' or 'fiml'), or release "
                                          "constraints by hand with group_partial=")
    pairs = _constraints(fitted, categories)
    if not pairs:
        raise ModelSpecificationError("the model has no equality constraints to test"
                                      + (f" among {', '.join(categories)}" if categories else ""),
                                      where="score_test(fitted)",
                                      fix="fit with group_equal=(...) or shared labels first")
    npar, rows = fitted.npar, fitted.rows
    nc = len(pairs)
    ext_rows = [dataclasses.replace(r) for r in rows]
    tied_pid = np.array([rows[ref].pid for ref, _ in pairs])
    for k, (_, tied) in enumerate(pairs):
        ext_rows[tied].pid = npar + k
    ext_table = dataclasses.replace(fitted.table, rows=ext_rows, npar=npar + nc, _free_rows={})
    x_ext = np.concatenate([fitted.x, fitted.x[tied_pid]])
    score, info = extended_score(fitted, ext_table, x_ext)
    # [x; delta]: a tied row is x[pid] + delta, so d theta / d x_pid also moves the tied rows
    t = np.eye(npar + nc)
    t[npar + np.arange(nc), tied_pid] = 1.0
    u, v = conditional_score(t.T @ score, t.T @ info @ t, npar)
    vd = np.diag(v)
    with np.errstate(divide="ignore", invalid="ignore"):
        x2 = np.where(vd > 1e-10, u ** 2 / vd, np.nan)
        epc = np.where(vd > 1e-10, u / vd, np.nan)
    total_x2 = float(u @ linalg.pinvh(v) @ u)
    univariate = pd.DataFrame({
        "lhs": [rows[t_].lhs for _, t_ in pairs], "op": [rows[t_].op for _, t_ in pairs],
        "rhs": [rows[t_].rhs for _, t_ in pairs], "group": [fitted.groups[rows[t_].group] for _, t_ in pairs],
        "reference_group": [fitted.groups[rows[r_].group] for r_, _ in pairs],
        "category": [rows[t_].category for _, t_ in pairs], "X2": x2, "df": 1, "pvalue": stats.chi2.sf(x2, 1),
        "epc": epc}, columns=CONSTRAINT_COLUMNS)
    univariate["df"] = univariate["df"].astype(int)
    by_parameter = _joint(univariate, u, v)
    return ScoreTest({"X2": total_x2, "df": nc, "pvalue": float(stats.chi2.sf(total_x2, nc))},
                     univariate.sort_values("X2", ascending=False, kind="stable", ignore_index=True),
                     by_parameter)


def _joint(univariate: pd.DataFrame, u: np.ndarray, v: np.ndarray) -> pd.DataFrame:
    """Per parameter, the joint test of its constraints in every later group."""
    records = []
    for (lhs, op, rhs), part in univariate.groupby(["lhs", "op", "rhs"], sort=False):
        idx = part.index.to_numpy()
        block = v[np.ix_(idx, idx)]
        try:
            x2 = float(u[idx] @ linalg.solve(block, u[idx], assume_a="pos"))
        except (linalg.LinAlgError, ValueError):
            x2 = float("nan")
        records.append({"term": partial_term(lhs, op, rhs), "lhs": lhs, "op": op, "rhs": rhs,
                        "category": part["category"].iloc[0], "X2": x2, "df": len(idx),
                        "pvalue": float(stats.chi2.sf(x2, len(idx)))})
    frame = pd.DataFrame(records, columns=PARAMETER_COLUMNS)
    return frame.sort_values("X2", ascending=False, kind="stable", ignore_index=True)
