"""The Compare page by the organisation's children of the chosen node, under AppTest, through
the disclosure policy (``privacy.attacks.ORG``: district d1 has store_01 12, store_02 8,
store_03 4 = k - 1 and store_04 10 respondents; store_03 is pooled with its smallest sibling
store_02, so both are hidden, and d1 minus its shown stores is the pool, never store_03)."""

from __future__ import annotations

from pathlib import Path

import pytest
from privacy.attacks import ORG_CAMPAIGN as CAMPAIGN
from privacy.attacks import ORG_SIZES as SIZES
from privacy.attacks import seed_org_campaign
from streamlit.testing.v1 import AppTest

from services.insight import children_breakdown, compare, compare_breakdowns
from services.selection import HIDDEN_LABEL, Selection, select
from services.sources import campaign_dataset
from surveys.store import open_store

ROOT = Path(__file__).resolve().parents[1]
K = 5


@pytest.fixture
def org_url(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'compare.db'}"
    monkeypatch.setenv("TANDEM_DATABASE_URL", url)
    seed_org_campaign(url)
    return url


def views_of(url: str, node: str | None):
    store = open_store(url)
    try:
        dataset = campaign_dataset(store, [CAMPAIGN])
    finally:
        store.dispose()
    return select(dataset, Selection.of(node=node))["employee"]


def test_children_of_a_node_are_a_comparison_dimension_through_the_policy(org_url):
    view = views_of(org_url, "d1")
    assert children_breakdown(view) == {"org:store": "Units directly below District One (store)"}
    assert list(compare_breakdowns(view))[:2] == ["unit", "org:store"]
    found = compare(view, by="org:store")
    groups = found.groups.set_index("group")
    assert set(groups.index[groups["status"] == "whole"]) == {"store_01", "store_04"}
    assert set(groups.index[groups["status"] == "hidden"]) == {"store_02", "store_03"}
    assert groups.loc[["store_02", "store_03"], "n"].isna().all()
    assert set(found.cells["group"]) == {"store_01", "store_04"}
    # parent against children: the node minus every child shown (and every "rest") is the pool
    # of store_02 and store_03 together, never store_03 alone
    shown_n = set(found.cells["n"]) | set(found.cells["rest_n"]) | set(found.pairwise["n1"]) | set(found.pairwise["n2"])
    assert shown_n <= {SIZES["store_01"], SIZES["store_04"]}
    assert view.n - sum(SIZES[s] for s in ("store_01", "store_04")) == SIZES["store_02"] + SIZES["store_03"] >= K
    company = compare(views_of(org_url, None), by="org:district")
    assert set(company.cells["group"]) == {"d1", "d2"}
    assert children_breakdown(views_of(org_url, "store_01")) == {}  # a leaf has no children


def test_compare_page_by_the_children_of_the_chosen_node(org_url):
    at = AppTest.from_file(str(ROOT / "views" / "insight_compare.py"), default_timeout=240).run()
    at.sidebar.radio(key="insight:source").set_value("Campaigns").run()
    at.sidebar.multiselect(key="insight:campaigns").set_value([CAMPAIGN]).run()
    at.sidebar.selectbox(key="insight:node").set_value("d1").run()
    by = at.selectbox(key="compare:by")
    assert "org:store" in by.options or "Units directly below District One (store)" in by.options
    by.set_value("org:store").run()
    assert not at.exception, [e.value for e in at.exception]
    captions = "\n".join(c.value for c in at.caption)
    assert f"Not shown, {HIDDEN_LABEL}: store_02, store_03" in captions
    tables = [d.value for d in at.dataframe if "group" in d.value.columns]
    assert tables, "no table of groups"
    for table in tables:
        assert set(table["group"]) == {"store_01", "store_04"}
        for column in ("n", "rest_n"):
            if column in table:
                assert set(table[column]) <= {SIZES["store_01"], SIZES["store_04"]}
