"""Demo data: an employee and a customer campaign filled from a known service-profit chain.

``seed_demo(store, *, seed=DEMO_SEED, n_units=DEMO_UNITS) -> DemoResult`` creates

* ``demo-employees``: an invited campaign of the shipped ``employee_experience``
  instrument. Each unit gets invitations for its simulated respondents (marked used)
  plus a few unanswered ones, so response rates look real; one extra fresh invitation
  gives a link a new user can answer.
* ``demo-customers``: an open-link campaign of ``customer_experience``.

and fills them with :func:`analysis.simulate.simulate_service_profit_chain` (40 units,
8-25 employees and 20-60 customers per unit) with the same seed and size as
:func:`demo_frames` (the demo data source of the pages, ``tandem analyze study --demo`` and
``tandem report --demo``), so the stored demo and the analysis demo are the same data. ``tandem demo`` calls it;
``tandem demo --if-empty`` (``make run``) only when the database has no campaign yet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from surveys import campaigns as cp
from surveys import responses
from surveys import store as db
from surveys.instrument import Instrument
from surveys.loader import load_instrument

__all__ = ["CUSTOMER_CAMPAIGN", "DEMO_SEED", "DEMO_UNITS", "DEMO_WAVE", "EMPLOYEE_CAMPAIGN", "DemoResult",
           "demo_frames",
           "is_empty", "seed_demo"]

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
    from analysis.simulate import BUSINESS_CHAIN, SERVICE_PROFIT_CHAIN, simulate_service_profit_chain

    chain = simulate_service_profit_chain(employee, customer, n_units=n_units, seed=seed, wave=DEMO_WAVE,
                                          paths={**SERVICE_PROFIT_CHAIN, **BUSINESS_CHAIN},
                                          business=tuple(BUSINESS_CHAIN))
    return chain.employees, chain.customers, chain.kpis


def is_empty(store: db.Store) -> bool:
    """True when the database has no campaign."""
    query = sa.select(sa.func.count()).select_from(db.campaigns)
    return store.run(lambda conn: conn.execute(query).scalar_one(), write=False) == 0


def seed_demo(store: db.Store, *, seed: int = DEMO_SEED, n_units: int = DEMO_UNITS,
              wave: str = DEMO_WAVE) -> DemoResult:
    """Create and fill the two demo campaigns (see the module docstring).

    Raises
    ------
    CampaignError
        A demo campaign exists already (drop the database or use ``--if-empty``).
    """
    from analysis.simulate import simulate_service_profit_chain

    for cid in (EMPLOYEE_CAMPAIGN, CUSTOMER_CAMPAIGN):
        try:
            cp.get_campaign(store, cid)
        except cp.CampaignNotFound:
            continue
        raise cp.CampaignError(f"the demo campaign '{cid}' exists already", where=str(store),
                               fix="Use 'tandem demo --if-empty', or point TANDEM_DATABASE_URL at a new database.")
    employee = load_instrument(INSTRUMENTS / "employee_experience.yaml")
    customer = load_instrument(INSTRUMENTS / "customer_experience.yaml")
    chain = simulate_service_profit_chain(employee, customer, n_units=n_units, seed=seed, wave=wave)
    cp.create_campaign(store, employee, campaign_id=EMPLOYEE_CAMPAIGN, wave=wave, mode="invited",
                       name="Demo: employee experience")
    cp.create_campaign(store, customer, campaign_id=CUSTOMER_CAMPAIGN, wave=wave, mode="open",
                       name="Demo: customer experience")
    n_employees = responses.import_frame(store, EMPLOYEE_CAMPAIGN, chain.employees)
    n_customers = responses.import_frame(store, CUSTOMER_CAMPAIGN, chain.customers)
    for unit, answered in chain.employees["unit"].value_counts().sort_index().items():
        _answered_invitations(store, str(unit), int(answered))
    tokens = cp.invite(store, EMPLOYEE_CAMPAIGN, unit=str(chain.employees["unit"].iloc[0]), count=DEMO_LINKS)
    for cid in (EMPLOYEE_CAMPAIGN, CUSTOMER_CAMPAIGN):
        cp.open_campaign(store, cid)
    return DemoResult(EMPLOYEE_CAMPAIGN, CUSTOMER_CAMPAIGN, n_employees, n_customers, tuple(tokens))


def _answered_invitations(store: db.Store, unit: str, answered: int) -> None:
    """Invitations of a demo unit: ``answered`` of them used, the rest issued (tokens discarded)."""
    invited = max(answered, math.ceil(answered / DEMO_RESPONSE_RATE))
    cp.invite(store, EMPLOYEE_CAMPAIGN, unit=unit, count=invited)
    i = db.invitations
    ids = sa.select(i.c.id).where(i.c.campaign_id == EMPLOYEE_CAMPAIGN, i.c.unit == unit,
                                  i.c.status == "issued").limit(answered).scalar_subquery()
    if answered:
        store.run(lambda conn: conn.execute(i.update().where(i.c.id.in_(ids)).values(status="used")))

