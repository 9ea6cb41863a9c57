"""``tandem analyze ...``: scripted psychometrics and driver analysis.

``tandem analyze reliability|efa|cfa|sem|drivers|aggregate|compare`` read responses from a file
(``--data``: CSV, Excel or SPSS ``.sav``, read by :func:`analysis.scoring.read_responses`)
or a campaign in the store (``--campaign``), take the instrument from ``--instrument``
(a YAML path or a shipped instrument id; a campaign brings its own), run the analysis
module that owns the statistic, and print rich tables, or with ``--json`` one JSON
document whose schema is ``reports/schemas/<command>.json`` (documented in
``docs/json-schema.md``). ``tandem analyze study`` (the linkage study) is registered
on the same group by :mod:`tandem_cli.study`.

Every command exits 1 with a one-line message (what, where, how to fix) on a
:class:`~surveys.errors.TandemError`, never with a traceback.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from services.settings import DEFAULTS
from surveys.errors import TandemError
from tandem_cli.data import load_data, open_dataset

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["analyze_app", "records", "report_command"]

SCHEMA_VERSION = "1"

analyze_app = typer.Typer(help="Psychometrics, drivers and aggregation from a response file or campaign.",
                          no_args_is_help=True)
out = Console()
err = Console(stderr=True)

DataOption = Annotated[Path | None, typer.Option("--data", help="Responses file: CSV, Excel (.xlsx) or SPSS (.sav).")]
CampaignOption = Annotated[str | None, typer.Option("--campaign", help="Campaign id in the store.")]
InstrumentOption = Annotated[str | None, typer.Option(
    "--instrument", help="Instrument YAML path or shipped id (e.g. employee_experience).")]
NodeOption = Annotated[str | None, typer.Option(
    "--node", help="Organisation unit id (with --campaign): the results of its subtree (a store, district, region "
                   "or the company).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document (schema: reports/schemas/).")]


# --------------------------------------------------------------------------- outputs
def _clean(value: Any) -> Any:
    import numpy as np
    import pandas as pd

    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, (tuple, list)):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A DataFrame as JSON-ready records (NaN and NA become null, numpy scalars Python)."""
    return [{str(k): _clean(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def emit(command: str, source: str, instrument: Any, n: int, payload: dict[str, Any], as_json: bool,
         render: Callable[[], None]) -> None:
    """Print the result: the JSON envelope with ``--json``, else the rich rendering."""
    if as_json:
        document = {"schema_version": SCHEMA_VERSION, "command": command, "source": source,
                    "instrument": None if instrument is None else f"{instrument.id}@{instrument.version}",
                    "n": int(n), **_clean(payload)}
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        render()


def show(frame: pd.DataFrame, title: str, *, digits: int = 3) -> None:
    """A DataFrame as a rich table (numbers right-aligned, NaN blank)."""
    import numpy as np
    import pandas as pd

    table = Table(title=title, title_justify="left", header_style="bold")
    for column in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(frame[column])
        table.add_column(str(column), justify="right" if numeric else "left")
    for _, row in frame.iterrows():
        cells = []
        for value in row:
            if value is None or value is pd.NA or (isinstance(value, float) and not math.isfinite(value)):
                cells.append("")
            elif isinstance(value, (float, np.floating)):
                cells.append(f"{value:.{digits}f}")
            else:
                cells.append(str(value))
        table.add_row(*cells)
    out.print(table)


@contextmanager
def working(message: str) -> Iterator[None]:
    """A spinner on stderr while long work runs (hidden with --json on a pipe)."""
    with err.status(message, spinner="dots"):
        yield


def _scored(frame: pd.DataFrame, instrument: Any) -> pd.DataFrame:
    from analysis.scoring import score

    return score(frame, instrument)


# --------------------------------------------------------------------------- commands
@analyze_app.command("reliability")
def reliability_command(data: DataOption = None, campaign: CampaignOption = None, node: NodeOption = None,
                        instrument: InstrumentOption = None, as_json: JsonOption = False) -> None:
    """Cronbach's alpha (Feldt interval) per construct and the item analysis."""
    import pandas as pd

    from analysis.reliability import alpha, item_analysis

    frame, inst, source = load_data(data, campaign, instrument, node=node)
    scored = _scored(frame, inst)
    constructs, items, skipped = [], [], []
    for c in inst.constructs:
        if len(c.items) < 2:
            skipped.append({"construct": c.id, "reason": "fewer than two items"})
            continue
        try:
            result = alpha(scored[list(c.items)])
        except TandemError as exc:
            skipped.append({"construct": c.id, "reason": str(exc)})
            continue
        constructs.append({"construct": c.id, "label": inst.text(c.label), "n_items": result.k, "n": result.n,
                           "alpha": result.alpha, "std_alpha": result.std_alpha, "ci_lower": result.ci_lower,
                           "ci_upper": result.ci_upper})
        items.append(item_analysis(scored[list(c.items)]).rename_axis("item").reset_index().assign(construct=c.id))
    construct_table = pd.DataFrame(constructs)
    item_table = pd.concat(items, ignore_index=True) if items else pd.DataFrame()
    if len(item_table):
        item_table = item_table[["item", "construct"] + [c for c in item_table if c not in ("item", "construct")]]
    skipped_table = pd.DataFrame(skipped, columns=["construct", "reason"])

    def render() -> None:
        show(construct_table.drop(columns="label", errors="ignore"), f"Reliability ({source}, {len(frame)} responses)")
        show(item_table, "Item analysis")
        if len(skipped_table):
            show(skipped_table, "Not computed")

    emit("reliability", source, inst, len(frame), {"constructs": records(construct_table),
                                                    "items": records(item_table),
                                                    "skipped": records(skipped_table)}, as_json, render)


@analyze_app.command("efa")
def efa_command(data: DataOption = None, campaign: CampaignOption = None,
                node: NodeOption = None, instrument: InstrumentOption = None,
                factors: Annotated[int | None, typer.Option(help="Factors to extract (default: parallel analysis).")]
                = None,
                method: Annotated[str, typer.Option(help="minres, ml or principal.")] = "minres",
                rotation: Annotated[str, typer.Option(help="oblimin, promax, geomin, varimax or none.")] = "oblimin",
                seed: Annotated[int, typer.Option(help="Seed of the parallel analysis.")] = 1,
                as_json: JsonOption = False) -> None:
    """KMO, Bartlett's test, parallel analysis and an exploratory factor solution of the construct items."""
    from analysis.efa import bartlett, efa, kmo, parallel_analysis

    frame, inst, source = load_data(data, campaign, instrument, node=node)
    items = list(dict.fromkeys(i for c in inst.constructs for i in c.items))
    scored = _scored(frame, inst)[items]
    with working("parallel analysis ..."):
        sampling, sphericity = kmo(scored), bartlett(scored)
        parallel = parallel_analysis(scored, seed=seed)
        k = factors or max(1, parallel.n_factors)
        solution = efa(scored, n_factors=k, method=method, rotation=None if rotation == "none" else rotation)
    loadings = solution.to_frame().rename_axis("item").reset_index()
    variance = solution.variance.rename_axis("quantity").reset_index()
    kmo_table = sampling.to_frame().reset_index()

    def render() -> None:
        out.print(f"Bartlett's test: chi² = {sphericity.chisq:.1f}, df = {sphericity.df:.0f}, "
                  f"p = {sphericity.pvalue:.3g}. Parallel analysis suggests {parallel.n_factors} factor(s).")
        out.print(f"Kaiser-Meyer-Olkin sampling adequacy: {sampling.kmo:.3f} overall "
                  f"(lowest item: {sampling.items.idxmin()} {sampling.items.min():.3f}).")
        show(parallel.scree, "Scree with parallel analysis")
        show(loadings, f"Loadings: {k} factor(s), {method}, {rotation}", digits=2)
        show(variance, "Variance explained", digits=3)

    emit("efa", source, inst, len(frame), {
        "kmo": records(kmo_table), "bartlett": _clean(sphericity.to_frame().iloc[0].to_dict()),
        "parallel": {"n_factors": parallel.n_factors, "scree": records(parallel.scree)},
        "solution": {"n_factors": k, "method": method, "rotation": rotation, "loadings": records(loadings),
                     "variance": records(variance)}}, as_json, render)


def _sem_payload(result: Any) -> dict[str, Any]:
    return {"converged": bool(result.converged), "warnings": list(result.warnings), "nobs": int(result.nobs),
            "fit_measures": dict(result.fit_measures), "estimates": records(result.estimates),
            "r2": records(result.r2.rename_axis("variable").reset_index(name="r2"))}


def _sem_render(result: Any, title: str) -> Callable[[], None]:
    def render() -> None:
        fm = result.fit_measures
        out.print(f"{title}: {result.nobs} cases, {'converged' if result.converged else 'NOT converged'}. " +
                  ", ".join(f"{k} = {fm[k]:.3f}" for k in ("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr")
                            if k in fm and fm[k] is not None))
        cols = [c for c in ("lhs", "op", "rhs", "est", "se", "z", "pvalue", "ci_lower", "ci_upper", "std_all")
                if c in result.estimates]
        show(result.estimates[cols], "Estimates")
        for warning in result.warnings:
            out.print(f"[yellow]warning:[/yellow] {warning}")
    return render


@analyze_app.command("cfa")
def cfa_command(data: DataOption = None, campaign: CampaignOption = None,
                node: NodeOption = None, instrument: InstrumentOption = None,
                model: Annotated[Path | None, typer.Option(help="lavaan syntax file (default: the instrument's "
                                                                "constructs).")] = None,
                missing: Annotated[str, typer.Option(help="listwise or fiml.")] = "listwise",
                as_json: JsonOption = False) -> None:
    """Confirmatory factor analysis of the instrument's constructs (or of --model)."""
    from analysis.measurement import measurement_model
    from analysis.sem import fit

    frame, inst, source = load_data(data, campaign, instrument, node=node, need_instrument=model is None)
    syntax = _read_model(model) if model else measurement_model(inst)
    frame = _scored(frame, inst) if inst is not None else frame
    with working("fitting the CFA ..."):
        result = fit(syntax, frame, missing=missing)
    emit("cfa", source, inst, len(frame), {"model": syntax, **_sem_payload(result)}, as_json,
         _sem_render(result, "CFA"))


def _read_model(path: Path) -> str:
    if not path.is_file():
        raise TandemError("model file not found", where=str(path), fix="give a file with lavaan model syntax.")
    return path.read_text(encoding="utf-8")


@analyze_app.command("sem")
def sem_command(model: Annotated[Path, typer.Option(help="lavaan model syntax file.")],
                data: DataOption = None, campaign: CampaignOption = None,
                node: NodeOption = None, instrument: InstrumentOption = None,
                missing: Annotated[str, typer.Option(help="listwise or fiml.")] = "listwise",
                bootstrap: Annotated[int, typer.Option(help="Bootstrap draws for the intervals (0: Wald).")] = 0,
                seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = DEFAULTS.seed,
                as_json: JsonOption = False) -> None:
    """Fit a structural equation model given in lavaan syntax (item or construct names as variables)."""
    from analysis.sem import fit

    frame, inst, source = load_data(data, campaign, instrument, node=node, need_instrument=False)
    frame = _scored(frame, inst) if inst is not None else frame
    with working(f"fitting the model{f' with {bootstrap} bootstrap draws' if bootstrap else ''} ..."):
        result = fit(_read_model(model), frame, missing=missing, bootstrap=bootstrap, seed=seed)
    emit("sem", source, inst, len(frame), {"model": result.model, **_sem_payload(result)}, as_json,
         _sem_render(result, "SEM"))


@analyze_app.command("drivers")
def drivers_command(data: DataOption = None, campaign: CampaignOption = None,
                    node: NodeOption = None, instrument: InstrumentOption = None,
                    outcome: Annotated[str | None, typer.Option(help="Outcome construct or item (default: every "
                                                                     "construct with role outcome/kpi).")] = None,
                    predictors: Annotated[str | None, typer.Option(help="Comma-separated predictors (default: "
                                                                        "constructs with role driver).")] = None,
                    method: Annotated[str, typer.Option(help="relative_weights or shapley.")] = "relative_weights",
                    bootstrap: Annotated[int, typer.Option(help="Bootstrap draws for intervals.")] = DEFAULTS.bootstrap,
                    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = DEFAULTS.seed,
                    as_json: JsonOption = False) -> None:
    """Key drivers: each driver's share of the explained variance, with bootstrap intervals."""
    from analysis import drivers as drivers_module

    if method not in ("relative_weights", "shapley"):
        raise TandemError(f"unknown method '{method}'", where="--method", fix="use relative_weights or shapley.")
    frame, inst, source = load_data(data, campaign, instrument, node=node)
    scored = _scored(frame, inst)
    names = [p.strip() for p in predictors.split(",") if p.strip()] if predictors else [
        c.id for c in inst.constructs if c.role == "driver"]
    outcomes = [outcome] if outcome else [c.id for c in inst.constructs if c.role in ("outcome", "kpi")]
    if len(names) < 2 or not outcomes:
        raise TandemError("need at least two predictors and one outcome", where="tandem analyze drivers",
                          fix="pass --outcome and --predictors, or give constructs roles driver/outcome.")
    function = getattr(drivers_module, method)
    results = []
    with working(f"{method} with {bootstrap} bootstrap draws ..."):
        for name in outcomes:
            results.append(function(scored, name, names, bootstrap=bootstrap, seed=seed))

    def render() -> None:
        for r in results:
            show(r.ranked()[["predictor", "weight", "pct", "pct_ci_lower", "pct_ci_upper", "rank",
                             "rank_stability"]],
                 f"Drivers of {r.outcome}: R² = {r.r2:.3f} (n = {r.n}, {r.bootstrap} bootstrap draws)", digits=2)

    emit("drivers", source, inst, len(frame), {"method": method, "bootstrap": bootstrap, "results": [
        {"outcome": r.outcome, "n": r.n, "r2": r.r2, "r2_ci_lower": r.r2_ci_lower, "r2_ci_upper": r.r2_ci_upper,
         "table": records(r.ranked().drop(columns=["mc_error"], errors="ignore"))} for r in results]},
        as_json, render)


@analyze_app.command("aggregate")
def aggregate_command(data: DataOption = None, campaign: CampaignOption = None,
                      node: NodeOption = None, instrument: InstrumentOption = None,
                      unit: Annotated[str, typer.Option(help="Unit column.")] = "unit",
                      by_children: Annotated[bool, typer.Option(
                          "--by-children", help="Aggregate to the units directly below --node (or the "
                                                "organisation's root) instead of --unit.")] = False,
                      as_json: JsonOption = False) -> None:
    """Is aggregating each construct to units justified? ICC(1), ICC(2), r_wg(J), AD(M), verdict."""
    from analysis.aggregation import aggregation_table
    from tandem_cli.data import children_column, load_view, source_name

    if by_children:
        view = load_view(data, campaign, instrument, node=node).nodes_view()
        frame, inst, unit = view.frame, view.instrument, children_column(view)
        source = source_name(data, campaign, node)
    else:
        frame, inst, source = load_data(data, campaign, instrument, node=node)
    with working("ICC and agreement per construct ..."):
        table = aggregation_table(frame, inst, unit)

    def render() -> None:
        show(table[["construct", "n", "n_units", "icc1", "icc2", "pvalue", "rwg_j_mean", "ad_m_mean", "verdict"]],
             f"Aggregation to '{unit}' ({source}; units below {inst.min_group_size} respondents not summarised)")
        for _, row in table.iterrows():
            if row["verdict"] != "justified":
                out.print(f"{row['construct']}: {row['verdict']}: {row['reason']}")

    emit("aggregate", source, inst, len(frame), {"unit": unit, "min_group_size": inst.min_group_size,
                                                  "constructs": records(table)}, as_json, render)


@analyze_app.command("compare")
def compare_command(by: Annotated[str, typer.Option("--by", help="Compare the groups of this column: unit, wave "
                                                                 "or a demographic question id.")],
                    data: DataOption = None, campaign: CampaignOption = None,
                    node: NodeOption = None, instrument: InstrumentOption = None,
                    constructs: Annotated[str | None, typer.Option(help="Comma-separated construct ids or metric "
                                                                        "names (default: all).")] = None,
                    adjust: Annotated[str, typer.Option(help="holm (family-wise error) or fdr_bh (false "
                                                             "discovery rate).")] = "holm",
                    as_json: JsonOption = False) -> None:
    """Where do groups differ? Welch's ANOVA, Games-Howell, Hedges' g of each group against the rest."""
    from services.insight import compare

    if (data is None) == (campaign is None):
        raise TandemError("give exactly one of --data FILE or --campaign C", where="tandem analyze compare",
                          fix="e.g. --data responses.csv --instrument employee_experience --by tenure_band")
    from tandem_cli.data import load_view, source_name

    view = load_view(data, campaign, instrument, node=node)
    source = source_name(data, campaign, node)
    wanted = [c.strip() for c in constructs.split(",") if c.strip()] if constructs else None
    with working(f"comparing the groups of '{by}' ..."):
        result = compare(view, by=by, constructs=wanted, adjust=adjust)

    def render() -> None:
        out.print(f"Groups of '{by}' ({source}, {view.n} responses shown; groups of fewer than {view.k} never "
                  f"shown). p-values adjusted with {adjust} over the {len(result.cells)} cells.")
        if result.hidden:
            out.print(f"Hidden (protect a smaller group): {', '.join(result.hidden)}")
        show(result.tests[["label", "n", "n_groups", "welch_F", "welch_df2", "welch_pvalue", "welch_pvalue_adj",
                           "eta2", "omega2"]], "Do the groups differ? (Welch's ANOVA; one-way ANOVA effect sizes)")
        show(result.cells[["label", "group", "n", "mean", "rest_mean", "hedges_g", "pvalue_adj", "significant"]],
             "Each group against the rest")
        for _, row in result.skipped.iterrows():
            out.print(f"{row['label']}: not compared: {row['reason']}")

    emit("compare", source, view.instrument, view.n, {
        "by": by, "adjust": adjust, "alpha": result.alpha, "min_group_size": view.k,
        "groups": records(result.groups), "hidden": result.hidden, "tests": records(result.tests),
        "cells": records(result.cells), "pairwise": records(result.pairwise), "skipped": records(result.skipped)},
        as_json, render)


# --------------------------------------------------------------------------- report
def report_command(
    out_path: Annotated[Path, typer.Option("--out", help="HTML file to write.")],
    study: Annotated[Path | None, typer.Option("--study", help="Study file linking an employee and a customer "
                                                               "survey.")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Use the demo data (simulated service-profit chain; the "
                                                      "default for --study without campaigns).")] = False,
    campaign_employee: Annotated[str | None, typer.Option(help="Employee campaign id in the store.")] = None,
    campaign_customer: Annotated[str | None, typer.Option(help="Customer campaign id in the store.")] = None,
    data: DataOption = None, instrument: InstrumentOption = None, node: NodeOption = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap draws for intervals.")] = DEFAULTS.bootstrap,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = DEFAULTS.seed,
) -> None:
    """Write the self-contained HTML report (summary, evidence, methods) of a study or one survey."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from reports.html import render_report
    from services.insight import collect_insight
    from services.selection import Selection

    if demo and (campaign_employee or campaign_customer):
        raise TandemError("--demo and campaigns exclude each other", where="tandem report",
                          fix="drop --demo to report on the campaigns, or the campaigns for the demo data.")
    if campaign_employee or campaign_customer:
        if not (campaign_employee and campaign_customer):
            raise TandemError("give both --campaign-employee and --campaign-customer", where="tandem report")
        dataset = open_dataset(campaigns=[campaign_employee, campaign_customer])
    elif data is not None:
        dataset = open_dataset(data=data, instrument=instrument)
    elif study is not None or demo:
        from services.sources import demo_dataset

        dataset = demo_dataset()
    else:
        raise TandemError("nothing to report on", where="tandem report",
                          fix="pass --demo, two campaigns, or --data FILE --instrument I.")
    if study is not None:
        from services.studies import bind_study

        dataset = bind_study(dataset, study)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=err, transient=True) as bar:
        task = bar.add_task("analysing ...")
        insight = collect_insight(dataset, Selection.of(node=node), bootstrap=bootstrap, seed=seed,
                                  progress=lambda step: bar.update(task, description=f"{step} ..."))
    plans = None
    if dataset.kind == "campaigns":  # the action plans of the stored campaigns' units
        from services.action_plans import plan_report
        from surveys.store import open_store

        store = open_store()
        try:
            plans = plan_report(store, dataset)
        finally:
            store.dispose()
    out_path.write_text(render_report(insight, action_plans=plans), encoding="utf-8")
    for step, reason in insight.problems.items():
        typer.echo(f"not shown: {step}: {reason}", err=True)
    typer.echo(f"Wrote {out_path} ({out_path.stat().st_size / 1e6:.1f} MB, self-contained).")
