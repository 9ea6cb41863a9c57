"""Differencing attacks on the service layer every channel uses, and a property test over
random small organisations and random sequences of offered outputs.

The attacks are the ones a curious manager with staff access tried: a filter against the
same filter plus a demographic, all waves against one wave, a total against its visible
rows. Each is checked twice: the specific numbers of the attack cannot be formed, and no
atom of everything shown is smaller than ``k`` (see ``conftest.py``).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privacy.attacks import (
    dataset_of,
    merged,
    north_and_south,
    people,
    shown_sets,
    smallest_atom,
)
from services.insight import comments, headline_metrics, metric_trend, responses_by_unit
from services.selection import Selection, select

BREAKDOWNS = ("unit", "wave", "tenure", "role")


def every_offered_output(dataset, selections):
    return merged(*(shown_sets(select(dataset, s)["employee"], BREAKDOWNS) for s in selections))


def naive_sets(frame, selections, k):
    """What per-output suppression alone (each group shown when it has k) would let out."""
    sets = []
    for selection in selections:
        mask = selection.mask(frame)
        if mask.sum() >= k:
            sets.append(mask)
            for column in BREAKDOWNS:
                for _, rows in frame[mask].groupby(column):
                    if len(rows) >= k:
                        member = np.zeros(len(frame), dtype=bool)
                        member[rows.index] = True
                        sets.append(member)
    return sets


ISSUE_SELECTIONS = [Selection(), Selection.of(units=["north"]),
                    Selection.of(units=["north"], where={"tenure": ["long"]}),
                    Selection.of(where={"tenure": ["long"]}), Selection.of(units=["south"]),
                    Selection.of(units=["north", "south"])]


def test_the_observer_catches_the_attack_on_naive_suppression(org):
    """Positive control: with each group suppressed on its own, the issue's north example
    leaves an atom of one person (north minus north-and-long)."""
    frame = north_and_south()
    assert smallest_atom(naive_sets(frame, ISSUE_SELECTIONS, 5), np.ones(len(frame), bool)) == 1


def test_no_atom_of_the_issues_attacks_is_below_k(org):
    dataset = dataset_of(org, north_and_south())
    sets = every_offered_output(dataset, ISSUE_SELECTIONS)
    assert smallest_atom(sets, dataset.sides["employee"].counted) >= 5


def test_filter_against_filter_plus_demographic(org):
    """north (6) and north with long tenure (5): the second is never shown, so 6 x mean - 5 x mean cannot be formed."""
    dataset = dataset_of(org, north_and_south())
    north = select(dataset, Selection.of(units=["north"]))["employee"]
    north_long = select(dataset, Selection.of(units=["north"], where={"tenure": ["long"]}))["employee"]
    shown = [v for v in (north, north_long) if not v.empty]
    assert len(shown) <= 1, "both north and north-with-long-tenure are shown: they differ by one person"
    assert north_long.empty and "cannot be separated from groups of fewer than 5" in north_long.note
    # the whole-company long-tenure row leaves north out entirely (its tenure cells are merged)
    long_company = select(dataset, Selection.of(where={"tenure": ["long"]}))["employee"]
    assert "north" not in set(long_company.frame["unit"])


def test_all_waves_against_one_wave(org):
    """Two waves of north: 6 in wave 1, 1 in wave 2. All waves minus wave 1 would be the one."""
    first = north_and_south()
    second = people([("north", "long", "staff", 1, 0, "the lone wave-2 answer")]).assign(wave="2", response_id="w2")
    dataset = dataset_of(org, pd.concat([first, second], ignore_index=True))
    views = [select(dataset, s)["employee"] for s in (Selection(), Selection.of(waves=["1"]),
                                                      Selection.of(waves=["2"]))]
    lone = int(np.flatnonzero(dataset.sides["employee"].frame["response_id"] == "w2")[0])
    assert not any(v.shown[lone] for v in views), "the lone wave-2 answer is in a shown group"
    trend = metric_trend(views[0], "enps")
    assert set(trend["wave"]) <= {"1"} or trend.set_index("wave").loc["2", "suppressed"]
    assert smallest_atom(merged(*(shown_sets(v, BREAKDOWNS) for v in views)),
                         dataset.sides["employee"].counted) >= 5


def test_total_minus_visible_rows(org):
    """north 6, south 2: a total of 8 beside north's 6 would give south = 2. Both are hidden."""
    frame = north_and_south()
    small = frame[frame["unit"].isin(["north", "south"])].reset_index(drop=True)
    view = select(dataset_of(org, small))["employee"]
    table = responses_by_unit(view).set_index("unit")
    assert table.loc["south", "suppressed"] and table.loc["north", "suppressed"]
    assert table.loc["south", "shown"] == "fewer than 5 respondents"
    assert table.loc["north", "shown"] == "hidden (protects a smaller group)"
    metric = headline_metrics(view)["enps"]
    assert metric.units["n"].isna().all() and metric.overall is not None and metric.overall.n == 8


def test_comments_of_a_small_group_cannot_be_singled_out(org):
    """The comments of north and of north-with-long-tenure differ by exactly the short-tenured
    person's comment; comments need groups of 10, so neither list is shown."""
    dataset = dataset_of(org, north_and_south())
    secret = "THE SHORT-TENURED PERSON'S COMMENT"
    tables = [comments(select(dataset, s)["employee"]) for s in ISSUE_SELECTIONS]
    for table in tables:
        hits = table[table["comment"] == secret]
        assert set(hits["unit"]) <= {"other units"}, "a comment is attributed to a unit below the comment threshold"
    with_secret = [set(t["comment"]) for t in tables if secret in set(t["comment"])]
    without = [set(t["comment"]) for t in tables if secret not in set(t["comment"])]
    for a, b in itertools.product(with_secret, without):
        assert len(a - b) != 1 or secret not in a - b


def test_thin_item_answers_are_withheld(org):
    """A block where one person answered an item: that item's answers of the block are withheld,
    so the item mean over any selection pools 0 or at least 5 answers per block."""
    frame = north_and_south()
    frame["sat_2"] = np.where(frame["unit"] == "east", np.nan, frame["sat_2"])
    east = frame.index[frame["unit"] == "east"][0]
    frame.loc[east, "sat_2"] = 1.0
    data = dataset_of(org, frame).sides["employee"]
    assert data.masked.loc[data.frame["unit"] == "east", "sat_2"].isna().all()


@st.composite
def organisations(draw):
    units = [f"u{i}" for i in range(draw(st.integers(2, 5)))]
    waves = ["1", "2"][:draw(st.integers(1, 2))]
    rows = []
    for wave in waves:
        for unit in units:
            for _ in range(draw(st.integers(0, 12))):
                rows.append((wave, unit, draw(st.sampled_from(["short", "long", None])),
                             draw(st.sampled_from(["staff", "lead"])), draw(st.sampled_from([1, 3, 5, None])),
                             draw(st.integers(0, 10))))
    frame = pd.DataFrame(rows, columns=["wave", "unit", "tenure", "role", "sat_1", "enps"])
    frame["response_id"] = [f"r{i}" for i in range(len(frame))]
    for column in ("sat_2", "sup_1", "sup_2"):
        frame[column] = frame["sat_1"]
    subsets = lambda values: st.lists(st.sampled_from(values), unique=True, max_size=len(values))  # noqa: E731
    selections = draw(st.lists(st.builds(
        lambda w, u, t, r: Selection.of(waves=w, units=u, where={"tenure": t, "role": r}),
        subsets(waves), subsets(units), subsets(["short", "long"]), subsets(["staff", "lead"])), min_size=1,
        max_size=8))
    return frame, selections


def check_no_isolation(org, case):
    frame, selections = case
    if frame.empty:
        return
    dataset = dataset_of(org, frame)
    sets = every_offered_output(dataset, [Selection(), *selections])
    assert smallest_atom(sets, dataset.sides["employee"].counted) >= org.min_group_size


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(organisations())
def test_no_sequence_of_offered_outputs_isolates_fewer_than_k(org, case):
    """Property: whatever small organisation and whatever outputs are asked for (selections by
    wave, unit, tenure and role, each broken down by unit, wave, tenure and role, and every
    item's answers in them), no atom of what is shown holds fewer than k respondents."""
    check_no_isolation(org, case)


@pytest.mark.slow
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(organisations())
def test_no_sequence_of_offered_outputs_isolates_fewer_than_k_slow(org, case):
    """The property test with many more organisations (``make test-slow``)."""
    check_no_isolation(org, case)
