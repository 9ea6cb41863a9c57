"""Demo data: an employee and a customer campaign filled from a known service-profit chain.

``seed_demo(store, *, seed=DEMO_SEED, n_units=DEMO_UNITS) -> DemoResult`` creates

* ``demo-employees``: an invited campaign of the shipped ``employee_experience``
  instrument. Each unit gets invitations for its simulated respondents (marked used)
  plus a few unanswered ones, so response rates look real; one extra fresh invitation
  gives a link a new user can answer.
* ``demo-customers``: an open-link campaign of ``customer_experience``.

Both take their units from the demo organisation (below): they pin the shipped instruments
with ``source: organisation`` instead of their ``units:`` list, so invitations, the open
link's unit choice and the imported responses are checked against the organisation's stores.

and fills them with :func:`analysis.simulate.simulate_service_profit_chain` (40 units,
8-25 employees and 20-60 customers per unit) with the same seed and size as
:func:`demo_frames` (the demo data source of the pages, ``tandem analyze study --demo`` and
``tandem report --demo``), so the stored demo and the analysis demo are the same data. ``tandem demo`` calls it;
``tandem demo --if-empty`` (``make run``) only when the database has no campaign yet.

Before the campaigns, the demo stores what a real organisation brings (docs/organisation.md),
through the code ``tandem org import`` and ``tandem kpi declare|import`` use:

* the organisation (:func:`demo_organisation_csv`), in force from the first day of the
  current quarter: company ``demo_retail`` > regions ``north``, ``south`` > four districts
  > the demo's stores, with managers ``manager.store_01@example.com``,
  ``manager.store_02@example.com``, ``manager.district_n1@example.com`` and
  ``manager.north@example.com`` (sign in as one of them with OIDC to see a manager's scope);
* the shipped KPI declarations (:data:`surveys.kpis.SHIPPED_KPIS`);
* each store's KPIs for the quarter :data:`DEMO_KPI_LAG` after the employee wave
  (:func:`demo_kpi_rows`): the simulated retention, sales growth and first-contact
  resolution of :func:`demo_frames`, with headcount (the store's invited employees) and
  customer contacts (:data:`DEMO_CONTACTS_PER_CUSTOMER` per simulated customer), the weights
  of the rolled-up means.

So the node picker, the roll-ups and the Linkage page with business outcomes work out of the
box.
"""

from __future__ import annotations

import csv
import io
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from surveys import campaigns as cp
from surveys import kpis, org_store, responses
from surveys import store as db
from surveys.instrument import Instrument
from surveys.loader import load_instrument, parse_instrument
from surveys.organisation import read_organisation

__all__ = ["CUSTOMER_CAMPAIGN", "DEMO_MANAGERS", "DEMO_SEED", "DEMO_UNITS", "DEMO_WAVE", "EMPLOYEE_CAMPAIGN",
           "DemoResult", "demo_frames", "demo_kpi_rows", "demo_organisation_csv", "is_empty", "seed_demo"]

INSTRUMENTS = Path(__file__).resolve().parents[1] / "instruments"
#: Same seed and number of units as the analysis demo (``tandem_cli.study``).
DEMO_SEED = 20260105
DEMO_UNITS = 40
EMPLOYEE_CAMPAIGN = "demo-employees"
CUSTOMER_CAMPAIGN = "demo-customers"
DEMO_WAVE = "2026-1"
#: Fresh employee invitations the demo prints (each link answers once).
DEMO_LINKS = 5
#: Share of invited employees who answered in the demo (invitations = answered / rate).
DEMO_RESPONSE_RATE = 0.72
#: The demo organisation: its root, regions and districts (id, name, region).
DEMO_COMPANY = ("demo_retail", "Demo Retail")
DEMO_REGIONS = (("north", "North"), ("south", "South"))
DEMO_DISTRICTS = (("district_n1", "District N1", "north"), ("district_n2", "District N2", "north"),
                  ("district_s1", "District S1", "south"), ("district_s2", "District S2", "south"))
#: Managers of the demo organisation (unit -> e-mail).
DEMO_MANAGERS = {unit: f"manager.{unit}@example.com" for unit in ("store_01", "store_02", "district_n1", "north")}
#: Quarters between the employee wave and its KPIs: the lag the data sources read
#: (``services.sources.KPI_LAG``; not imported, since that module imports this one).
DEMO_KPI_LAG = 1
#: Customer contacts per simulated customer response (the weight of first-contact resolution
#: and response time).
DEMO_CONTACTS_PER_CUSTOMER = 25


@dataclass(frozen=True)
class DemoResult:
    """What :func:`seed_demo` created: campaign ids, response counts and a fresh invitation token."""

    employee_campaign: str
    customer_campaign: str
    employees: int
    customers: int
    employee_tokens: tuple[str, ...]

    @property
    def employee_token(self) -> str:
        """The first fresh employee invitation."""
        return self.employee_tokens[0]

    def links(self, base_url: str) -> dict[str, list[str]]:
        """Respondent links: one per fresh employee invitation (each answers once), and the
        customers' open link (it answers as often as it is opened anew)."""
        base = base_url.rstrip("/")
        return {"employee": [f"{base}/?c={self.employee_campaign}&t={t}" for t in self.employee_tokens],
                "customer": [f"{base}/?c={self.customer_campaign}"]}


def demo_frames(employee: Instrument, customer: Instrument, *, n_units: int = DEMO_UNITS,
                seed: int = DEMO_SEED) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The demo data: employee and customer frames of the simulated service-profit chain, and
    each unit's business KPIs in the quarter after the wave (retention, sales growth,
    first-contact resolution from :data:`analysis.simulate.BUSINESS_CHAIN`)."""
    chain = _chain(employee, customer, n_units=n_units, seed=seed, wave=DEMO_WAVE)
    return chain.employees, chain.customers, chain.kpis


def _chain(employee: Instrument, customer: Instrument, *, n_units: int, seed: int, wave: str) -> Any:
    """The simulated service-profit chain with its business KPIs (they are drawn after the
    respondents, on their own random stream, so the survey data are those of the chain without them)."""
    from analysis.simulate import BUSINESS_CHAIN, SERVICE_PROFIT_CHAIN, simulate_service_profit_chain

    return simulate_service_profit_chain(employee, customer, n_units=n_units, seed=seed, wave=wave,
                                         paths={**SERVICE_PROFIT_CHAIN, **BUSINESS_CHAIN},
                                         business=tuple(BUSINESS_CHAIN))


def demo_organisation_csv(stores: Sequence[tuple[str, str]]) -> str:
    """The demo organisation as an organisation file (docs/organisation.md): the company, two
    regions, four districts and ``stores`` (``(id, name)`` pairs) spread over the districts in
    order (store i of n goes to district ``floor(4 i / n)``), managers from :data:`DEMO_MANAGERS`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["unit_id", "name", "parent_id", "level", "managers"])
    writer.writerow([*DEMO_COMPANY, "", "company", DEMO_MANAGERS.get(DEMO_COMPANY[0], "")])
    for region, name in DEMO_REGIONS:
        writer.writerow([region, name, DEMO_COMPANY[0], "region", DEMO_MANAGERS.get(region, "")])
    for district, name, region in DEMO_DISTRICTS:
        writer.writerow([district, name, region, "district", DEMO_MANAGERS.get(district, "")])
    for i, (store, name) in enumerate(stores):
        district = DEMO_DISTRICTS[len(DEMO_DISTRICTS) * i // len(stores)][0]
        writer.writerow([store, name, district, "store", DEMO_MANAGERS.get(store, "")])
    return buffer.getvalue()


def demo_kpi_rows(chain: Any, period: str) -> pd.DataFrame:
    """The demo's KPI values file (``unit, period, kpi, value``) for ``period``: the chain's
    simulated KPIs of each store, its headcount (invited employees,
    ``ceil(answered / DEMO_RESPONSE_RATE)``) and its customer contacts
    (``DEMO_CONTACTS_PER_CUSTOMER × customers``)."""
    units = chain.units.set_index("unit")
    values = chain.kpis.set_index("unit").assign(
        headcount=[_invited(int(n)) for n in units["n_employees"]],
        contacts=units["n_customers"].to_numpy() * DEMO_CONTACTS_PER_CUSTOMER)
    rows = values.rename_axis("unit").reset_index().melt(id_vars="unit", var_name="kpi", value_name="value")
    return rows.assign(period=period)[["unit", "period", "kpi", "value"]]


def _invited(answered: int) -> int:
    """Invitations of a demo unit where ``answered`` employees answered."""
    return max(answered, math.ceil(answered / DEMO_RESPONSE_RATE))


def is_empty(store: db.Store) -> bool:
    """True when the database has no campaign, no organisation and no KPI declaration."""
    query = sa.select(sa.func.count()).select_from(db.campaigns)
    no_campaign = store.run(lambda conn: conn.execute(query).scalar_one(), write=False) == 0
    return no_campaign and not _business_on_record(store)


def _business_on_record(store: db.Store) -> bool:
    """Whether the database holds an organisation version or a KPI declaration already."""
    return bool(org_store.list_versions(store) or kpis.definitions(store))


def seed_demo(store: db.Store, *, seed: int = DEMO_SEED, n_units: int = DEMO_UNITS,
              wave: str = DEMO_WAVE, business: bool = True) -> DemoResult:
    """Store the demo organisation and KPIs, and create and fill the two demo campaigns (see
    the module docstring).

    Parameters
    ----------
    business
        False: the campaigns only (no organisation, no KPI declarations or values).

    Raises
    ------
    CampaignError
        A demo campaign exists already (drop the database or use ``--if-empty``), or (with
        ``business``) an organisation or KPI declarations are on record already.
    """
    for cid in (EMPLOYEE_CAMPAIGN, CUSTOMER_CAMPAIGN):
        try:
            cp.get_campaign(store, cid)
        except cp.CampaignNotFound:
            continue
        raise cp.CampaignError(f"the demo campaign '{cid}' exists already", where=str(store),
                               fix="Use 'tandem demo --if-empty', or point TANDEM_DATABASE_URL at a new database.")
    if business and _business_on_record(store):
        raise cp.CampaignError("the database has an organisation or KPI declarations already: the demo's would "
                               "replace them", where=str(store),
                               fix="Point TANDEM_DATABASE_URL at a new database for the demo.")
    employee = load_instrument(INSTRUMENTS / "employee_experience.yaml")
    customer = load_instrument(INSTRUMENTS / "customer_experience.yaml")
    chain = _chain(employee, customer, n_units=n_units, seed=seed, wave=wave)
    if business:
        _store_organisation(store, employee, chain)
    # with the organisation, both campaigns take its stores (the customers' open link offers them)
    surveyed = {i.id: _from_organisation(i) if business else i for i in (employee, customer)}
    cp.create_campaign(store, surveyed[employee.id], campaign_id=EMPLOYEE_CAMPAIGN, wave=wave, mode="invited",
                       name="Demo: employee experience")
    cp.create_campaign(store, surveyed[customer.id], campaign_id=CUSTOMER_CAMPAIGN, wave=wave, mode="open",
                       name="Demo: customer experience")
    n_employees = responses.import_frame(store, EMPLOYEE_CAMPAIGN, chain.employees)
    n_customers = responses.import_frame(store, CUSTOMER_CAMPAIGN, chain.customers)
    for unit, answered in chain.employees["unit"].value_counts().sort_index().items():
        _answered_invitations(store, str(unit), int(answered))
    tokens = cp.invite(store, EMPLOYEE_CAMPAIGN, unit=str(chain.employees["unit"].iloc[0]), count=DEMO_LINKS)
    for cid in (EMPLOYEE_CAMPAIGN, CUSTOMER_CAMPAIGN):
        cp.open_campaign(store, cid)
    if business:
        _store_kpis(store, chain)
    return DemoResult(EMPLOYEE_CAMPAIGN, CUSTOMER_CAMPAIGN, n_employees, n_customers, tuple(tokens))


def _from_organisation(instrument: Instrument) -> Instrument:
    """A shipped instrument whose unit question takes its units from the organisation
    (``source: organisation``): its text without the closing ``units:`` list."""
    text = instrument.source_text
    head, _, tail = text.partition("\nunits:\n")
    if not tail or head.count("source: list") != 1 or any(
            line[:1] not in ("", " ", "-", "#") for line in tail.splitlines()):
        raise cp.CampaignError("the demo instrument's units are not its last block", where=instrument.id,
                               fix="Keep 'units:' at the end of the shipped instrument, after one 'source: list'.")
    return parse_instrument(head.replace("source: list", "source: organisation") + "\n",
                            source=f"{instrument.id} (units from the organisation)")


def _store_organisation(store: db.Store, employee: Instrument, chain: Any) -> None:
    """Import the demo organisation (in force from the first day of this quarter) and declare
    the shipped KPIs, as ``tandem org import`` and ``tandem kpi declare`` do."""
    quarter_start = kpis.period_bounds(kpis.quarter_of(db.utcnow().date()))[0]
    labels = {u.id: employee.text(u.label) for u in employee.units}
    stores = [(str(u), labels.get(str(u), str(u))) for u in chain.units["unit"]]
    with tempfile.TemporaryDirectory(prefix="tandem-demo-") as folder:
        org_file = Path(folder) / "demo_organisation.csv"
        org_file.write_text(demo_organisation_csv(stores), encoding="utf-8")
        org_store.import_organisation(store, read_organisation(org_file), as_of=quarter_start, source=org_file.name)
    kpis.declare_kpis(store, kpis.read_definitions(kpis.SHIPPED_KPIS, known=kpis.definitions(store)))


def _store_kpis(store: db.Store, chain: Any) -> None:
    """Import the demo KPIs for the quarter ``DEMO_KPI_LAG`` after the employee wave, as ``tandem kpi import`` does."""
    campaign = cp.get_campaign(store, EMPLOYEE_CAMPAIGN)
    period = kpis.shift_period(kpis.quarter_of((campaign.opens_at or campaign.created_at).date()), DEMO_KPI_LAG)
    with tempfile.TemporaryDirectory(prefix="tandem-demo-") as folder:
        path = Path(folder) / "demo_kpis.csv"
        demo_kpi_rows(chain, period).to_csv(path, index=False)
        kpis.import_kpis(store, path)


def _answered_invitations(store: db.Store, unit: str, answered: int) -> None:
    """Invitations of a demo unit: ``answered`` of them used, the rest issued (tokens discarded)."""
    invited = _invited(answered)
    cp.invite(store, EMPLOYEE_CAMPAIGN, unit=unit, count=invited)
    i = db.invitations
    ids = sa.select(i.c.id).where(i.c.campaign_id == EMPLOYEE_CAMPAIGN, i.c.unit == unit,
                                  i.c.status == "issued").limit(answered).scalar_subquery()
    if answered:
        store.run(lambda conn: conn.execute(i.update().where(i.c.id.in_(ids)).values(status="used")))

