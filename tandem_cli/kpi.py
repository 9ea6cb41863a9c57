"""``tandem kpi declare|import|list``: business KPIs per unit and period.

``tandem kpi declare instruments/business/kpis.yaml`` stores the KPI declarations (label, direction,
measure, aggregation up the organisation); ``tandem kpi import kpis.csv`` checks every row
of a ``unit,period,kpi,value`` file and stores all rows or none. Formats: docs/organisation.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from surveys.kpis import SHIPPED_KPIS

kpi_app = typer.Typer(help="Declare business KPIs and import their values per unit and period.",
                      no_args_is_help=True)

#: The declarations shipped with Tandem.
SHIPPED = SHIPPED_KPIS


def declare(
    path: Annotated[Path, typer.Argument(
        help="KPI declarations (YAML); default instruments/business/kpis.yaml.")] = SHIPPED,
) -> None:
    """Declare (or update) KPIs from a YAML file."""
    from surveys import kpis
    from tandem_cli.campaign import _store

    with _store() as store:
        declared = kpis.read_definitions(path, known=kpis.definitions(store))
        kpis.declare_kpis(store, declared)
    typer.echo(f"Declared {len(declared)} KPIs: {', '.join(d.id for d in declared)}.")


def import_values(
    path: Annotated[Path, typer.Argument(help="CSV with the columns unit,period,kpi,value (UTF-8).")],
    chunk: Annotated[int, typer.Option(help="Rows read and checked at a time (memory bound).", min=1)] = 50_000,
) -> None:
    """Import KPI values: every row checked against the declarations and the organisation, all stored or none."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from surveys import kpis
    from tandem_cli.campaign import _store

    with _store() as store, Progress(SpinnerColumn(), TextColumn("{task.description}"), transient=True) as bar:
        task = bar.add_task("reading ...")
        result = kpis.import_kpis(store, path, chunk_rows=chunk,
                                  progress=lambda stage, n: bar.update(task, description=f"{stage}: {n:,} rows"))
    typer.echo(f"Imported {result.rows:,} values of {', '.join(result.kpis)} for "
               f"{', '.join(result.periods[:6])}{' ...' if len(result.periods) > 6 else ''}.")


def list_kpis() -> None:
    """List the declared KPIs."""
    from surveys import kpis
    from tandem_cli.campaign import _store

    with _store() as store:
        declared = kpis.definitions(store)
    if not declared:
        typer.echo("No KPIs declared yet. Declare the shipped ones with 'tandem kpi declare'.")
        return
    for d in declared.values():
        rule = (f"mean weighted by {d.weight}" if d.weight else
                f"ratio {d.numerator} / {d.denominator} recomputed from their sums" if d.components else d.aggregation)
        typer.echo(f"{d.id}: {d.label} ({d.measure}; {'higher' if d.higher_is_better else 'lower'} is better; "
                   f"{rule} up the organisation)")
