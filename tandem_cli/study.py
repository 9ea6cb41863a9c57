"""``tandem analyze study`` and ``tandem power``: the linkage study from the command line.

Data for ``tandem analyze study`` comes from :mod:`services.sources`, like the pages'
and the report's:

* ``--campaign-employee X --campaign-customer Y``: two campaigns in the store (each
  read with the instrument version it pinned);
* ``--employees FILE --customers FILE``: two response files (CSV, Excel, SPSS), read
  with the study's instruments;
* otherwise (or with ``--demo``): **the demo data**, the simulated service-profit chain
  that ``tandem demo`` puts in the store (:func:`services.sources.demo_dataset`).

The study file is bound to the data's instruments (:func:`services.studies.bind_study`), and the chain
is fitted through the disclosure policy (:func:`services.insight.linkage`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from services.settings import DEFAULTS
from surveys.errors import TandemError

StudyPath = Annotated[Path, typer.Argument(help="Study file, e.g. instruments/studies/service_profit_chain.yaml.")]


def analyze_study(
    study: StudyPath,
    campaign_employee: Annotated[str | None, typer.Option(help="Employee campaign id in the store.")] = None,
    campaign_customer: Annotated[str | None, typer.Option(help="Customer campaign id in the store.")] = None,
    employees: Annotated[Path | None, typer.Option(help="Employee responses file (CSV, xlsx, sav).")] = None,
    customers: Annotated[Path | None, typer.Option(help="Customer responses file (CSV, xlsx, sav).")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Use the demo data (the default without campaigns or "
                                                      "files).")] = False,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap draws over units for the intervals.")] = DEFAULTS.bootstrap,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = DEFAULTS.seed,
    model: Annotated[str | None, typer.Option(
        help="The chain's model: latent (among the units' latent means), observed (on observed unit means) "
             "or auto (latent when the units support it; default: the study's linkage_model).")] = None,
) -> None:
    """Aggregation verdicts, the unit-level service-profit chain and ranked drivers."""
    from analysis.study import load_study
    from reports.text import format_study
    from services.insight import linkage
    from services.selection import select
    from services.sources import demo_dataset, file_dataset
    from services.studies import bind_study

    if (campaign_employee is None) != (campaign_customer is None) or (employees is None) != (customers is None):
        raise TandemError("give both sides: --campaign-employee with --campaign-customer, "
                          "or --employees with --customers")
    if demo or (campaign_employee is None and employees is None):
        dataset = demo_dataset()
    elif campaign_employee is not None:
        from tandem_cli.data import open_dataset

        dataset = open_dataset(campaigns=[campaign_employee, campaign_customer])
        for side, campaign in (("employee", campaign_employee), ("customer", campaign_customer)):
            data = dataset.sides.get(side)
            if data is None or campaign not in data.campaigns:
                other = next(s for s, d in dataset.sides.items() if campaign in d.campaigns)
                raise TandemError(f"campaign '{campaign}' is a{'n' if other == 'employee' else ''} {other} "
                                  f"campaign (instrument '{dataset.sides[other].instrument.id}')",
                                  where=f"--campaign-{side}", fix=f"pass a {side} campaign there.")
    else:
        from analysis.scoring import read_responses

        spec = load_study(study)
        dataset = file_dataset({"employee": (spec.employee, read_responses(employees)),
                                "customer": (spec.customer, read_responses(customers))},
                               name=f"the files {employees} (employees) and {customers} (customers)")
    dataset = bind_study(dataset, study)
    typer.echo(f"Data: {dataset.name}.")
    result = linkage(select(dataset), dataset.study.study, bootstrap=bootstrap, seed=seed, model=model,
                     kpis=dataset.kpis)
    typer.echo(format_study(result))


def power_command(
    study: Annotated[Path, typer.Option("--study", help="Study file whose paths are tested.")],
    units: Annotated[str, typer.Option(help="Numbers of units to try, comma-separated.")] = "50,100,200",
    reps: Annotated[int, typer.Option(help="Simulated studies per number of units.")] = 200,
    seed: Annotated[int, typer.Option(help="Seed of the simulation.")] = 1,
) -> None:
    """Power to detect each hypothesised path, by simulation: how many units you need."""
    from rich.progress import Progress

    from analysis.power import power
    from analysis.study import load_study
    from reports.text import format_power

    spec = load_study(study)
    try:
        sizes = [int(part) for part in units.split(",") if part.strip()]
    except ValueError:
        raise TandemError(f"--units must be whole numbers separated by commas, got '{units}'",
                          fix="For example --units 50,100,200.") from None
    with Progress(transient=True) as bar:
        task = bar.add_task("simulating", total=reps * len(sizes))
        result = power(spec, units=sizes, reps=reps, seed=seed, progress=lambda k: bar.advance(task, k))
    typer.echo(format_power(result))
