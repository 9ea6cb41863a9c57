"""Business KPIs from the store reach the linkage chain: the demo campaigns, the organisation
of their stores, and the KPIs of the quarter after the wave (``tandem kpi import``) give the
chain employee -> customer -> business, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from services import demo
from services.insight import linkage
from services.selection import select
from services.sources import KPI_LAG, campaign_dataset, wave_quarter
from surveys import campaigns, kpis, org_store
from surveys.loader import load_instrument
from surveys.organisation import parse_organisation

ROOT = Path(__file__).resolve().parents[1]


def _org(units: list[str]) -> str:
    lines = ["unit_id,name,parent_id,level", "acme,ACME,,company", "north,North,acme,region", "south,South,acme,region"]
    lines += [f"{u},{u},{'north' if i % 2 else 'south'},store" for i, u in enumerate(units)]
    return "\n".join(lines) + "\n"


def test_stored_kpis_are_the_chains_last_link(any_store, tmp_path):
    demo.seed_demo(any_store, business=False)
    employee = load_instrument(ROOT / "instruments" / "employee_experience.yaml")
    customer = load_instrument(ROOT / "instruments" / "customer_experience.yaml")
    _, _, values = demo.demo_frames(employee, customer)
    org_store.import_organisation(any_store, parse_organisation(_org(list(values["unit"]))), as_of="2020-01-01")
    kpis.declare_kpis(any_store, kpis.read_definitions(ROOT / "instruments" / "business" / "kpis.yaml"))
    period = kpis.shift_period(wave_quarter(campaigns.get_campaign(any_store, demo.EMPLOYEE_CAMPAIGN)), KPI_LAG)
    rows = values.melt(id_vars="unit", var_name="kpi", value_name="value").assign(period=period)
    path = tmp_path / "kpis.csv"
    rows[["unit", "period", "kpi", "value"]].to_csv(path, index=False)
    kpis.import_kpis(any_store, path)

    dataset = campaign_dataset(any_store, [demo.EMPLOYEE_CAMPAIGN, demo.CUSTOMER_CAMPAIGN])
    assert dataset.study.study.id == "service_profit_chain_kpis"
    stored = dataset.kpis.set_index("unit")
    expected = values.set_index("unit")
    for kpi in ("retention", "sales_growth", "first_contact_resolution"):
        pd.testing.assert_series_equal(stored.loc[expected.index, kpi], expected[kpi], check_names=False, rtol=1e-9)
    result = linkage(select(dataset), dataset.study.study, bootstrap=100, seed=1, kpis=dataset.kpis)
    assert {"retention", "sales_growth", "first_contact_resolution"} <= set(result.paths["lhs"])
    assert ("manager_support", "retention") in set(zip(result.indirect["lhs"], result.indirect["rhs"], strict=True))


def test_campaigns_without_kpis_keep_the_survey_chain(sqlite_store):
    demo.seed_demo(sqlite_store, business=False)
    dataset = campaign_dataset(sqlite_store, [demo.EMPLOYEE_CAMPAIGN, demo.CUSTOMER_CAMPAIGN])
    assert dataset.kpis is None and dataset.study.study.id == "service_profit_chain"


def test_the_demo_brings_its_organisation_and_kpis(any_store):
    """``tandem demo``: a 3-level organisation above the demo's stores with managers, the shipped
    KPI declarations, and the KPIs of the quarter after the wave, rolled up and on the chain."""
    demo.seed_demo(any_store)
    org = org_store.org_at(any_store)
    assert org.levels == ("company", "region", "district", "store")
    assert org.counts() == {"company": 1, "region": 2, "district": 4, "store": demo.DEMO_UNITS}
    assert org.units_managed_by("manager.store_01@example.com") == ("store_01",)
    assert org.units_managed_by("manager.north@example.com") == ("north",)
    assert "store_01" in org.subtree("district_n1") and org.ancestors("store_40")[-1] == "demo_retail"
    assert set(kpis.definitions(any_store)) == {d.id for d in kpis.read_definitions(kpis.SHIPPED_KPIS)}

    assert demo.DEMO_KPI_LAG == KPI_LAG
    employee = campaigns.get_campaign(any_store, demo.EMPLOYEE_CAMPAIGN)
    assert [u.id for u in employee.instrument.units] == list(org.at_level("store"))
    customer = campaigns.get_campaign(any_store, demo.CUSTOMER_CAMPAIGN)  # the open link offers the stores
    assert customer.org_units == employee.org_units and customer.org_version_id == org_store.version_at(any_store).id
    assert employee.instrument.question(employee.instrument.unit_question).source == "organisation"
    period = kpis.shift_period(wave_quarter(employee), KPI_LAG)
    frame = kpis.kpi_frame(any_store, ["retention", "headcount", "first_contact_resolution"], [wave_quarter(employee)])
    assert set(frame["kpi_period"]) == {period}
    by_unit = frame.set_index("unit")
    stores = list(org.at_level("store"))
    assert by_unit.loc[stores, "retention"].notna().all()
    # the company's retention is the headcount-weighted mean of its stores'
    weights = by_unit.loc[stores, "headcount"]
    expected = (by_unit.loc[stores, "retention"] * weights).sum() / weights.sum()
    assert by_unit.loc["demo_retail", "retention"] == pytest.approx(expected)

    employee_i = load_instrument(ROOT / "instruments" / "employee_experience.yaml")
    customer_i = load_instrument(ROOT / "instruments" / "customer_experience.yaml")
    _, _, values = demo.demo_frames(employee_i, customer_i)
    dataset = campaign_dataset(any_store, [demo.EMPLOYEE_CAMPAIGN, demo.CUSTOMER_CAMPAIGN])
    assert dataset.study.study.id == "service_profit_chain_kpis"
    assert dataset.org is not None
    stored = dataset.kpis.set_index("unit")
    pd.testing.assert_series_equal(stored.loc[values["unit"], "retention"], values.set_index("unit")["retention"],
                                   check_names=False, rtol=1e-9)


def test_the_demo_never_replaces_an_organisation_on_record(sqlite_store):
    org_store.import_organisation(sqlite_store, parse_organisation(_org(["store_01"])), as_of="2020-01-01")
    assert not demo.is_empty(sqlite_store)  # tandem demo --if-empty adds nothing
    with pytest.raises(campaigns.CampaignError, match="organisation or KPI declarations already") as refused:
        demo.seed_demo(sqlite_store)
    assert "new database" in refused.value.fix
    assert len(org_store.list_versions(sqlite_store)) == 1 and campaigns.list_campaigns(sqlite_store).empty
