"""Which linkage study fits a pair of instruments: a shipped study, or one built from their constructs.

A campaign pins the YAML of its instrument; the study that links an employee and a
customer campaign must read those pinned versions, not the files on disk, and it must
fit them: every node of its paths has to be a construct or metric of the instruments
actually used. :func:`study_for` tries every shipped study file
(``instruments/studies/*.yaml``) bound to the given instruments
(:func:`analysis.study.parse_study` with ``instruments=``), and otherwise builds one from
the instruments' construct roles (:func:`built_study`). When neither works it says why,
in a sentence a page can show.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.study import Study, StudyError, parse_study
from surveys.errors import TandemError
from surveys.instrument import Instrument
from surveys.yamlsource import read_text

__all__ = ["STUDIES", "StudyChoice", "bind_study", "built_study", "study_for"]

#: The shipped study files.
STUDIES = Path(__file__).resolve().parents[1] / "instruments" / "studies"


@dataclass(frozen=True)
class StudyChoice:
    """The study for a pair of instruments, or why there is none.

    Attributes
    ----------
    study
        The :class:`~analysis.study.Study` bound to the given instruments, or None.
    origin
        ``"shipped"`` (a study file), ``"built"`` (from construct roles) or ``"none"``.
    reason
        Plain words: which study and why, or what is missing.
    """

    study: Study | None
    origin: str
    reason: str


def study_for(instruments: Mapping[str, Instrument], *, studies: Path = STUDIES,
              kpis: Any = None) -> StudyChoice:
    """The linkage study of an employee and a customer instrument.

    Parameters
    ----------
    instruments
        ``{"employee": ..., "customer": ...}`` (a campaign's pinned versions).
    studies
        Folder of study files to try first.
    kpis
        The data's business KPIs per unit (columns), if any: a study with KPI nodes is chosen
        only when the data have all of them, and then before one without.

    Returns
    -------
    StudyChoice
        ``study`` is None, with the reason, when the instruments cannot be linked.
    """
    if set(instruments) != {"employee", "customer"}:
        missing = "a customer" if "customer" not in instruments else "an employee"
        return StudyChoice(None, "none", f"Linkage needs an employee and a customer survey that share units; "
                                         f"{missing} survey is not among the chosen data.")
    have = set() if kpis is None else set(kpis.columns)
    fitting = []
    for path in sorted(studies.glob("*.yaml")):
        try:
            study = parse_study(read_text(path), source=str(path), base=path.parent, instruments=instruments)
        except StudyError:
            continue
        if set(study.kpi_nodes) <= have:  # a study with KPI nodes only for data that have those KPIs
            fitting.append((len(study.kpi_nodes), path, study))
    if fitting:
        _, path, study = max(fitting, key=lambda f: f[0])  # the most complete chain the data support
        return StudyChoice(study, "shipped", f"the study '{study.title}' ({path.name}) on the chosen instruments' "
                                             "own versions")
    return built_study(instruments["employee"], instruments["customer"])


def built_study(employee: Instrument, customer: Instrument) -> StudyChoice:
    """A unit-level study from the instruments' construct roles.

    Employee outcomes (constructs with ``role: outcome`` or ``kpi``, and eNPS) are
    regressed on the employee drivers; every customer outcome (outcome/kpi constructs,
    CSAT and NPS) on the employee outcomes (or, without any, on the employee drivers).
    The unit drivers rank the employee nodes for each customer outcome.
    """
    def nodes(instrument: Instrument, roles: tuple[str, ...], metrics: tuple[str, ...]) -> list[str]:
        found = [c.id for c in instrument.constructs if c.role in roles]
        return found + [m for m in metrics if getattr(instrument.metrics, m, None)]

    drivers = nodes(employee, ("driver",), ())
    outcomes = nodes(employee, ("outcome", "kpi"), ("enps",))
    targets = nodes(customer, ("outcome", "kpi"), ("csat", "nps"))
    predictors = outcomes or drivers
    if not predictors:
        return StudyChoice(None, "none", f"The employee survey '{employee.id}' has no construct or eNPS to link: "
                                         "give its constructs a role (driver or outcome).")
    if not targets:
        return StudyChoice(None, "none", f"The customer survey '{customer.id}' has no outcome to link to: give a "
                                         "construct 'role: outcome', or a CSAT or NPS metric.")
    paths = [f"{o} ~ {' + '.join(drivers)}" for o in outcomes if drivers and outcomes]
    paths += [f"{t} ~ {' + '.join(predictors)}" for t in targets]
    lines = [f"id: {employee.id}_{customer.id}",
             f"title: '{_quote(employee.text(employee.title))} and {_quote(customer.text(customer.title))}'",
             "unit_key: unit", "paths:", *(f"  - {p}" for p in paths),
             "drivers:", f"  outcomes: [{', '.join(targets)}]",
             f"  predictors: [{', '.join(dict.fromkeys(drivers + outcomes))}]"]
    try:
        study = parse_study("\n".join(lines) + "\n", source="<built from the instruments' construct roles>",
                            instruments={"employee": employee, "customer": customer})
    except StudyError as exc:
        return StudyChoice(None, "none",
                           f"No study fits '{employee.id}' and '{customer.id}': {exc.problems[0].message}.")
    return StudyChoice(study, "built", f"a chain built from the instruments' construct roles ({len(paths)} paths: "
                                       "employee outcomes on employee drivers, customer outcomes on employee "
                                       "outcomes), because no shipped study fits these instruments")


def _quote(text: str) -> str:
    return text.replace("'", "''")


def bind_study(dataset: Any, path: str | Path) -> Any:
    """``dataset`` (a :class:`services.sources.Dataset`) with the study file at ``path``
    bound to its own instruments (a campaign's pinned versions, not the files the study
    names). Raises :class:`~analysis.study.StudyError` when the study does not fit them."""
    path = Path(path)
    if set(dataset.sides) != {"employee", "customer"}:
        raise TandemError("a study links an employee and a customer survey", where=str(path),
                          fix="give one employee and one customer campaign (or file).")
    study = parse_study(read_text(path), source=str(path), base=path.parent, instruments=dataset.instruments)
    return dataclasses.replace(dataset, study=StudyChoice(study, "shipped", f"the study file {path}"))
