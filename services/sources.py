"""Data sources: campaigns from the store, an uploaded or local file, or the demo.

Every page, CLI command, report and export gets its data here, as one
:class:`Dataset`: by side (``employee``/``customer``) the instrument, the wide response
frame, which responses count toward the anonymity threshold, the thresholds themselves
and the invitations per unit; plus the linkage study that fits the two instruments
(:func:`services.studies.study_for`) and a name that pages show at the top.

Campaign data is always read with the instrument version the campaign pinned (its
YAML is stored with it, by sha256), never with the file on disk, and the minimum group
size is the one locked into the campaign when it was created.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from services import disclosure, hierarchy
from services.studies import StudyChoice, study_for
from surveys.errors import TandemError
from surveys.instrument import Instrument
from surveys.question_types import kind_of

__all__ = [
    "OPEN_EMPLOYEE_VARIABLE",
    "Dataset",
    "SideData",
    "campaign_dataset",
    "campaign_version",
    "demo_dataset",
    "file_dataset",
    "read_upload",
]

#: Set to 1 to count open-link employee responses toward the anonymity threshold.
OPEN_EMPLOYEE_VARIABLE = "TANDEM_ALLOW_OPEN_EMPLOYEE_LINKS"
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class SideData:
    """One audience's responses with what the disclosure policy needs.

    Attributes
    ----------
    instrument
        The instrument the responses answer (a campaign's pinned version).
    frame
        Wide response frame (one row per response, positional index).
    counted
        Per row: counts toward ``min_group_size`` (False only for open-link employee
        responses, which anyone could have made up).
    min_group_size, min_comment_group_size
        The thresholds (campaigns: as locked when they were created).
    invited
        Invitations per unit (campaigns with invitations; else empty).
    campaigns
        Campaign ids the frame combines (as waves).
    org
        The organisation the units belong to (:class:`surveys.organisation.Organisation`),
        or ``None``: then units are not nested and no node can be chosen.
    """

    instrument: Instrument
    frame: pd.DataFrame = field(repr=False)
    counted: np.ndarray = field(repr=False)
    min_group_size: int
    min_comment_group_size: int
    invited: Mapping[str, int] = field(default_factory=dict)
    campaigns: tuple[str, ...] = ()
    org: Any = field(default=None, repr=False)

    @cached_property
    def dimensions(self) -> tuple[str, ...]:
        """The demographic columns offered as filters and breakdowns (single-choice and
        drop-down questions in the frame)."""
        return tuple(q.id for q in self.instrument.questions if kind_of(q).demographic and q.id in self.frame)

    @cached_property
    def blocks(self) -> disclosure.Partition:
        """The blocks of at least ``min_group_size`` counted respondents."""
        return disclosure.partition(self.frame, k=self.min_group_size, dimensions=self.dimensions,
                                    counted=self.counted, tree=self._tree)

    @cached_property
    def comment_blocks(self) -> disclosure.Partition:
        """The blocks of at least ``min_comment_group_size`` counted respondents."""
        return disclosure.partition(self.frame, k=self.min_comment_group_size, dimensions=self.dimensions,
                                    counted=self.counted, tree=self._tree)

    @cached_property
    def _tree(self) -> dict[str, str | None] | None:
        return hierarchy.parents_of(self.org) if self.org is not None else None

    @cached_property
    def nodes(self) -> pd.DataFrame:
        """Each response's node at every level of :attr:`org` (columns ``org:<level>``,
        :func:`services.hierarchy.node_columns`); no columns without an organisation."""
        if self.org is None or "unit" not in self.frame:
            return pd.DataFrame(index=self.frame.index)
        return hierarchy.node_columns(self.frame["unit"], self.org)

    @cached_property
    def unit_rows(self) -> dict[str, np.ndarray]:
        """Each unit's row positions (units as text; empty without a ``unit`` column)."""
        if "unit" not in self.frame:
            return {}
        units = self.frame["unit"].astype("string")
        return {str(unit): rows for unit, rows in units.groupby(units, sort=False).indices.items()}

    def column(self, name: str) -> pd.Series:
        """A column of the frame, or of :attr:`nodes` (``org:<level>``)."""
        return self.frame[name] if name in self.frame else self.nodes[name]

    def has_column(self, name: str) -> bool:
        """Whether :meth:`column` knows ``name``."""
        return name in self.frame or name in self.nodes

    @cached_property
    def masked(self) -> pd.DataFrame:
        """The frame with thin item answers withheld (:func:`services.disclosure.mask_items`)."""
        items = [i.id for i in self.instrument.items]
        return disclosure.mask_items(self.frame, self.blocks, items)


@dataclass(frozen=True)
class Dataset:
    """The data of one source.

    Attributes
    ----------
    kind
        ``"demo"``, ``"campaigns"`` or ``"file"``.
    name
        What the data is, in words (shown at the top of every page).
    version
        Hashable: changes whenever the data does (cache key).
    sides
        ``{"employee": SideData, "customer": SideData}`` (one or both).
    study
        The linkage study that fits the instruments, or why there is none.
    kpis
        Business KPIs per unit for the study's KPI nodes (``unit`` and one column per KPI,
        the periods aligned with the waves), or None when the source has none.
    """

    kind: str
    name: str
    version: tuple
    sides: Mapping[str, SideData]
    study: StudyChoice
    kpis: pd.DataFrame | None = None

    @property
    def instruments(self) -> dict[str, Instrument]:
        """Side -> instrument."""
        return {side: data.instrument for side, data in self.sides.items()}

    @property
    def org(self) -> Any:
        """The organisation of the data's units (the first side's that has one), or ``None``."""
        return next((data.org for data in self.sides.values() if data.org is not None), None)


def _dataset(kind: str, name: str, version: tuple, sides: Mapping[str, SideData],
             kpis: pd.DataFrame | None = None) -> Dataset:
    return Dataset(kind, name, version, dict(sides), study_for({s: d.instrument for s, d in sides.items()}, kpis=kpis),
                   kpis)


def _side(instrument: Instrument, frame: pd.DataFrame, *, counted: Any = None, k: int | None = None,
          invited: Mapping[str, int] | None = None, campaigns: Sequence[str] = (), org: Any = None) -> SideData:
    frame = frame.reset_index(drop=True)
    k = max(instrument.min_group_size, k or 0)
    return SideData(instrument=instrument, frame=frame,
                    counted=np.ones(len(frame), dtype=bool) if counted is None else np.asarray(counted, dtype=bool),
                    min_group_size=k, min_comment_group_size=max(k, instrument.min_comment_group_size),
                    invited=dict(invited or {}), campaigns=tuple(campaigns), org=org)


# --------------------------------------------------------------------------- demo
def demo_dataset(*, n_units: int | None = None, seed: int | None = None) -> Dataset:
    """The demo: the simulated service-profit chain of the shipped instruments (the data
    ``tandem demo`` stores), 40 units, with its known truth."""
    from services import demo
    from surveys.loader import load_instrument

    employee = load_instrument(ROOT / "instruments" / "employee_experience.yaml")
    customer = load_instrument(ROOT / "instruments" / "customer_experience.yaml")
    n_units, seed = n_units or demo.DEMO_UNITS, seed or demo.DEMO_SEED
    employees, customers, kpis = demo.demo_frames(employee, customer, n_units=n_units, seed=seed)
    return _dataset("demo", f"the demo data (simulated service-profit chain, {n_units} units, seed {seed})",
                    ("demo", n_units, seed), {"employee": _side(employee, employees),
                                              "customer": _side(customer, customers)}, kpis)


# --------------------------------------------------------------------------- campaigns
def campaign_version(store: Any, campaign_ids: Sequence[str]) -> tuple:
    """The data version of chosen campaigns: their ids with response count and state
    (a new response or a closed campaign gives a new version)."""
    from surveys import campaigns
    listing = campaigns.list_campaigns(store).set_index("campaign")
    unknown = [c for c in campaign_ids if c not in listing.index]
    if unknown:
        raise TandemError(f"no campaign '{unknown[0]}'", where="campaigns",
                          fix="choose one of: " + ", ".join(listing.index[:12]) + ".")
    return ("campaigns", *((c, int(listing.loc[c, "responses"]), str(listing.loc[c, "state"]))
                           for c in campaign_ids))


def _counted(campaign: Any, n: int) -> np.ndarray:
    """Open-link employee responses do not count toward k (anyone could pad a unit),
    unless the operator set :data:`OPEN_EMPLOYEE_VARIABLE` and accepted that risk."""
    padded = campaign.audience == "employee" and campaign.mode == "open"
    allowed = os.environ.get(OPEN_EMPLOYEE_VARIABLE, "") == "1"
    return np.full(n, not padded or allowed, dtype=bool)


def campaign_dataset(store: Any, campaign_ids: Sequence[str]) -> Dataset:
    """Campaigns from the store: those of one audience are waves of one survey; an
    employee and a customer survey are linked through their units.

    Raises
    ------
    TandemError
        No campaign chosen, an unknown campaign, or campaigns of two different
        instruments for one audience.
    """
    from surveys import campaigns, responses

    if not campaign_ids:
        raise TandemError("no campaign chosen", where="campaigns", fix="choose at least one campaign.")
    version = campaign_version(store, campaign_ids)
    parts: dict[str, list[tuple[Any, pd.DataFrame]]] = {}
    for campaign_id in campaign_ids:
        campaign = campaigns.get_campaign(store, campaign_id)
        parts.setdefault(campaign.audience, []).append((campaign, responses.responses_frame(store, campaign_id)))
    sides = {}
    for audience, chosen in parts.items():
        ids = {c.instrument.id for c, _ in chosen}
        if len(ids) > 1:
            raise TandemError(f"campaigns of two different {audience} instruments ({', '.join(sorted(ids))}) cannot "
                              "be analysed together", where="campaigns",
                              fix="choose campaigns (waves) of one employee and one customer instrument.")
        latest = max(chosen, key=lambda pair: (str(pair[0].wave), pair[0].id))[0]
        invited: dict[str, int] = {}
        for campaign, _ in chosen:
            if campaign.mode == "invited":
                rates = responses.response_rates(store, campaign.id)
                counts = pd.to_numeric(rates.set_index("unit")["invited"], errors="coerce").dropna()
                for unit, n in counts.drop("(all units)", errors="ignore").items():
                    invited[str(unit)] = invited.get(str(unit), 0) + int(n)
        frame = pd.concat([f for _, f in chosen], ignore_index=True)
        counted = np.concatenate([_counted(c, len(f)) for c, f in chosen])
        sides[audience] = _side(latest.instrument, frame, counted=counted,
                                k=max(c.min_group_size for c, _ in chosen), invited=invited,
                                campaigns=[c.id for c, _ in chosen], org=_campaign_org(store, chosen, frame))
    described = "; ".join(f"{', '.join(d.campaigns)} ({side}s, {d.instrument.id} {d.instrument.version})"
                          for side, d in sides.items())
    kpis = _campaign_kpis(store, [c for c, _ in parts.get("employee", [])]) if "customer" in parts else None
    return _dataset("campaigns", f"campaigns {described}", version, sides, kpis)


#: Quarters between an employee wave and the business KPIs linked to it (a study's ``business.lag``).
KPI_LAG = 1


def wave_quarter(campaign: Any) -> str:
    """The quarter a campaign's wave belongs to (``2026Q3``): that of its opening, else of its creation."""
    from surveys.kpis import quarter_of

    return quarter_of((campaign.opens_at or campaign.created_at).date())


def _campaign_kpis(store: Any, employee_campaigns: Sequence[Any]) -> pd.DataFrame | None:
    """The declared business KPIs of every unit in the quarter :data:`KPI_LAG` after the latest
    employee wave opened (:func:`surveys.kpis.kpi_frame`: rolled up by each KPI's rule), with
    the KPIs that have any value there; ``None`` when no KPI or organisation is on record."""
    from surveys import kpis as kpi_store

    if not employee_campaigns:
        return None
    declared = kpi_store.definitions(store)
    if not declared:
        return None
    latest = max(employee_campaigns, key=lambda c: (str(c.wave), c.id))
    try:
        frame = kpi_store.kpi_frame(store, list(declared), [wave_quarter(latest)], lag=KPI_LAG)
    except kpi_store.KpiError:
        return None
    present = [k for k in declared if k in frame and frame[k].notna().any()]
    return frame[["unit", *present]].reset_index(drop=True) if present else None


def _campaign_org(store: Any, chosen: Sequence[tuple[Any, pd.DataFrame]], frame: pd.DataFrame) -> Any:
    """The organisation campaigns' units belong to: the version the latest campaign that took
    its units from the organisation pinned, else the one in force today; ``None`` when neither
    holds any unit of the responses (an instrument that lists its own units)."""
    from surveys import org_store

    pinned = [c for c, _ in chosen if c.org_version_id is not None]
    if pinned:
        latest = max(pinned, key=lambda c: (str(c.wave), c.id))
        org = org_store.org_version(store, latest.org_version_id)
    else:
        org = org_store.org_at(store)
    if org is None or "unit" not in frame:
        return None
    units = frame["unit"].dropna().astype(str).unique()
    return org if any(u in org for u in units) else None


# --------------------------------------------------------------------------- files
def read_upload(name: str, data: bytes) -> pd.DataFrame:
    """A response file's bytes (CSV, Excel or SPSS) as a frame, read in memory within the
    upload limits of :mod:`analysis.uploads` (size, cells, encoding); nothing is written to disk."""
    from analysis.scoring import read_responses_bytes

    return read_responses_bytes(data, name)


def file_dataset(frames: Mapping[str, tuple[Instrument, pd.DataFrame]], *, name: str,
                 version: tuple | None = None, org: Any = None) -> Dataset:
    """Response frames brought by the user (an upload, ``--data FILE``), each with its
    instrument; every row counts toward the instrument's thresholds. ``org``: the
    organisation the units belong to (:class:`surveys.organisation.Organisation`), if any."""
    sides = {}
    for instrument, frame in frames.values():
        if instrument.audience in sides:
            raise TandemError(f"two {instrument.audience} files", where=name,
                              fix="give one employee and one customer file at most.")
        sides[instrument.audience] = _side(instrument, frame, org=org)
    if version is None:
        digest = hashlib.sha256((org.sha256 if org is not None else "").encode())
        for instrument, frame in frames.values():
            digest.update(instrument.id.encode())
            digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
        version = ("file", digest.hexdigest())
    return _dataset("file", name, version, sides)
