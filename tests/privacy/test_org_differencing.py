"""Differencing attacks along the organisation tree: a parent against its shown children.

The organisation has three levels (company acme, districts d1 and d2, stores). Store s3
has k - 1 = 4 respondents. An attacker with staff access reads district d1, every store
of d1 that is shown, the company and the other district, and tries to recover s3's mean
as (n_d1 * mean_d1 - sum of the shown stores' n * mean) / (n_d1 - their n). The tree-aware
partition pools s3 with its smallest sibling, so either that sibling or the district is
never shown whole: the subtraction always leaves at least k people. The property test
runs the same observer as ``test_differencing.py`` (atoms of everything shown) over
random three-level organisations, with node selections and breakdowns by every level.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privacy.attacks import dataset_of, merged, organisation, people, shown_sets, smallest_atom
from services.insight import headline_metrics, responses_by_unit
from services.selection import HIDDEN_LABEL, Selection, SelectionError, select

K = 5
LEVELS = ("org:company", "org:district", "org:store")
BREAKDOWNS = ("unit", "wave", "tenure", "role", *LEVELS)
TREE = {"d1": ["s1", "s2", "s3"], "d2": ["s4", "s5"]}
SIZES = {"s1": 8, "s2": 7, "s3": K - 1, "s4": 9, "s5": 6}


def stores() -> pd.DataFrame:
    """Respondents per store; s3's four answer enps = 0 (the secret the attacker wants)."""
    rows = []
    for store, n in SIZES.items():
        for i in range(n):
            secret = store == "s3"
            rows.append((store, "long" if i % 2 else "short", "staff", 1 if secret else 4, 0 if secret else 9,
                         f"{store} comment {i}"))
    return people(rows)


def tree_dataset(org_yaml, frame=None):
    return dataset_of(org_yaml, stores() if frame is None else frame, organisation(TREE))


def enps_of(view):
    """(n, eNPS) of a view as the pages show it, or None when it shows nothing."""
    metric = headline_metrics(view).get("enps")
    if metric is None or metric.overall is None:
        return None
    return metric.overall.n, metric.overall.value


def test_naive_suppression_of_each_node_lets_the_district_minus_its_stores_reveal_the_small_store(org):
    """Positive control: every node shown when it alone holds k gives an atom of s3's four people."""
    frame = stores()
    org_tree = organisation(TREE)
    sets = []
    for node in ("acme", "d1", "d2", *SIZES):
        member = frame["unit"].isin(org_tree.subtree(node)).to_numpy()
        if member.sum() >= K:
            sets.append(member)
    assert smallest_atom(sets, np.ones(len(frame), bool)) == K - 1


def test_the_district_and_its_shown_stores_never_give_the_hidden_stores_mean(org):
    dataset = tree_dataset(org)
    district = select(dataset, Selection.of(node="d1"))["employee"]
    assert district.note is None and district.n == 8 + 7 + 4, "d1 is a union of whole blocks: shown whole"
    shown_stores = {s: select(dataset, Selection.of(node=s))["employee"] for s in TREE["d1"]}
    whole = [s for s, view in shown_stores.items() if not view.empty]
    assert whole == ["s1"], "s3 (k - 1) is pooled with its smallest sibling s2, so neither is shown"
    # the children breakdown of d1 names the same: s1 shown, s2 hidden (protects s3), s3 below k
    table = responses_by_unit(district).set_index("unit")
    assert table.loc["s1", "responses"] == 8 and table.loc["s2", "shown"] == HIDDEN_LABEL
    assert table.loc["s3", "shown"] == "fewer than 5 respondents" and list(table.index) == ["s1", "s2", "s3"]
    by_store = headline_metrics(district.nodes_view(), group=district.children_column)["enps"].units.set_index("unit")
    assert bool(by_store.loc["s2", "suppressed"]) and bool(by_store.loc["s3", "suppressed"])
    # the attack: d1 minus every shown store leaves s2 and s3 together (11 >= k), never s3 alone
    n_d1, e_d1 = enps_of(district)
    n_s1, e_s1 = enps_of(shown_stores["s1"])
    rest = n_d1 - n_s1
    assert rest == 7 + 4 and rest >= K
    recovered = (n_d1 * e_d1 - n_s1 * e_s1) / rest
    s3_enps = -100.0
    assert recovered != pytest.approx(s3_enps), "the difference is s2 and s3 mixed, not s3"
    # and everything offered (company, districts, stores, breakdowns by every level) has no atom below k
    views = [select(dataset, Selection.of(node=node))["employee"] for node in ("acme", "d1", "d2", *SIZES)]
    views.append(select(dataset)["employee"])
    sets = merged(*(shown_sets(view, BREAKDOWNS) for view in views))
    assert smallest_atom(sets, dataset.sides["employee"].counted) >= K


def test_blocks_follow_the_tree_so_districts_and_the_company_are_whole(org):
    """Without the tree the pool of small stores crosses districts (s3 with s5), and d1 and d2
    could each show only part of their people; with it, every node of k or more is whole."""
    flat = dataset_of(org, stores())
    assert select(flat, Selection.of(units=TREE["d1"]))["employee"].note is not None  # part left out
    dataset = tree_dataset(org)
    for node in ("acme", "d1", "d2"):
        view = select(dataset, Selection.of(node=node))["employee"]
        assert view.note is None, node
    company = select(dataset, Selection.of(node="acme"))["employee"]
    assert company.children_column == "org:district"
    assert company.groups("org:district") == {"d1": "whole", "d2": "whole"}


def test_a_district_below_k_is_pooled_with_a_sibling_district():
    """d2 holds 4 in all: it passes its pool up, and the company tops it up with the smallest
    candidate inside it; the company stays whole and d2 is never shown."""
    from services.hierarchy import parents_of, unit_groups

    org_tree = organisation({"d1": ["s1", "s2"], "d2": ["s4", "s5"]})
    groups = unit_groups({"s1": 9, "s2": 6, "s4": 2, "s5": 2}, K, parents_of(org_tree))
    assert sorted(map(sorted, groups)) == [["s1"], ["s2", "s4", "s5"]]
    assert unit_groups({"s1": 2, "s4": 2}, K, parents_of(org_tree)) == []  # the wave is below k in all


def test_an_unknown_node_says_how_to_fix_it(org):
    with pytest.raises(SelectionError, match="no unit 'd9'") as raised:
        select(tree_dataset(org), Selection.of(node="d9"))
    assert "d1" in raised.value.fix or "acme" in raised.value.fix
    with pytest.raises(SelectionError, match="has no organisation"):
        select(dataset_of(org, stores()), Selection.of(node="d1"))


@st.composite
def trees(draw):
    """A random three-level organisation, responses in its stores, and selections of nodes."""
    districts = {f"d{i}": [f"s{i}{j}" for j in range(draw(st.integers(1, 3)))] for i in range(draw(st.integers(1, 3)))}
    units = [s for members in districts.values() for s in members]
    waves = ["1", "2"][:draw(st.integers(1, 2))]
    rows = []
    for wave in waves:
        for unit in units:
            for _ in range(draw(st.integers(0, 9))):
                rows.append((wave, unit, draw(st.sampled_from(["short", "long", None])),
                             draw(st.sampled_from(["staff", "lead"])), draw(st.sampled_from([1, 3, 5, None])),
                             draw(st.integers(0, 10))))
    frame = pd.DataFrame(rows, columns=["wave", "unit", "tenure", "role", "sat_1", "enps"])
    frame["response_id"] = [f"r{i}" for i in range(len(frame))]
    for column in ("sat_2", "sup_1", "sup_2"):
        frame[column] = frame["sat_1"]
    nodes = ["", "acme", *districts, *units]
    subsets = lambda values: st.lists(st.sampled_from(values), unique=True, max_size=len(values))  # noqa: E731
    selections = draw(st.lists(st.builds(
        lambda n, w, u, t: Selection.of(node=n, waves=w, units=u, where={"tenure": t}),
        st.sampled_from(nodes), subsets(waves), subsets(units), subsets(["short", "long"])), min_size=1, max_size=8))
    return districts, frame, selections


def check_tree(instrument, case):
    districts, frame, selections = case
    if frame.empty:
        return
    dataset = dataset_of(instrument, frame, organisation(districts))
    nodes = [Selection.of(node=n) for n in ("acme", *districts, *frame["unit"].unique())]
    views = [select(dataset, s)["employee"] for s in (Selection(), *nodes, *selections)]
    sets = merged(*(shown_sets(view, BREAKDOWNS) for view in views))
    assert smallest_atom(sets, dataset.sides["employee"].counted) >= instrument.min_group_size


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees())
def test_no_node_and_children_outputs_isolate_fewer_than_k(org, case):
    """Property: whatever three-level organisation and whatever outputs are asked for (every node,
    random node selections with waves, stores and tenure, each broken down by unit, wave, tenure,
    role and every organisation level, and every item's answers in them), no atom of what is
    shown holds fewer than k respondents."""
    check_tree(org, case)


@pytest.mark.slow
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees())
def test_no_node_and_children_outputs_isolate_fewer_than_k_slow(org, case):
    """The organisation property test with many more organisations (``make test-slow``)."""
    check_tree(org, case)
