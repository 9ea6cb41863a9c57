"""services.hierarchy: block candidates along the organisation tree, node columns, node selections and scopes."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
import pytest

from services.hierarchy import child_column, level_column, node_columns, parents_of, unit_groups
from surveys.organisation import parse_organisation

K = 5
ORG = parse_organisation(
    "unit_id,name,parent_id,level,managers\n"
    "acme,ACME,,company,ceo@acme.example\n"
    "north,North,acme,region,\n"
    "n1,N1,north,district,dm@acme.example\n"
    "s1,S1,n1,store,sm1@acme.example\n"
    "s2,S2,n1,store,\n"
    "s3,S3,n1,store,\n"
    "n2,N2,north,district,\n"
    "s4,S4,n2,store,\n"
    "s5,S5,n2,store,\n", source="test org")


def flat_rule(sizes, k):
    """The policy's rule before the tree, written out: large units alone, small ones pooled,
    the pool topped up with the smallest large units."""
    sizes = pd.Series(sizes).sort_index()
    if sizes.sum() < k:
        return []
    alone = list(sizes[sizes >= k].sort_values(kind="stable").index)
    pool = list(sizes[sizes < k].index)
    total = int(sizes[pool].sum())
    while pool and total < k:
        unit = alone.pop(0)
        pool.append(unit)
        total += int(sizes[unit])
    return [[u] for u in alone] + ([pool] if pool else [])


def canonical(groups):
    return sorted(sorted(g) for g in groups)


def test_without_a_tree_the_rule_is_the_flat_one():
    rng = random.Random(7)
    for _ in range(2000):
        sizes = {f"u{i}": rng.randint(0, 9) for i in range(rng.randint(1, 7))}
        k = rng.randint(3, 6)
        assert canonical(unit_groups(sizes, k)) == canonical(flat_rule(sizes, k)), (sizes, k)


def test_a_small_store_is_pooled_with_its_smallest_sibling_not_across_districts():
    sizes = {"s1": 8, "s2": 7, "s3": 4, "s4": 9, "s5": 6}
    assert canonical(unit_groups(sizes, K, parents_of(ORG))) == [["s1"], ["s2", "s3"], ["s4"], ["s5"]]
    # flat, the small store joins the smallest large store of the whole company (another district)
    assert canonical(unit_groups(sizes, K)) == [["s1"], ["s2"], ["s3", "s5"], ["s4"]]


def test_small_stores_of_one_district_pool_together_first():
    sizes = {"s1": 8, "s2": 3, "s3": 2, "s4": 9, "s5": 6}
    assert canonical(unit_groups(sizes, K, parents_of(ORG))) == [["s1"], ["s2", "s3"], ["s4"], ["s5"]]


def test_every_candidate_holds_k_and_nodes_are_whole_unless_a_smaller_relative_forces_otherwise():
    """Every unit in one candidate of k or more; when no node holds 1 to k - 1 respondents, every
    node is a union of candidates; a node is crossed only where a relative's subtree with
    responses but fewer than k counted had to be pooled (then the parent minus this node would
    reveal it). A size of 0 is a unit whose responses all do not count (open links)."""
    rng = random.Random(11)
    parents = parents_of(ORG)
    nodes = ("acme", "north", "n1", "n2", "s1", "s2", "s3", "s4", "s5")
    crossed_seen = 0
    for _ in range(3000):
        sizes = {s: rng.randint(0, 9) for s in ("s1", "s2", "s3", "s4", "s5") if rng.random() < 0.9}
        groups = unit_groups(sizes, K, parents)
        if sum(sizes.values()) < K:
            assert groups == []
            continue
        assert sorted(u for g in groups for u in g) == sorted(sizes), "every unit in exactly one candidate"
        assert all(sum(sizes[u] for u in g) >= K for g in groups)
        held = {node: sum(sizes.get(u, 0) for u in ORG.subtree(node)) for node in nodes}
        for node in nodes:
            inside = set(ORG.subtree(node))
            crossing = [g for g in groups if set(g) & inside and not set(g) <= inside]
            if not crossing or held[node] < K:
                continue
            crossed_seen += 1
            small_relative = any(held[other] < K and set(ORG.subtree(other)) & set(sizes) for other in nodes
                                 if other not in inside and not set(ORG.subtree(other)) >= inside)
            assert small_relative, (node, sizes, groups)
        if all(held[n] >= K or not set(ORG.subtree(n)) & set(sizes) for n in nodes):
            assert all(len({ORG.parent(u) for u in g}) == 1 for g in groups), (sizes, groups)
    assert crossed_seen  # the forced case occurs in the sample


def test_units_outside_the_organisation_hang_below_the_wave():
    groups = unit_groups({"s1": 6, "elsewhere": 2, "s4": 5}, K, parents_of(ORG))
    assert canonical(groups) == [["elsewhere", "s4"], ["s1"]]


def test_node_columns_and_the_children_column():
    units = pd.Series(["s1", "s4", None, "gone"])
    nodes = node_columns(units, ORG)
    assert list(nodes.columns) == [level_column(level) for level in ("company", "region", "district", "store")]
    assert nodes.loc[0].tolist() == ["acme", "north", "n1", "s1"]
    assert nodes.loc[1, "org:district"] == "n2"
    assert nodes.loc[2].isna().all() and nodes.loc[3].isna().all()
    assert child_column(ORG, "acme") == "org:region" and child_column(ORG, "n1") == "org:store"
    assert child_column(ORG, "s1") is None


def stores(sizes):
    from privacy.attacks import people

    return people((store, "long", "staff", 4, 9, "") for store, n in sizes.items() for _ in range(n))


@pytest.fixture
def dataset():
    from services.sources import file_dataset
    from surveys.loader import load_instrument

    instrument = load_instrument(Path(__file__).parent / "privacy" / "org.yaml")
    return file_dataset({"d": (instrument, stores({"s1": 8, "s2": 7, "s3": 4, "s4": 9, "s5": 6}))},
                        name="the test data", org=ORG)


def test_a_node_selects_its_subtree_and_lists_only_its_units(dataset):
    from services.selection import Selection, select

    view = select(dataset, Selection.of(node="n2"))["employee"]
    assert set(view.frame["unit"]) == {"s4", "s5"} and view.n == 15 and view.note is None
    assert view.selection.units == ("s4", "s5") and view.selection.node == "n2"
    assert view.children_column == "org:store"
    assert set(view.nodes_view().frame["org:district"]) == {"n2"}


def test_node_columns_carry_only_what_the_blocks_allow_and_stay_out_of_row_files(dataset):
    """In d n1, s3 (4) is pooled with s2: their rows carry no store in the node columns, and
    the safe export (whose comment groups do not know these columns) has none of them."""
    from services.exports import safe_frame
    from services.selection import Selection, select

    view = select(dataset, Selection.of(node="n1"))["employee"]
    stores = view.nodes_view().frame.set_index("unit")["org:store"]
    assert set(stores.loc["s1"]) == {"s1"} and stores.loc[["s2", "s3"]].isna().all()
    assert not [c for c in view.frame.columns if c.startswith("org:")]
    assert not [c for c in safe_frame(view).columns if c.startswith("org:")]
    assert "unit n2 and the units below it" in Selection.of(node="n2").describe()


def test_a_scope_keeps_every_view_inside_it_and_refuses_what_is_outside(dataset):
    from services.selection import ScopeError, Selection, select

    scope = ORG.subtree("n2")
    mine = select(dataset, Selection.of(scope=scope))["employee"]
    assert set(mine.frame["unit"]) == {"s4", "s5"}
    # the widgets' values cannot widen it: a sibling district, its store, the company
    for tampered in (Selection.of(node="n1", scope=scope), Selection.of(units=["s1"], scope=scope),
                     Selection.of(node="acme", scope=scope), Selection.of(units=["s4", "s2"], scope=scope)):
        with pytest.raises(ScopeError, match="outside the units you manage") as raised:
            select(dataset, tampered)
        assert raised.value.fix
    # a scope of units without responses shows nothing (never "no filter" = everything)
    empty = select(dataset, Selection.of(scope=["n9-not-in-data"]))["employee"]
    assert empty.empty and empty.selection.units == ("n9-not-in-data",)
    nothing = select(dataset, Selection.of(scope=[]))["employee"]
    assert nothing.empty and nothing.selection.units == ("(no unit of yours)",)
