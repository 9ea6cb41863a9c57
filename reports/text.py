"""Plain-text renderings for the command line: an SEM summary, the linkage study and the
power table.

Rendering only: the numbers come from :class:`analysis.sem.results.Summary`,
:class:`analysis.linkage.StudyResult` and :class:`analysis.power.PowerResult` (collect
results, then render: lavaan's summary/print split). The HTML report is :mod:`reports.html`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["format_power", "format_sem", "format_study", "linkage_interval", "linkage_model_text"]


def _fmt(x: Any, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "-"
    return f"{x:.{digits}f}"


def _stars(p: float) -> str:
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


def format_sem(summary: Any) -> str:
    """The lavaan-like text of an SEM :class:`analysis.sem.results.Summary` (``fit.summary()``):
    the header, the model test, the fit measures, then the estimates by group (or level) and
    operator, as lavaan's ``summary(fit, fit.measures = TRUE, standardized = TRUE)`` prints them."""
    digits = summary.digits
    lines = [f"Tandem SEM ({summary.estimator})  {'converged' if summary.converged else 'NOT converged'}",
             f"  Number of observations {summary.nobs:>28d}"]
    if summary.multigroup:
        for g, n in summary.nobs_per_group.items():
            lines.append(f"    {g:<28s}{n:>14d}")
    lines += ["", "Model Test User Model:",
              f"  Test statistic {summary.test['chisq']:>36.{digits}f}",
              f"  Degrees of freedom {summary.test['df']:>32.0f}",
              f"  P-value (Chi-square) {summary.test['pvalue']:>30.{digits}f}", ""]
    for name, value in summary.measures:
        lines.append(f"  {name:<30s}{value:>20.{digits}f}")
    for w in summary.warnings:
        lines.append(f"  Warning: {w}")
    shown_group = None

    def fmt(v: float) -> str:
        return f"{v:>10.{digits}f}" if np.isfinite(v) else " " * 10

    for group, title, part in summary.sections:
        if (summary.multigroup or summary.levels) and group != shown_group:
            lines += ["", f"{group}:" if summary.levels else f"Group [{group}]:"]
            shown_group = group
        lines += ["", f"{title}:", f"{'':24s}{'Estimate':>10s}{'Std.Err':>10s}{'z-value':>10s}"
                  f"{'P(>|z|)':>10s}{'Std.all':>10s}"]
        for r in part.itertuples():
            name = f"{r.lhs} {r.op} {r.rhs}".strip() + (f" ({r.label})" if r.label and r.op != ":=" else "")
            lines.append(f"  {name:<22s}{fmt(r.est)}{fmt(r.se) if r.se > 0 else ' ' * 10}"
                         f"{fmt(r.z)}{fmt(r.pvalue)}{fmt(r.std_all)}")
    return "\n".join(lines)


def linkage_model_text(result: Any) -> str:
    """Which chain a :class:`analysis.linkage.StudyResult` ran, its assumptions and why, in plain words."""
    if result.model == "latent":
        text = ("Model: latent aggregation (a two-level model of both surveys). A unit's average is only an "
                "estimate of its true level, noisy when few people answered; this model estimates the true levels "
                "and links those, so the paths are not shrunk toward zero by that noise. It assumes answers vary "
                "normally around each unit's level and that employees and customers are different people.")
    elif result.model == "corrected":
        text = ("Model: unit averages corrected for their noise. The chain is fitted to how much units truly differ: "
                "the differences between unit averages less the part expected from the few people who answered in "
                "each. It corrects the shrinking of paths toward zero, less precisely than the latent model.")
    else:
        text = ("Model: observed unit averages. The chain is fitted to the units' average scores; where few people "
                "answered in a unit, its average is noisy and the paths come out smaller than they are.")
    return f"{text} ({result.model_reason}.)" if result.model_reason else text


def linkage_interval(result: Any) -> str:
    """The kind of the chain's 95% intervals, named once per table."""
    if result.model == "latent":
        return "95% Monte Carlo interval"
    return f"95% {'bootstrap' if result.bootstrap or result.model == 'corrected' else 'normal'} interval"


def format_study(result: Any) -> str:
    """Plain-text report of a :class:`analysis.linkage.StudyResult` (aggregation, chain, drivers)."""
    lines = [f"Study: {result.title} ({result.study_id})",
             f"Units analysed: {result.n_units} (each with >= {result.min_employees} employee and "
             f">= {result.min_customers} customer responses); left out: {len(result.dropped)}"]
    if result.waves.get("employee") or result.waves.get("customer"):
        lines.append(f"Waves: employees {', '.join(result.waves['employee']) or '-'}; "
                     f"customers {', '.join(result.waves['customer']) or '-'}")
    lines += ["", "1. Can we aggregate to units? (ICC(1) > .05 with p < .05, ICC(2) >= .70, r_wg(J) >= .70)"]
    lines.append(f"   {'side':9} {'construct':24} {'ICC(1)':>7} {'ICC(2)':>7} {'rwg(J)':>7}  verdict")
    for row in result.aggregation.itertuples():
        lines.append(f"   {row.side:9} {row.construct:24} {_fmt(row.icc1):>7} {_fmt(row.icc2):>7} "
                     f"{_fmt(row.rwg_j_mean):>7}  {row.verdict}")
    lines += ["", linkage_model_text(result)]
    lines += ["", f"2. The chain at unit level (standardized paths, {linkage_interval(result)})"]
    for row in result.paths.itertuples():
        lines.append(f"   {row.lhs:>20} <- {row.rhs:<20} {row.est:6.2f} [{row.ci_lower:5.2f}, {row.ci_upper:5.2f}] "
                     f"{_stars(row.pvalue)}")
    lines.append("   R²: " + ", ".join(f"{k} {v:.2f}" for k, v in result.r2.items()))
    fm = result.fit_measures
    if fm:
        lines.append("   Fit: " + ", ".join(f"{k} {_fmt(fm[k], 0 if k == 'df' else 3)}"
                                           for k in ("chisq", "df", "pvalue", "cfi", "rmsea", "srmr") if k in fm))
    lines += ["", "3. How much each employee construct moves each customer outcome",
              "   (standardized indirect effect through the chain; * = its 95% interval excludes 0)"]
    outcomes = list(dict.fromkeys(result.indirect["rhs"]))
    lines.append(f"   {'':20}" + "".join(f"{o:>17}" for o in outcomes))
    for source, table in result.indirect.groupby("lhs", sort=False):
        cells = table.set_index("rhs")
        row = ""
        for outcome in outcomes:
            if outcome not in cells.index:
                row += f"{'':>17}"
                continue
            cell = cells.loc[outcome]
            sig = "*" if cell.ci_lower > 0 or cell.ci_upper < 0 else " "
            row += f"{cell.est:16.3f}{sig}"
        lines.append(f"   {source:20}" + row)
    lines += ["", "4. Ranked employee drivers of each customer outcome (relative weights; share of R²)"]
    for outcome, table in result.drivers.groupby("outcome", sort=False):
        lines.append(f"   {outcome} (R² {table['r2'].iloc[0]:.2f} explained by the employee constructs):")
        table = table.sort_values("rank")
        for row in table.itertuples():
            interval = f" [{row.pct_ci_lower:4.0f}%, {row.pct_ci_upper:4.0f}%]" if result.bootstrap else ""
            lines.append(f"     {int(row.rank)}. {row.predictor:<20} {row.pct:5.1f}% of R²{interval}")
    if len(result.dropped):
        lines += ["", "Units left out:"]
        lines += [f"   {row.unit}: {row.reason}" for row in result.dropped.itertuples()]
    if result.warnings:
        lines += ["", "Warnings:"] + [f"   - {w}" for w in result.warnings]
    return "\n".join(lines)


def format_power(result: Any) -> str:
    """Plain-text power table of an :class:`analysis.power.PowerResult`: one row per path,
    one column per number of units."""
    table = result.table.assign(path=result.table["lhs"] + " ~ " + result.table["rhs"])
    wide = table.pivot_table(index=["path", "effect"], columns="n_units", values="power", sort=False)
    sizes = list(wide.columns)
    lines = [f"Power by simulation ({result.reps} replications per size, alpha = {result.alpha}; "
             f"{result.employees_per_unit[0]}-{result.employees_per_unit[1]} employees and "
             f"{result.customers_per_unit[0]}-{result.customers_per_unit[1]} customers per unit)",
             f"{'path':44} {'effect':>6} " + " ".join(f"{f'{n} units':>10}" for n in sizes)]
    for (path, effect), row in wide.iterrows():
        lines.append(f"{path:44} {effect:6.2f} " + " ".join(f"{v:10.2f}" for v in row.to_numpy()))
    lines += ["", "Units needed for 80% power (smallest number tried):"]
    lines += [f"  {path:42} {int(n) if np.isfinite(n) else f'more than {max(sizes)}'}"
              for path, n in result.units_needed().items()]
    return "\n".join(lines)
