"""Unit-level linkage of employee and customer surveys (the service-profit chain).

:func:`run_study` takes a validated :class:`~analysis.study.Study` and the two wide
response frames and answers leadership's question, *which parts of our employees'
experience move our customers, and by how much?*, in five steps:

1. score both sides with the instruments (:func:`analysis.scoring.score`);
2. aggregate to units: construct means, CSAT and NPS (:mod:`analysis.metrics`) and the
   number of respondents on each side; units below the study's minimum sizes or
   without a counterpart are left out and listed with the reason;
3. check that aggregation is justified per construct
   (:func:`analysis.aggregation.aggregation_table`: ICC(1), ICC(2), r_wg(J));
4. fit the hypothesised path model on the standardized unit means
   (:func:`analysis.sem.fit`) with indirect effects of every employee construct on
   every customer outcome as ``:=`` parameters, bootstrapped over units;
5. rank the employee drivers of each customer outcome
   (:func:`analysis.drivers.relative_weights`, bootstrapped over units).

The result (:class:`StudyResult`) holds numbers only; :func:`reports.text.format_study` renders it
as text. No output of this module contains a unit below the study's minimum sizes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis import corrected_means as corrected
from analysis import drivers as drivers_module
from analysis import latent_aggregation as latent
from analysis import metrics as metrics_module
from analysis.aggregation import aggregation_table, construct_scale_points
from analysis.scoring import score
from analysis.sem import count_parameters, fit
from analysis.study import LINKAGE_MODELS, METRIC_NODES, Study, metric_node
from analysis.threads import limit_blas_threads
from surveys.errors import TandemError, did_you_mean

__all__ = ["LinkageError", "StudyResult", "latent_unusable", "run_study", "unit_table"]

PATH_COLUMNS = ["lhs", "op", "rhs", "est", "se", "z", "pvalue", "ci_lower", "ci_upper"]
DROPPED_COLUMNS = ["unit", "reason"]


class LinkageError(TandemError):
    """Linked data that cannot support the study's analysis (too few units ...)."""


@dataclass(frozen=True)
class StudyResult:
    """Everything :func:`run_study` found, as labelled tables.

    Attributes
    ----------
    study_id, title
        The study's id and title.
    units
        One row per analysed unit: ``unit, n_employees, n_customers`` and the unit
        value of every node (construct means, ``csat``, ``nps`` ...). Only units
        meeting both minimum sizes appear.
    dropped
        ``unit, reason``: units left out (below a minimum size, no counterpart).
        Respondent counts of small units are not shown.
    aggregation
        One row per construct and side: ``side`` and the columns of
        :func:`analysis.aggregation.aggregation_table` (ICC(1), ICC(2), r_wg(J), verdict).
    paths
        Standardized unit-level paths: ``lhs, op, rhs, est, se, z, pvalue, ci_lower,
        ci_upper`` (``est`` is the standardized coefficient; with ``bootstrap > 0`` it is
        lavaan's ``std_all`` and the interval is the bootstrap percentile interval of
        ``std_all`` over units, each draw standardized anew; ``se`` is its bootstrap SD
        and ``pvalue`` the bootstrap p-value of the same draws, so the interval excludes 0
        exactly when p < .05).
    r2
        R² of every endogenous node.
    indirect
        Standardized total indirect effects ``employee -> customer``: ``lhs`` (the
        employee construct), ``rhs`` (the customer outcome), ``est, se, z, pvalue,
        ci_lower, ci_upper`` (intervals as for ``paths``).
    fit_measures
        The SEM fit measures (lavaan names: chisq, df, pvalue, cfi, tli, rmsea, srmr ...).
    drivers
        Unit-level relative weights of the employee predictors for each customer
        outcome: ``outcome, predictor`` and the columns of
        :func:`analysis.drivers.relative_weights`.
    waves
        ``{"employee": [...], "customer": [...]}``: the waves linked.
    bootstrap
        Bootstrap draws used for the intervals (0: normal-theory intervals).
    min_employees, min_customers
        The minimum sizes applied.
    warnings
        Messages worth showing (non-convergence, aggregation not justified ...).
    model, model_reason
        Which chain ran: ``"latent"`` (latent aggregation, a two-level SEM of both samples:
        :mod:`analysis.latent_aggregation`) or ``"observed"`` (the path model on observed
        unit means), and why (for ``"observed"`` under ``model="auto"``: what the latent
        model lacked).
    """

    study_id: str
    title: str
    units: pd.DataFrame
    dropped: pd.DataFrame
    aggregation: pd.DataFrame
    paths: pd.DataFrame
    r2: pd.Series
    indirect: pd.DataFrame
    fit_measures: Mapping[str, float]
    drivers: pd.DataFrame
    waves: Mapping[str, tuple[str, ...]]
    bootstrap: int
    min_employees: int
    min_customers: int
    warnings: tuple[str, ...] = field(default=())
    model: str = "observed"
    model_reason: str = ""

    @property
    def n_units(self) -> int:
        """Units analysed."""
        return len(self.units)

    def to_frame(self) -> pd.DataFrame:
        """The standardized paths and indirect effects in one lavaan-style table."""
        indirect = self.indirect.assign(op=":=")
        return pd.concat([self.paths, indirect[PATH_COLUMNS]], ignore_index=True)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by name (for exports and the HTML report)."""
        return {
            "units": self.units,
            "dropped": self.dropped,
            "aggregation": self.aggregation,
            "paths": self.paths,
            "r2": self.r2.rename_axis("node").reset_index(),
            "indirect": self.indirect,
            "fit_measures": pd.DataFrame({"measure": list(self.fit_measures),
                                          "value": list(self.fit_measures.values())}),
            "drivers": self.drivers,
        }


# --------------------------------------------------------------------------- aggregation


def _check_frame(frame: Any, study: Study, side: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise LinkageError(f"the {side} responses must be a pandas DataFrame, got {type(frame).__name__}",
                           where=f"study '{study.id}'")
    if study.unit_key not in frame.columns:
        raise LinkageError(
            f"the {side} responses have no unit column '{study.unit_key}'."
            + did_you_mean(study.unit_key, [str(c) for c in frame.columns]),
            where=f"study '{study.id}'",
            fix=f"Export the responses with their unit, or set unit_key in {study.source}.",
        )
    return frame


def _wave_order(waves: list[Any]) -> list[Any]:
    try:
        return sorted(waves, key=float)
    except (TypeError, ValueError):
        return sorted(waves, key=str)


def _select_waves(study: Study, employees: pd.DataFrame, customers: pd.DataFrame
                  ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, tuple[str, ...]]]:
    """Pool each side (lag 0) or link employee wave t with customer wave t + lag."""
    waves_e = _wave_order(list(employees["wave"].dropna().unique())) if "wave" in employees else []
    waves_c = _wave_order(list(customers["wave"].dropna().unique())) if "wave" in customers else []
    if study.wave_lag == 0:
        return employees, customers, {"employee": tuple(map(str, waves_e)), "customer": tuple(map(str, waves_c))}
    order = _wave_order(list(dict.fromkeys([*waves_e, *waves_c])))
    position = {w: i for i, w in enumerate(order)}
    pairs = [(we, wc) for we in waves_e for wc in waves_c if position[wc] - position[we] == study.wave_lag]
    if not pairs:
        raise LinkageError(
            f"wave_lag is {study.wave_lag} but no customer wave comes {study.wave_lag} wave(s) after an employee wave "
            f"(employee waves: {', '.join(map(str, waves_e)) or 'none'}; customer waves: "
            f"{', '.join(map(str, waves_c)) or 'none'})",
            where=study.source,
            fix="Pass responses from consecutive waves, or set wave_lag: 0 to pool.",
        )
    we, wc = pairs[-1]
    return (employees[employees["wave"] == we], customers[customers["wave"] == wc],
            {"employee": (str(we),), "customer": (str(wc),)})


def score_side(frame: pd.DataFrame, study: Study, side: str) -> pd.DataFrame:
    """One side's responses scored by :func:`analysis.scoring.score` (reverse-keyed items
    and construct columns) with the study's unit column; rows without a unit are left out."""
    instrument = study.employee if side == "employee" else study.customer
    valid = frame[frame[study.unit_key].notna()]
    scored = score(valid, instrument)
    if study.unit_key not in scored.columns:
        scored[study.unit_key] = valid[study.unit_key]
    return scored


def _unit_metric(name: str, frame: pd.DataFrame, study: Study, instrument: Any) -> pd.Series:
    """A metric node per unit by :func:`analysis.metrics.unit_values` (:func:`analysis.study.metric_node`)."""
    item_id, metric, options = metric_node(name, instrument)
    values = metrics_module.unit_values(frame, item_id, study.unit_key, metric=metric, **options)
    return values.astype(float).rename(name)


def unit_table(study: Study, employee_frame: pd.DataFrame, customer_frame: pd.DataFrame,
               kpis: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Aggregate both sides to units; return ``(units, dropped)``.

    ``units`` holds only units with at least ``study.min_employees`` employee and
    ``study.min_customers`` customer responses: ``unit, n_employees, n_customers`` and
    the unit value of every construct and metric the study names, and its KPIs (``kpis``:
    the unit column and one column per KPI node; without it the KPI nodes are left out).
    ``dropped`` lists every other unit with the reason (no respondent counts for units
    below a minimum).
    """
    study, _ = _with_kpis(study, kpis)
    return _aggregate(study, score_side(employee_frame, study, "employee"),
                      score_side(customer_frame, study, "customer"), kpis)


def _aggregate(study: Study, employees: pd.DataFrame, customers: pd.DataFrame,
               kpis: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    named = set(study.nodes) | set(study.outcomes) | set(study.predictors)
    parts, counts = [], {}
    for side, scored, instrument in (("employee", employees, study.employee), ("customer", customers, study.customer)):
        counts[side] = scored.groupby(study.unit_key, sort=True).size()
        constructs = [c.id for c in instrument.constructs if c.id in named]
        parts.append(scored[[study.unit_key, *constructs]].groupby(study.unit_key, sort=True).mean())
        parts += [_unit_metric(name, scored, study, instrument).to_frame()
                  for name in METRIC_NODES if name in named and study.side(name) == side]
    units = pd.DataFrame({"n_employees": counts["employee"], "n_customers": counts["customer"]})
    units = units.fillna(0).astype(int)
    for part in parts:
        units = units.join(part, how="left")
    kpi_nodes = study.kpi_nodes
    if kpi_nodes:
        units = units.join(kpis.set_index(study.unit_key)[list(kpi_nodes)], how="left")
    units.index.name = "unit"
    reasons = []
    for unit, row in units.iterrows():
        why = [f"no {k} value" for k in kpi_nodes if not np.isfinite(row[k])]
        for side, n, minimum in (("employee", row.n_employees, study.min_employees),
                                 ("customer", row.n_customers, study.min_customers)):
            other = "customer" if side == "employee" else "employee"
            if n == 0:
                why.append(f"no {side} responses (no counterpart for its {other} responses)")
            elif n < minimum:
                why.append(f"fewer than {minimum} {side} responses")
        if why:
            reasons.append((unit, "; ".join(why)))
    dropped = pd.DataFrame(reasons, columns=DROPPED_COLUMNS)
    kept = units.drop(index=[u for u, _ in reasons]).reset_index()
    return kept, dropped


def aggregation_verdicts(study: Study, scored: Mapping[str, pd.DataFrame], units: pd.DataFrame) -> pd.DataFrame:
    """:func:`analysis.aggregation.aggregation_table` of every construct on both sides,
    over the respondents of the analysed ``units`` only, with a ``side`` column first."""
    kept = set(units["unit"])
    tables = []
    for side, instrument, minimum in (("employee", study.employee, study.min_employees),
                                      ("customer", study.customer, study.min_customers)):
        mapping = {c.id: list(c.items) for c in instrument.constructs}
        columns = list(dict.fromkeys([study.unit_key, *mapping, *(i for items in mapping.values() for i in items)]))
        frame = scored[side][columns]
        inside = frame[study.unit_key].isin(kept)
        if not inside.all():
            frame = frame[inside]
        points = {c.id: construct_scale_points(instrument, c) for c in instrument.constructs}
        table = aggregation_table(frame, mapping, study.unit_key, scale_points=points, min_group_size=minimum)
        tables.append(table.assign(side=side))
    out = pd.concat(tables, ignore_index=True)
    return out[["side"] + [c for c in out.columns if c != "side"]]


# --------------------------------------------------------------------------- model


def parameter_count(study: Study) -> int:
    """Free parameters of the study's unit-level path model, from the SEM's own parameter
    table (:func:`analysis.sem.count_parameters`): regressions, residual variances and the
    residual covariances lavaan adds among outcomes that predict nothing; covariances of
    the exogenous nodes are fixed at their sample values (``fixed.x``), not parameters."""
    return count_parameters(study.model_syntax()).npar


def check_units(study: Study, units: pd.DataFrame, dropped: pd.DataFrame) -> None:
    """Raise :class:`LinkageError` when the units cannot support the path model: fewer
    units than its free parameters (:func:`parameter_count`) plus one, a node without a
    score in a unit, or a node that does not vary between units."""
    needed = parameter_count(study) + 1
    if len(units) < needed:
        raise LinkageError(
            f"only {len(units)} unit(s) have at least {study.min_employees} employee and "
            f"{study.min_customers} customer responses; the path model has {needed - 1} free parameters "
            f"and needs at least {needed} units ({len(dropped)} unit(s) left out, see the dropped list)",
            where=f"study '{study.id}'",
            fix="Link more units, lower min_respondents (not below the anonymity threshold), "
                "or hypothesise fewer paths.",
        )
    for node in study.nodes:
        values = units[node]
        if values.isna().any():
            missing = int(values.isna().sum())
            raise LinkageError(
                f"'{node}' has no score in {missing} unit(s) (too few answers to its items there)",
                where=f"study '{study.id}'",
                fix="Check that the responses answer the construct's items (min_answered).",
            )
        if not np.isfinite(values.std()) or values.std() <= 1e-12 * max(1.0, abs(values.mean())):
            raise LinkageError(
                f"'{node}' has no variance between units (every unit's mean is {values.mean():.4g}), "
                "so it cannot predict or be predicted at unit level",
                where=f"study '{study.id}'",
                fix=f"Remove '{node}' from the paths, or check that its items were answered differently across units.",
            )


def fit_chain(study: Study, units: pd.DataFrame, dropped: pd.DataFrame, *, bootstrap: int = 0,
              seed: int | None = None) -> Any:
    """Fit the study's path model to z-scored unit values; returns the :class:`analysis.sem.SEMResult`.

    ``units`` and ``dropped`` come from :func:`unit_table`. Raises :class:`LinkageError`
    when there are fewer units than parameters or a node does not vary between units.
    """
    check_units(study, units, dropped)
    z = units[list(study.nodes)].astype(float)
    z = (z - z.mean()) / z.std(ddof=0)
    with limit_blas_threads():
        return fit(study.model_syntax(), z, bootstrap=bootstrap, seed=seed)


def _paths_table(estimates: pd.DataFrame, op: str) -> pd.DataFrame:
    """Rows of ``op`` in :data:`PATH_COLUMNS`; with bootstrap columns in ``estimates``,
    ``est`` and the interval are the standardized solution's (``std_all`` and its
    bootstrap percentile interval), ``se`` its bootstrap SD and ``pvalue`` the bootstrap
    p-value that goes with the interval (it excludes 0 exactly when p < .05); ``z`` is
    ``est / se``, descriptive."""
    table = estimates[estimates["op"] == op]
    if "std_ci_lower" in table.columns:  # one method for the whole row: the bootstrap of std_all
        with np.errstate(divide="ignore", invalid="ignore"):
            z = table["std_all"] / table["std_se"]
        table = table.assign(est=table["std_all"], se=table["std_se"], z=z, pvalue=table["std_pvalue"],
                             ci_lower=table["std_ci_lower"], ci_upper=table["std_ci_upper"])
    return table[PATH_COLUMNS].reset_index(drop=True)


def _indirect_table(estimates: pd.DataFrame, study: Study) -> pd.DataFrame:
    defined = _paths_table(estimates, ":=").set_index("lhs")
    rows = []
    for source, target, _ in study.indirect_routes():
        name = f"ind_{source}__{target}"
        rows.append({"lhs": source, "rhs": target, **defined.loc[name, PATH_COLUMNS[3:]].to_dict()})
    return pd.DataFrame(rows, columns=["lhs", "rhs", *PATH_COLUMNS[3:]])


def _drivers(study: Study, units: pd.DataFrame, *, bootstrap: int, seed: int | None) -> pd.DataFrame:
    frames = []
    for k, outcome in enumerate(study.outcomes):
        result = drivers_module.relative_weights(
            units, outcome, list(study.predictors), bootstrap=bootstrap,
            seed=None if seed is None else seed + 1 + k,
        )
        frames.append(result.to_frame().assign(outcome=outcome, r2=result.r2))
    out = pd.concat(frames, ignore_index=True)
    first = ["outcome", "predictor"]
    return out[first + [c for c in out.columns if c not in first]]


def run_study(study: Study, employee_frame: pd.DataFrame, customer_frame: pd.DataFrame, *,
              bootstrap: int = 1000, seed: int | None = None, model: str | None = None,
              kpis: pd.DataFrame | None = None) -> StudyResult:
    """Link employee and customer responses through their units and fit the study's chain.

    Parameters
    ----------
    study
        A validated :class:`~analysis.study.Study` (:func:`analysis.study.load_study`).
    employee_frame, customer_frame
        Wide response frames (``surveys.exports`` / ``surveys.store``) of the two
        instruments, each with the study's unit column (and ``wave`` for a lag).
    bootstrap
        Bootstrap draws over units for the intervals of paths, indirect effects and
        driver weights (0: normal-theory intervals and none for drivers).
    seed
        Seed of the bootstrap.
    model
        ``"latent"``, ``"observed"`` or ``"auto"`` (default: the study's ``linkage_model``,
        itself ``"auto"`` by default): with ``"auto"`` the latent model runs when the units
        support its between-level parameters and it converges to a proper solution, the
        observed-means model otherwise, with the reason in ``model_reason``.
    kpis
        The business KPIs of the study's KPI nodes per unit: the unit column and one column
        per KPI (the periods already aligned, e.g. :func:`surveys.kpis.kpi_frame` with the
        study's ``business_lag``). Units without a value are left out with the reason.
        Without it a study with KPI nodes is fitted without them, and a warning says so.

    Returns
    -------
    StudyResult

    Raises
    ------
    LinkageError
        No unit column, fewer units than the model's parameters, a node with no
        variance between units or no score in a unit, no wave pair for the lag.

    Notes
    -----
    The latent model (:mod:`analysis.latent_aggregation`) fits the chain to the units'
    latent means: both samples stacked, a two-level SEM by ML (FIML of the design). Its
    paths and indirect effects are the between level's std_all, with 95% Monte Carlo
    intervals and p-values from ``bootstrap`` draws of the parameters (1,000 when
    ``bootstrap`` is 0). It corrects the attenuation of paths fitted to observed means,
    whose reliability is ICC(2) (Lüdtke et al. 2008; Marsh et al. 2009).

    The observed model: unit values are means of respondents' construct scores; CSAT and NPS per unit come
    from :mod:`analysis.metrics`. The path model is fitted by maximum likelihood on
    z-scored unit values, so its coefficients are standardized (lavaan's ``std_all``
    for a model fitted to a correlation matrix). An indirect effect ``x -> y`` is the
    sum over all directed routes of the products of the standardized coefficients
    (Alwin & Hauser, 1975); its interval is the bootstrap percentile interval over
    units (Preacher & Hayes, 2008). The z-scoring is done once, on all units, so in a
    bootstrap draw the resampled values no longer have unit variance: every draw's
    refit is standardized again (``std_all``, see :func:`analysis.sem.fit`) and the
    intervals of paths and indirect effects are percentiles of those standardized
    values, not of the draws' raw coefficients (which are too wide for strong paths).
    Unit-level driver importance is Johnson's (2000) relative weights of the employee
    predictors.

    R: ``fit <- lavaan::sem(model, data = scale(units))`` and
    ``bootstrapLavaan(fit, R = 1000, FUN = function(x) standardizedSolution(x)$est.std)``
    with its 2.5% and 97.5% quantiles.
    """
    _check_frame(employee_frame, study, "employee")
    _check_frame(customer_frame, study, "customer")
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, (int, np.integer)) or bootstrap < 0:
        raise LinkageError(f"bootstrap must be a whole number >= 0, got {bootstrap!r}", fix="Use 1000, or 0 for none.")
    employees, customers, waves = _select_waves(study, employee_frame, customer_frame)
    scored = {"employee": score_side(employees, study, "employee"),
              "customer": score_side(customers, study, "customer")}
    study, business_note = _with_kpis(study, kpis)
    units, dropped = _aggregate(study, scored["employee"], scored["customer"], kpis)
    chosen = study.linkage_model if model is None else model
    if chosen not in LINKAGE_MODELS:
        raise LinkageError(f"unknown linkage model '{chosen}'.{did_you_mean(str(chosen), LINKAGE_MODELS)}",
                           where="run_study(model=...)", fix=f"use one of {', '.join(LINKAGE_MODELS)}")
    chain = _fit_model(study, chosen, scored, units, dropped, bootstrap=bootstrap, seed=seed)
    aggregation_frame = aggregation_verdicts(study, scored, units)
    warnings = [f"aggregating '{row.construct}' to units is not justified: {row.reason}"
                for row in aggregation_frame.itertuples()
                if row.construct in study.nodes and row.verdict == "not justified"]
    with limit_blas_threads():
        driver_table = _drivers(study, units, bootstrap=bootstrap, seed=seed)
    if not chain.converged:
        warnings.append("the path model did not converge; its numbers are not trustworthy")
    warnings += list(chain.warnings) + ([business_note] if business_note else [])
    if chain.model != "observed":
        warnings.append("the unit-level drivers are relative weights on observed unit means, not corrected for "
                        "their sampling error: their shares are comparable within an outcome, but their R² is "
                        "smaller than the chain's")
    return StudyResult(
        study_id=study.id,
        title=study.title,
        units=units,
        dropped=dropped,
        aggregation=aggregation_frame,
        paths=_paths_table(chain.estimates, "~"),
        r2=chain.r2.loc[[p.lhs for p in study.paths]].rename("r2"),
        indirect=_indirect_table(chain.estimates, study),
        fit_measures=dict(chain.fit_measures),
        drivers=driver_table,
        waves=waves,
        bootstrap=int(bootstrap),
        min_employees=study.min_employees,
        min_customers=study.min_customers,
        warnings=tuple(warnings),
        model=chain.model,
        model_reason=chain.reason,
    )


@dataclass(frozen=True)
class _Chain:
    """The fitted chain of one model: its estimates (lavaan columns), R², fit measures."""

    model: str
    reason: str
    estimates: pd.DataFrame
    r2: pd.Series
    fit_measures: Mapping[str, float]
    converged: bool
    warnings: tuple[str, ...]


def _fit_model(study: Study, chosen: str, scored: Mapping[str, pd.DataFrame], units: pd.DataFrame,
               dropped: pd.DataFrame, *, bootstrap: int, seed: int | None) -> _Chain:
    """The chain of the ``chosen`` model; ``auto`` tries latent, then corrected, then observed,
    and says why it moved on."""
    reasons = []
    if chosen in ("auto", "latent"):
        result, why = _latent_chain(study, scored, units, dropped, draws=bootstrap or 1000, seed=seed,
                                    required=chosen == "latent")
        if result is not None:
            return _Chain("latent", why, result.estimates[result.estimates["level"] != 1], result.r2.loc["between"],
                          result.fit_measures, bool(result.converged), tuple(str(w) for w in result.warnings))
        reasons.append(why)
    if chosen in ("auto", "corrected"):
        check_units(study, units, dropped)
        stacked = latent.stacked_nodes(study, scored, units)
        with limit_blas_threads():
            table, r2, why = corrected.fit_corrected_chain(study, stacked, draws=bootstrap, seed=seed)
        if table is not None:
            return _Chain("corrected", "; ".join(reasons) or "chosen in the study or the command", table, r2, {},
                          True, ())
        if chosen == "corrected":
            raise LinkageError(f"the corrected-means model cannot be used: {why}", where=f"study '{study.id}'",
                               fix="link more or larger units, or use the observed-means model (model: observed)")
        reasons.append(f"the corrected-means model was not used: {why}")
    result = fit_chain(study, units, dropped, bootstrap=bootstrap, seed=seed)
    return _Chain("observed", "; ".join(reasons) or "chosen in the study or the command", result.estimates,
                  result.r2, result.fit_measures,
                  bool(result.converged), tuple(str(w) for w in result.warnings))


def _with_kpis(study: Study, kpis: pd.DataFrame | None) -> tuple[Study, str]:
    """The study to fit given the KPI data: without its KPI nodes when there is none."""
    needed = study.kpi_nodes
    if not needed:
        return study, ""
    if kpis is None or not len(kpis):
        return study.without_business(), (f"no business KPIs for these waves ({', '.join(needed)}): the chain stops at "
                                          "the customer outcomes; import them with 'tandem kpi import'")
    _check_frame(kpis, study, "KPI")
    absent = [k for k in needed if k not in kpis.columns]
    if absent:
        raise LinkageError(f"the KPI data has no column '{absent[0]}'.{did_you_mean(absent[0], list(kpis.columns))}",
                           where="run_study(kpis=...)", fix="pass one column per KPI node of the study")
    return study, ""


def latent_unusable(result: Any) -> str:
    """Why a fitted latent chain (:func:`analysis.latent_aggregation.fit_latent_chain`) cannot
    be reported, or ``""``: it did not converge, its between level is improper (a negative
    variance, or a zero one that leaves a standardized path undefined), or its standard
    errors are missing."""
    heywood = [w for w in result.warnings if "Heywood" in w and "between" in w]
    between = result.estimates[result.estimates["level"] != 1]
    if not result.converged:
        return "the two-level model did not converge"
    if heywood:
        return "its solution is improper (" + heywood[0].split(": ", 1)[-1].split(";")[0] + ")"
    if not np.isfinite(result.estimates["se"]).all():
        return "its standard errors could not be computed (the model may not be identified with these units)"
    if not np.isfinite(between.loc[between["op"].isin(["~", ":="]), "std_all"]).all():
        return "its solution is improper (a between-unit variance at zero leaves a standardized path undefined)"
    return ""


def _latent_chain(study: Study, scored: Mapping[str, pd.DataFrame], units: pd.DataFrame, dropped: pd.DataFrame,
                  *, draws: int, seed: int | None, required: bool) -> tuple[Any, str]:
    """``(result, reason)`` of the latent model, or ``(None, why not)`` when it cannot be
    trusted here and is not ``required`` (then a :class:`LinkageError` says why)."""
    needed = latent.between_parameters(study) + 1
    why = ""
    if len(units) < needed:
        why = (f"{len(units)} units cannot support its {needed - 1} between-level parameters "
               f"(it needs at least {needed})")
    else:
        check_units(study, units, dropped)
        with limit_blas_threads():
            result = latent.fit_latent_chain(study, latent.stacked_nodes(study, scored, units),
                                             draws=draws, seed=seed)
        why = latent_unusable(result)
        if not why:
            return result, f"{len(units)} units support its {needed - 1} between-level parameters"
    if required:
        raise LinkageError(f"the latent linkage model cannot be used: {why}", where=f"study '{study.id}'",
                           fix="link more units, or run the observed-means model (model: observed)")
    return None, f"the latent model was not used: {why}"


# --------------------------------------------------------------------------- rendering
