"""Measurement invariance across groups: configural -> metric -> scalar, with a search
for partial invariance and the latent mean and variance differences it allows.

:func:`invariance` fits the configural, metric (equal loadings) and scalar (equal
loadings and intercepts) models (Meredith 1993; Vandenberg & Lance 2000). Where a step
does not hold, it releases the equality constraints that fail most, one at a time, by
their score tests (:mod:`analysis.sem.score_test`, lavaan ``lavTestScore``), as long as
each factor keeps at least two invariant indicators (Byrne, Shavelson & Muthén 1989;
Steenkamp & Baumgartner 1998). Once at least partial scalar invariance holds, latent
means and variances are compared between groups (the reference group's latent means
fixed at 0, lavaan's parameterization).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.compare import adjust_pvalues
from analysis.errors import ModelSpecificationError
from analysis.sem.fitting import fit
from analysis.sem.results import SEMResult
from analysis.sem.score_test import LIKELIHOOD_ESTIMATORS, partial_term, score_test

__all__ = ["LATENT_COLUMNS", "LEVELS", "RELEASE_COLUMNS", "RULES", "TABLE_COLUMNS", "InvarianceResult", "invariance"]

#: Columns of :attr:`InvarianceResult.table`.
TABLE_COLUMNS = ["model", "chisq", "df", "cfi", "rmsea", "srmr", "compared_with", "delta_chisq", "delta_df", "pvalue",
                 "delta_cfi", "delta_rmsea", "holds", "released"]
#: Columns of :attr:`InvarianceResult.released` (one row per released constraint, in order).
RELEASE_COLUMNS = ["step", "stage", "term", "category", "X2", "df", "pvalue", "pvalue_adj", "n_tested"]
#: Columns of :attr:`InvarianceResult.latent`.
LATENT_COLUMNS = ["factor", "group", "reference_group", "mean", "mean_se", "mean_z", "mean_pvalue", "d",
                  "variance", "reference_variance", "variance_diff", "variance_diff_se", "variance_diff_pvalue",
                  "variance_ratio"]
#: Invariance levels from strongest to weakest.
LEVELS = ("scalar", "partial scalar", "metric", "partial metric", "configural")
#: Stopping rules of the search (see :func:`invariance`).
RULES = ("cfi", "score")
#: group_equal of each step, and the class the step adds (continuous; ordinal items tie thresholds)
_STAGES = {False: {"metric": ("loadings",), "scalar": ("loadings", "intercepts")},
           True: {"metric": ("loadings",), "scalar": ("loadings", "thresholds")}}
_CLASS = {False: {"metric": "loadings", "scalar": "intercepts"}, True: {"metric": "loadings", "scalar": "thresholds"}}


@dataclass(frozen=True)
class InvarianceResult:
    """The invariance sequence, what was released, and the latent comparisons.

    Attributes
    ----------
    table
        One row per model fitted (:data:`TABLE_COLUMNS`): configural, metric, partial
        metric (if constraints were released), scalar, partial scalar (if); fit measures,
        the comparison with the model named in ``compared_with`` (LR difference test,
        ΔCFI, ΔRMSEA), whether the step ``holds`` and the terms ``released``.
    fits
        Model name -> :class:`~analysis.sem.SEMResult`.
    level
        The strongest level that holds (:data:`LEVELS`).
    group_partial
        The released terms of the final model, the last that holds (lavaan
        ``group.partial``); a failed step's releases are in ``released`` and ``table``.
    released
        The search's steps (:data:`RELEASE_COLUMNS`): the term, its score test ``X2`` on
        ``df`` (groups - 1), ``pvalue``, the Holm-adjusted ``pvalue_adj`` over the
        ``n_tested`` constraints that could be released at that step.
    score_tests
        Stage -> the final model's :class:`~analysis.sem.score_test.ScoreTest` of that
        stage's class (loadings at ``metric``, intercepts at ``scalar``).
    latent
        Latent mean and variance differences (:data:`LATENT_COLUMNS`) of every factor and
        later group against the reference group, under (partial) scalar invariance; None
        when they are not comparable.
    reference_group
        The group whose latent means are fixed at 0.
    reason
        Why latent means are not comparable ("" when they are).
    final
        Name of the last model that holds (its fit is ``fits[final]``; the latent
        comparisons come from it).
    """

    table: pd.DataFrame
    fits: dict[str, SEMResult]
    level: str = "configural"
    group_partial: tuple[str, ...] = ()
    released: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RELEASE_COLUMNS))
    score_tests: dict[str, Any] = field(default_factory=dict)
    latent: pd.DataFrame | None = None
    reference_group: str = ""
    reason: str = ""
    final: str = "configural"

    @property
    def comparable(self) -> bool:
        """Latent means may be compared: at least partial scalar invariance holds."""
        return self.latent is not None

    def to_frame(self) -> pd.DataFrame:
        """The comparison table (a copy)."""
        return self.table.copy()


def invariance(model: str, data: pd.DataFrame, group: str, *, missing: str = "listwise",
               group_partial: str | Sequence[str] = (), search: bool | None = None, rule: str = "cfi",
               alpha: float = 0.05, delta_cfi: float = 0.01, min_invariant: int = 2,
               **fit_options: Any) -> InvarianceResult:
    """Measurement invariance: configural -> metric -> scalar, with partial invariance.

    Parameters
    ----------
    model
        lavaan syntax of the measurement model (one or more factors).
    data, group
        The data and its group column (groups in order of appearance; the first is the
        reference group).
    missing
        ``"listwise"`` or ``"fiml"`` (as :func:`analysis.sem.fit`).
    group_partial
        Terms released by hand from the start (lavaan ``group.partial``), e.g.
        ``("x3 ~ 1",)``; loadings apply from the metric model on, intercepts at scalar.
    search
        Release non-invariant constraints one at a time where a step does not hold;
        default (None): with a likelihood (ML, FIML), not with ordinal items (WLSMV), whose
        score tests are not built yet.
    rule
        When a step holds and the search stops. ``"cfi"`` (default): the step holds when
        ΔCFI against the previous accepted model is at least ``-delta_cfi`` (Chen 2007;
        Cheung & Rensvold 2002); while it does not, the largest significant constraint
        is released. ``"score"``: the step holds when no constraint of its class is
        significant; while one is, the largest is released. Either way a constraint is
        released only if its score test is significant at ``alpha`` after Bonferroni over
        the constraints still releasable (the first step of Holm 1979), recomputed after
        each release, and only if its factor keeps ``min_invariant`` invariant indicators.
    alpha, delta_cfi, min_invariant
        As above.
    **fit_options
        Passed to every :func:`analysis.sem.fit` (e.g. ``fixed_x``, ``ordered=``,
        ``estimator=``). With ``ordered`` items the scalar step ties the thresholds
        (``("loadings", "thresholds")``), ΔCFI uses the scaled CFI, and the Δχ² p-value is
        left empty (WLSMV statistics need the scaled difference test, lavaan DIFFTEST).

    Returns
    -------
    InvarianceResult

    Raises
    ------
    ModelSpecificationError
        Unknown ``rule``; a ``group_partial`` term that is not a loading or intercept.

    Notes
    -----
    metric = ``group_equal=("loadings",)``; scalar = ``("loadings", "intercepts")``, with
    the latent means free in all but the reference group (lavaan). Partial steps follow
    Byrne, Shavelson & Muthén (1989): loadings released at the metric step stay released
    at the scalar step. The score test of releasing a parameter in every later group is
    :math:`U_S' V_{SS}^{-1} U_S` on ``G - 1`` df (:mod:`analysis.sem.score_test`); with
    two groups it is lavaan's univariate ``lavTestScore`` statistic, the modification
    index of the constraint, close to the LR chi-square of releasing it.

    Invariant indicators per factor: the marker (loading fixed at 1 in every group) and
    every loading still equal count for loadings; for intercepts, only items whose
    loading *and* intercept are equal count (Steenkamp & Baumgartner 1998). A constraint
    whose release would leave fewer than ``min_invariant`` is never released.

    Latent comparisons (:data:`LATENT_COLUMNS`), under (partial) scalar invariance only:
    ``mean`` is group g's latent mean, the difference from the reference group (fixed at
    0), with its SE, z and p; ``d = mean / sqrt(psi_ref)`` in reference SDs;
    ``variance_diff = psi_g - psi_ref`` with SE ``sqrt(V_gg + V_rr - 2 V_gr)`` from the
    inverse information, and ``variance_ratio = psi_g / psi_ref``. R:
    ``lavaan::sem(..., group.equal = c("loadings", "intercepts"), group.partial = ...)``,
    ``lavTestScore``, ``semTools::measurementInvariance``.
    """
    if rule not in RULES:
        raise ModelSpecificationError(f"rule '{rule}' is unknown", where="invariance(rule=...)",
                                      fix=f"use one of {RULES}")
    given = (group_partial,) if isinstance(group_partial, str) else tuple(group_partial)
    options = dict(fit_options, missing=missing)
    fits = {"configural": fit(model, data, group=group, **options)}
    ordinal = bool(fit_options.get("ordered"))
    if search is None:
        search = getattr(fits["configural"].fitted.estimator, "name", "") in LIKELIHOOD_ESTIMATORS
    records = [_record("configural", fits["configural"], None, "", True, (), ordinal)]
    user = _classify(given, fits["configural"])
    classes = _CLASS[ordinal]
    state = _Search(model, data, group, options, rule, alpha, delta_cfi, min_invariant, search, ordinal)
    accepted, accepted_name = fits["configural"], "configural"
    partial: list[str] = []
    released_rows: list[dict] = []
    score_tests: dict[str, Any] = {}
    level, kept = "configural", ()
    for stage in ("metric", "scalar"):
        partial += user.get(classes[stage], [])
        full, final, new_terms, steps, holds, tests = state.run(stage, accepted, tuple(partial))
        fits[stage] = full
        records.append(_record(stage, full, accepted, accepted_name, steps == [] and holds, tuple(partial), ordinal))
        if tests is not None:
            score_tests[stage] = tests
        if steps:
            partial += new_terms
            fits[f"partial {stage}"] = final
            records.append(_record(f"partial {stage}", final, accepted, accepted_name, holds, tuple(partial),
                                   ordinal))
            released_rows += [dict(row, step=len(released_rows) + i + 1) for i, row in enumerate(steps)]
        if not holds:
            break
        level, kept = (f"partial {stage}" if partial else stage), tuple(partial)
        accepted, accepted_name = final, (f"partial {stage}" if steps else stage)
    table = pd.DataFrame.from_records(records, columns=TABLE_COLUMNS)
    groups = fits["configural"].groups
    latent, reason = None, _not_comparable(level, ordinal)
    if level in ("scalar", "partial scalar"):
        latent, reason = latent_differences(accepted), ""
    return InvarianceResult(table, fits, level, kept,
                            pd.DataFrame(released_rows, columns=RELEASE_COLUMNS), score_tests, latent,
                            str(groups[0]) if groups else "", reason, accepted_name)


def _not_comparable(level: str, ordinal: bool = False) -> str:
    if level == "configural":
        return ("the loadings differ between groups (metric invariance does not hold, even partly): the items "
                "do not measure the same construct in the same units, so neither scores nor latent means compare")
    what = "thresholds" if ordinal else "intercepts"
    return (f"the {what} differ between groups (scalar invariance does not hold, even partly): equal "
            "construct levels give different item answers, so means are not comparable; loadings are, so "
            "relations (correlations, regressions) may be compared")


def _cfi(res: SEMResult, ordinal: bool) -> float:
    """The CFI a step is judged by: the scaled CFI of a WLSMV fit, else the CFI."""
    fm = res.fit_measures
    return float(fm.get("cfi_scaled", fm["cfi"]) if ordinal else fm["cfi"])


def _record(name: str, res: SEMResult, base: SEMResult | None, base_name: str, holds: bool,
            partial: tuple[str, ...], ordinal: bool = False) -> dict:
    fm = res.fit_measures
    rec = {"model": name, "chisq": fm["chisq"], "df": fm["df"], "cfi": _cfi(res, ordinal), "rmsea": fm["rmsea"],
           "srmr": fm["srmr"], "compared_with": base_name, "delta_chisq": np.nan, "delta_df": np.nan,
           "pvalue": np.nan, "delta_cfi": np.nan, "delta_rmsea": np.nan, "holds": bool(holds),
           "released": "; ".join(partial)}
    if base is not None:
        prev = base.fit_measures
        dchi, ddf = fm["chisq"] - prev["chisq"], fm["df"] - prev["df"]
        plain = ddf > 0 and not ordinal
        rec.update(delta_chisq=dchi, delta_df=ddf, pvalue=float(stats.chi2.sf(dchi, ddf)) if plain else np.nan,
                   delta_cfi=_cfi(res, ordinal) - _cfi(base, ordinal), delta_rmsea=fm["rmsea"] - prev["rmsea"])
    return rec


def _classify(terms: tuple[str, ...], configural: SEMResult) -> dict[str, list[str]]:
    """The user's ``group_partial`` terms by class (loadings, intercepts), normalised."""
    out: dict[str, list[str]] = {"loadings": [], "intercepts": []}
    cats = {(r.lhs, r.op, r.rhs): r.category for r in configural.fitted.rows} if configural.fitted else {}
    for term in terms:
        text = term.replace(" ", "")
        if "=~" in text:
            lhs, rhs = text.split("=~", 1)
            key = (lhs, "=~", rhs)
        elif text.endswith("~1"):
            key = (text[:-2], "~1", "")
        else:
            key = ("", "", "")
        if cats.get(key) not in out:
            raise ModelSpecificationError(f"group_partial term '{term}' is not a loading or an intercept of the model",
                                          where="invariance(group_partial=...)",
                                          fix="write e.g. 'visual =~ x2' or 'x3 ~ 1'")
        out[cats[key]].append(partial_term(*key))
    return out


@dataclass
class _Search:
    """One step's fits: the full model, then releases by score test until the rule stops."""

    model: str
    data: pd.DataFrame
    group: str
    options: dict
    rule: str
    alpha: float
    delta_cfi: float
    min_invariant: int
    search: bool
    ordinal: bool = False

    def _fit(self, stage: str, partial: tuple[str, ...]) -> SEMResult:
        return fit(self.model, self.data, group=self.group, group_equal=_STAGES[self.ordinal][stage],
                   group_partial=_only_released(partial, stage), **self.options)

    def _tests(self, res: SEMResult, category: str):
        """The score tests of the stage's class; None when no constraint of it is left, or
        when neither the search nor the score rule needs them and the estimator has no score."""
        if not _constraints_left(res, category):
            return None
        if not (self.search or self.rule == "score") and res.fitted.estimator.name not in LIKELIHOOD_ESTIMATORS:
            return None
        return score_test(res.fitted, categories=(category,))

    def _holds(self, res: SEMResult, base: SEMResult, tests) -> bool:
        if self.rule == "cfi":
            d = _cfi(res, self.ordinal) - _cfi(base, self.ordinal)
            return bool(np.isfinite(d) and d >= -self.delta_cfi)
        return tests is None or not bool((adjust_pvalues(tests.by_parameter["pvalue"], "holm") < self.alpha).any())

    def run(self, stage: str, base: SEMResult, partial: tuple[str, ...]):
        """(full fit, final fit, released terms, steps, holds, final score tests)."""
        category = _CLASS[self.ordinal][stage]
        full = current = self._fit(stage, partial)
        terms: list[str] = []
        steps: list[dict] = []
        while True:
            tests = self._tests(current, category)
            holds = self._holds(current, base, tests)
            if holds or not self.search or tests is None:
                break
            table = tests.by_parameter
            allowed = [t for t in table["term"] if _releasable(current, t, (*partial, *terms), self.min_invariant)]
            candidates = table[table["term"].isin(allowed)].reset_index(drop=True)
            if candidates.empty:
                break
            p_adj = adjust_pvalues(candidates["pvalue"], "holm")
            if not p_adj[0] < self.alpha:
                break
            best = candidates.iloc[0]
            terms.append(str(best["term"]))
            steps.append({"stage": stage, "term": best["term"], "category": best["category"], "X2": best["X2"],
                          "df": int(best["df"]), "pvalue": best["pvalue"], "pvalue_adj": float(p_adj[0]),
                          "n_tested": len(candidates)})
            current = self._fit(stage, (*partial, *terms))
        return full, current, terms, steps, holds, tests


def _constraints_left(res: SEMResult, category: str) -> bool:
    """Whether a later group's row of ``category`` is still tied to the reference group's."""
    first = {r.pid for r in res.fitted.rows if r.group == 0 and r.pid >= 0}
    return any(r.group > 0 and r.category == category and r.pid in first for r in res.fitted.rows)


def _only_released(partial: tuple[str, ...], stage: str) -> tuple[str, ...]:
    """The terms that matter at a stage (intercept terms only at scalar)."""
    return tuple(t for t in partial if stage == "scalar" or "=~" in t)


def _releasable(res: SEMResult, term: str, partial: tuple[str, ...], minimum: int) -> bool:
    """Whether releasing ``term`` keeps ``minimum`` invariant indicators on each of its factors."""
    rows = [r for r in res.fitted.rows if r.group == 0]
    released = set(partial) | {term}
    loads = [r for r in rows if r.op == "=~" and r.matrix == "lambda"]
    items_of = {}
    for r in loads:
        equal_loading = (not r.free) or partial_term(r.lhs, r.op, r.rhs) not in released
        equal_intercept = partial_term(r.rhs, "~1", "") not in released
        items_of.setdefault(r.lhs, []).append((r.rhs, equal_loading, equal_intercept))
    if "=~" in term:
        factors = [term.split("=~")[0].strip()]
        return all(sum(eq for _, eq, _ in items_of[f]) >= minimum for f in factors)
    item = term.replace("~ 1", "").strip()
    factors = [f for f, items in items_of.items() if any(v == item for v, _, _ in items)]
    return all(sum(el and ei for _, el, ei in items_of[f]) >= minimum for f in factors)


def latent_differences(res: SEMResult) -> pd.DataFrame:
    """Latent means and variances of each later group against the reference group.

    Parameters
    ----------
    res
        A multi-group fit under (partial) scalar invariance, latent means fixed at 0 in
        the reference (first) group and free elsewhere.

    Returns
    -------
    DataFrame with :data:`LATENT_COLUMNS` (see :func:`invariance`).
    """
    fitted = res.fitted
    est, cov = fitted.model.row_values(fitted.x), fitted.vcov
    rows = fitted.rows
    where = {(r.lhs, r.op, r.rhs, r.group): i for i, r in enumerate(rows)}
    groups = fitted.groups
    out = []
    for factor in fitted.table.structure.latent:
        ref_i = where[(factor, "~~", factor, 0)]
        psi_ref, pid_ref = float(est[ref_i]), rows[ref_i].pid
        for g in range(1, len(groups)):
            m_i, v_i = where[(factor, "~1", "", g)], where[(factor, "~~", factor, g)]
            mean, pid_m = float(est[m_i]), rows[m_i].pid
            mean_se = math.sqrt(cov[pid_m, pid_m]) if pid_m >= 0 else float("nan")
            psi, pid_v = float(est[v_i]), rows[v_i].pid
            if pid_v >= 0 and pid_ref >= 0 and pid_v != pid_ref:
                var_se = math.sqrt(max(cov[pid_v, pid_v] + cov[pid_ref, pid_ref] - 2 * cov[pid_v, pid_ref], 0.0))
            else:
                var_se = float("nan")
            z = mean / mean_se if mean_se > 0 else float("nan")
            zv = (psi - psi_ref) / var_se if var_se > 0 else float("nan")
            out.append({"factor": factor, "group": groups[g], "reference_group": groups[0], "mean": mean,
                        "mean_se": mean_se, "mean_z": z, "mean_pvalue": float(2 * stats.norm.sf(abs(z))),
                        "d": mean / math.sqrt(psi_ref) if psi_ref > 0 else float("nan"), "variance": psi,
                        "reference_variance": psi_ref, "variance_diff": psi - psi_ref, "variance_diff_se": var_se,
                        "variance_diff_pvalue": float(2 * stats.norm.sf(abs(zv))),
                        "variance_ratio": psi / psi_ref if psi_ref > 0 else float("nan")})
    return pd.DataFrame(out, columns=LATENT_COLUMNS)
