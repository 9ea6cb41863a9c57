"""Action plans: storage (SQLite and PostgreSQL), checks, overdue, access, roll-up, ranked drivers, next wave."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.plan_effects import NOT_CAUSAL, compare_changes, describe, unit_changes
from services import action_plans as sap
from services.selection import Selection, select
from services.sources import file_dataset
from surveys import action_plans as ap
from surveys import auth
from surveys.loader import parse_instrument
from surveys.organisation import parse_organisation

ITEMS = {"recognition": ["rc_1", "rc_2", "rc_3"], "communication": ["co_1", "co_2", "co_3"],
         "job_satisfaction": ["js_1", "js_2", "js_3"]}
SURVEY = parse_instrument("""
id: plan_survey
version: "1"
title: {en: Plan test survey}
audience: employee
languages: [en]
anonymity: {min_group_size: 5}
scales:
  agree7:
    points:
""" + "".join(f"      - {{value: {v}, label: {{en: P{v}}}}}\n" for v in range(1, 8)) + """
pages:
  - id: p1
    questions:
      - {id: unit, type: unit, source: invitation, text: {en: Store}}
""" + "".join(f"      - {{id: {i}, type: likert, scale: agree7, text: {{en: {i}}}}}\n"
              for items in ITEMS.values() for i in items) + """
constructs:
  - {id: recognition, label: {en: Recognition}, items: [rc_1, rc_2, rc_3], role: driver}
  - {id: communication, label: {en: Communication}, items: [co_1, co_2, co_3], role: driver}
  - {id: job_satisfaction, label: {en: Job satisfaction}, items: [js_1, js_2, js_3], role: outcome}
""", source="plan_survey.yaml")

DISTRICTS = ("d1", "d2", "d3")
STORES = {d: [f"{d}_s{i}" for i in range(1, 7)] for d in DISTRICTS}
ORG = parse_organisation(
    "unit_id,name,parent_id,level,managers\nacme,ACME,,company,ceo@acme.example\n"
    + "".join(f"{d},District {d},acme,district,{'dm@acme.example' if d == 'd1' else ''}\n" for d in DISTRICTS)
    + "".join(f"{s},Store {s},{d},store,{'sm@acme.example' if s == 'd2_s3' else ''}\n"
              for d, stores in STORES.items() for s in stores), source="test org")
PLANNED = ("d1_s1", "d1_s2", "d2_s1", "d2_s2", "d3_s1", "d3_s2")
WAVES = ("2026-1", "2026-2")
EFFECT = 1.0
ADMIN = sap.PlanSession("admin", "admin@acme.example")
TODAY = dt.date(2027, 3, 1)


def simulate(*, seed: int = 3, per_store: int = 8, effect: float = EFFECT, sizes: dict | None = None) -> pd.DataFrame:
    """Two waves of fresh respondents; in wave 2 the recognition items of the PLANNED stores
    rise by exactly ``effect`` (no answer reaches the end of the scale, so nothing is cut off)."""
    rng = np.random.default_rng(seed)
    rows = []
    for wave in WAVES:
        for stores in STORES.values():
            for store in stores:
                for _ in range((sizes or {}).get((wave, store), per_store)):
                    r, c = rng.integers(2, 6, size=2)
                    row = {"unit": store, "wave": wave}
                    shift = effect if wave == WAVES[1] and store in PLANNED else 0
                    row |= {i: r + rng.integers(-1, 2) + shift for i in ITEMS["recognition"]}
                    row |= {i: c + rng.integers(-1, 2) for i in ITEMS["communication"]}
                    row |= {i: round((2 * r + c) / 3) + rng.integers(-1, 2) for i in ITEMS["job_satisfaction"]}
                    rows.append(row)
    return pd.DataFrame(rows)


def dataset(frame: pd.DataFrame | None = None):
    return file_dataset({"employee": (SURVEY, simulate() if frame is None else frame)}, name="simulated plans",
                        org=ORG)


def new_plan(store, unit="d1_s1", driver="recognition", **options):
    values = {"unit": unit, "instrument_id": SURVEY.id, "driver": driver, "offered": ["recognition", "communication"],
              "driver_unit": unit, "owner": "ann@acme.example", "actor": "admin@acme.example", "role": "admin",
              "org": ORG} | options
    return ap.create_plan(store, **values)


def act(store, plan, *, due="2027-01-31", status="planned", title="Weekly huddle", now=None):
    return ap.add_action(store, plan.id, title=title, due=due, status=status, actor="admin@acme.example",
                         role="admin", now=now)


# --------------------------------------------------------------------------- store


def test_a_plan_is_stored_with_its_actions_and_every_change_is_audited(any_store):
    moment = dt.datetime(2027, 1, 5, 9, 30, 12, 999, tzinfo=dt.UTC)
    plan = new_plan(any_store, owner="Ann@ACME.example", notes="Start with the morning shift.", now=moment)
    assert (plan.unit, plan.driver, plan.owner, plan.status) == ("d1_s1", "recognition", "ann@acme.example", "planned")
    assert plan.created_at == plan.updated_at == moment.replace(microsecond=0)
    action = act(any_store, plan, now=moment + dt.timedelta(days=1))
    ap.edit_action(any_store, action.id, status="in progress", actor="bob@acme.example", role="admin",
                   now=moment + dt.timedelta(days=3))
    updated = ap.update_plan(any_store, plan.id, owner="carl@acme.example", notes="Moved to Tuesdays.",
                             actor="bob@acme.example", role="admin", now=moment + dt.timedelta(days=4))
    assert (updated.owner, updated.notes, updated.updated_by) == ("carl@acme.example", "Moved to Tuesdays.",
                                                                  "bob@acme.example")
    assert updated.created_by == "admin@acme.example" and updated.created_at == plan.created_at
    assert updated.updated_at == (moment + dt.timedelta(days=4)).replace(microsecond=0)
    assert [a.status for a in updated.actions] == ["in_progress"] and updated.status == "in_progress"
    log = ap.change_log(any_store, plan.id)
    assert list(log["change"]) == ["update", "edit-action", "add-action", "create"]
    assert list(log["actor"]) == ["bob@acme.example", "bob@acme.example", "admin@acme.example",
                                  "admin@acme.example"]
    assert "status in progress" in log["detail"].iloc[1]


def test_plan_status_follows_its_actions(any_store):
    plan = new_plan(any_store)
    first, second = act(any_store, plan), act(any_store, plan, title="Thank-you cards")
    edit = {"actor": "admin@acme.example", "role": "admin"}
    ap.edit_action(any_store, first.id, status="done", **edit)
    assert ap.get_plan(any_store, plan.id).status == "in_progress"
    ap.edit_action(any_store, second.id, status="dropped", **edit)
    assert ap.get_plan(any_store, plan.id).status == "done"
    ap.edit_action(any_store, first.id, status="dropped", **edit)
    assert ap.get_plan(any_store, plan.id).status == "dropped"


@pytest.mark.parametrize(("change", "where", "words"), [
    ({"owner": "not an address"}, "owner", "e-mail"),
    ({"driver": "job_satisfaction"}, "driver", "not one of the drivers"),
    ({"driver": "recogniton"}, "driver", "Did you mean 'recognition'"),
    ({"offered": []}, "driver", "no ranked drivers"),
    ({"unit": "d1_s9"}, "unit", "no unit 'd1_s9'"),
    ({"unit": "bad unit!"}, "unit", "not a unit id"),
    ({"notes": "x" * (ap.MAX_NOTES + 1)}, "notes", "more than 4,000"),
    ({"actor": "  "}, "actor", "who made it"),
])
def test_plans_that_cannot_be_stored_say_where_what_and_how_to_fix(any_store, change, where, words):
    with pytest.raises(ap.ActionPlanError) as caught:
        new_plan(any_store, **change)
    assert caught.value.where == where and words in caught.value.message and caught.value.fix
    assert ap.list_plans(any_store) == []


@pytest.mark.parametrize(("change", "where", "words"), [
    ({"title": "   "}, "action title", "needs a title"),
    ({"title": "t" * (ap.MAX_TITLE + 1)}, "action title", "more than 300"),
    ({"due": "31/01/2027"}, "due date", "YYYY-MM-DD"),
    ({"due": "2027-02-30"}, "due date", "not a date"),
    ({"due": "1999-12-31"}, "due date", "outside"),
    ({"status": "finished"}, "action status", "in progress"),
])
def test_actions_that_cannot_be_stored_say_where_what_and_how_to_fix(any_store, change, where, words):
    plan = new_plan(any_store)
    with pytest.raises(ap.ActionPlanError) as caught:
        act(any_store, plan, **change)
    assert caught.value.where == where and words in caught.value.message and caught.value.fix
    assert ap.get_plan(any_store, plan.id).actions == ()


def test_unknown_plans_and_actions_and_too_many_actions_are_refused(any_store, monkeypatch):
    with pytest.raises(ap.ActionPlanError, match="no action plan 99"):
        ap.get_plan(any_store, 99)
    with pytest.raises(ap.ActionPlanError, match="no action 7"):
        ap.edit_action(any_store, 7, status="done", actor="a@acme.example", role="admin")
    plan = new_plan(any_store)
    monkeypatch.setattr(ap, "MAX_ACTIONS", 2)
    act(any_store, plan), act(any_store, plan)
    with pytest.raises(ap.ActionPlanError, match="already has 2 actions"):
        act(any_store, plan)


HOSTILE = ("'; DROP TABLE action_plans; --\u202e<script>alert(1)</script>\x00\x1b[31m"
           "\u200bzero\u2066width {{7*7}} ${jndi:ldap://x}")


def test_hostile_text_is_cleaned_stored_as_data_and_kept_verbatim_otherwise(any_store):
    plan = new_plan(any_store, notes=HOSTILE + "\nsecond line")
    action = act(any_store, plan, title=HOSTILE)
    stored = ap.get_plan(any_store, plan.id)
    for text in (stored.notes, action.title):
        assert "\x00" not in text and "\x1b" not in text and "\u202e" not in text and "\u200b" not in text
        assert "'; DROP TABLE action_plans; --" in text and "<script>alert(1)</script>" in text
    assert stored.notes.endswith("\nsecond line") and "\n" not in action.title  # one-line titles
    assert len(ap.list_plans(any_store)) == 1  # the table is still there


def test_overdue_lists_open_actions_past_their_due_date_only(any_store):
    plan = new_plan(any_store)
    late = act(any_store, plan, due="2027-02-01", title="late")
    act(any_store, plan, due="2027-02-20", status="in_progress", title="later")
    act(any_store, plan, due="2027-01-01", status="done", title="done")
    act(any_store, plan, due="2027-01-01", status="dropped", title="dropped")
    act(any_store, plan, due=TODAY, title="due today")
    table = ap.overdue(any_store, today=TODAY)
    assert list(table["title"]) == ["late", "later"] and list(table["days_overdue"]) == [28, 9]
    assert table["action"].iloc[0] == late.id and table["status"].iloc[1] == "in progress"
    assert ap.get_plan(any_store, plan.id).overdue(TODAY) == 2
    assert ap.overdue(any_store, today=TODAY, units=["d2_s1"]).empty


def test_plans_by_unit_and_by_subtree(any_store):
    for unit in ("d1_s1", "d1_s3", "d2_s1", "d1"):
        new_plan(any_store, unit=unit)
    assert sorted(p.unit for p in ap.plans_in(any_store, ORG, "d1")) == ["d1", "d1_s1", "d1_s3"]
    assert [p.unit for p in ap.list_plans(any_store, ["d2_s1"])] == ["d2_s1"]
    assert len(ap.plans_in(any_store, ORG, "acme")) == 4
    with pytest.raises(ap.ActionPlanError, match="no unit 'd9'"):
        ap.plans_in(any_store, ORG, "d9")


# --------------------------------------------------------------------------- access


def test_admins_and_the_units_manager_edit_plans_and_nobody_else(sqlite_store):
    data = dataset()
    for role in ("viewer", "analyst", None):
        session = sap.PlanSession(role, "someone@acme.example")
        assert not sap.can_edit_plan(session, "d1_s1")
        with pytest.raises(sap.PlanAccessError, match="may not change"):
            sap.create_plan(sqlite_store, data, session, unit="d1_s1", driver="recognition",
                            owner="ann@acme.example")
    plan = sap.create_plan(sqlite_store, data, ADMIN, unit="d1_s1", driver="recognition", owner="ann@acme.example")
    other = sap.create_plan(sqlite_store, data, ADMIN, unit="d2_s1", driver="recognition", owner="ann@acme.example")
    viewer = sap.PlanSession("viewer", "v@acme.example")
    with pytest.raises(sap.PlanAccessError):
        sap.add_action(sqlite_store, viewer, plan.id, title="x", due="2027-01-01")
    with pytest.raises(sap.PlanAccessError):
        sap.update_plan(sqlite_store, viewer, plan.id, notes="x")
    # the district manager of d1, as the sign-in gives it (surveys.auth.access_for_email)
    manager = sap.session_for(auth.access_for_email("dm@acme.example", ORG, {}), "dm@acme.example")
    assert manager.scope == frozenset(ORG.subtree("d1"))
    assert sap.editable_units(manager, ["d1", "d1_s1", "d2_s1"]) == ["d1", "d1_s1"]
    action = sap.add_action(sqlite_store, manager, plan.id, title="Huddle", due="2027-01-01")
    sap.edit_action(sqlite_store, manager, plan.id, action.id, status="done")
    assert ap.change_log(sqlite_store, plan.id)["actor"].iloc[0] == "dm@acme.example"
    with pytest.raises(sap.PlanAccessError):
        sap.update_plan(sqlite_store, manager, other.id, notes="not mine")
    assert [p.unit for p in sap.visible_plans(manager, ap.list_plans(sqlite_store))] == ["d1_s1"]
    assert len(sap.visible_plans(viewer, ap.list_plans(sqlite_store))) == 2
    assert sap.visible_plans(sap.session_for(None, ""), ap.list_plans(sqlite_store)) == []


def test_a_small_units_manager_is_offered_no_drivers_from_outside_their_scope(sqlite_store):
    data = dataset(simulate(sizes={(w, "d2_s3"): 3 for w in WAVES}))
    manager = sap.session_for(auth.access_for_email("sm@acme.example", ORG, {}), "sm@acme.example")
    ranked = sap.ranked_drivers(data, "d2_s3", scope=manager.scope)
    assert ranked.source is None and "you may see" in ranked.note
    with pytest.raises(ap.ActionPlanError, match="no ranked drivers"):
        sap.create_plan(sqlite_store, data, manager, unit="d2_s3", driver="recognition", owner="sm@acme.example")
    assert sap.create_plan(sqlite_store, data, ADMIN, unit="d2_s3", driver="recognition",
                           owner="sm@acme.example").driver_unit == "d2"


def test_an_action_is_edited_only_through_its_own_plan(sqlite_store):
    first, second = new_plan(sqlite_store, unit="d1_s1"), new_plan(sqlite_store, unit="d2_s1")
    action = act(sqlite_store, second)
    with pytest.raises(ap.ActionPlanError, match=f"plan {first.id} has no action {action.id}"):
        sap.edit_action(sqlite_store, ADMIN, first.id, action.id, status="done")


# --------------------------------------------------------------------------- ranked drivers


def test_a_unit_offers_its_own_ranked_drivers():
    ranked = sap.ranked_drivers(dataset(), "d1_s1")
    assert ranked.source == "d1_s1" and ranked.outcome == "job_satisfaction" and ranked.instrument_id == SURVEY.id
    assert set(ranked.drivers) == {"recognition", "communication"}
    assert list(ranked.table["rank"]) == [1, 2] and ranked.table["pct"].is_monotonic_decreasing
    assert ranked.drivers[0] == "recognition"  # the outcome is built from twice as much recognition


def test_a_unit_too_small_to_show_offers_its_parents_drivers_and_the_plan_says_so(sqlite_store):
    frame = simulate(sizes={(w, "d2_s3"): 3 for w in WAVES})
    data = dataset(frame)
    ranked = sap.ranked_drivers(data, "d2_s3")
    assert ranked.source == "d2" and "too small" in ranked.note and ranked.drivers
    plan = sap.create_plan(sqlite_store, data, ADMIN, unit="d2_s3", driver=ranked.drivers[-1],
                           owner="ann@acme.example")
    assert (plan.unit, plan.driver_unit) == ("d2_s3", "d2")
    with pytest.raises(ap.ActionPlanError, match="not one of the drivers"):
        sap.create_plan(sqlite_store, data, ADMIN, unit="d2_s3", driver="job_satisfaction", owner="a@acme.example")


def test_no_unit_that_can_be_shown_offers_no_driver():
    frame = simulate(per_store=2)
    ranked = sap.ranked_drivers(dataset(frame[frame["unit"] == "d1_s1"]), "d1_s1")  # 4 responses in all
    assert ranked.source is None and ranked.drivers == () and "No drivers can be shown" in ranked.note


# --------------------------------------------------------------------------- roll-up


def test_rollup_counts_plans_per_node_driver_status_and_overdue(any_store):
    first = new_plan(any_store, unit="d1_s1")
    act(any_store, first, due="2027-01-01")
    act(any_store, first, due="2027-01-01", status="done")
    second = new_plan(any_store, unit="d1_s2", driver="communication")
    act(any_store, second, due="2027-12-31", status="in_progress")
    new_plan(any_store, unit="d2_s1")
    labels = {"recognition": "Recognition"}
    result = sap.rollup(ap.list_plans(any_store), ORG, today=TODAY, labels=labels)
    by_node = result.by_node.set_index("node")
    assert list(by_node.index) == ["acme", "d1", "d2", "d3"]
    assert by_node.loc["acme", ["plans", "units_with_plans", "actions", "overdue"]].tolist() == [3, 3, 3, 1]
    assert by_node.loc["d1", ["plans", "planned", "in progress", "done"]].tolist() == [2, 0, 2, 0]
    assert by_node.loc["d2", ["plans", "planned"]].tolist() == [1, 1] and by_node.loc["d3", "plans"] == 0
    by_driver = result.by_driver.set_index("driver")
    assert by_driver.loc["recognition", ["plans", "units", "overdue"]].tolist() == [2, 2, 1]
    assert by_driver.loc["recognition", "label"] == "Recognition"
    assert list(result.overdue["unit"]) == ["d1_s1"] and result.overdue["days_overdue"].iloc[0] == 59
    district = sap.rollup(ap.list_plans(any_store), ORG, node="d1", today=TODAY)
    assert list(district.by_node["node"]) == ["d1", *STORES["d1"]] and district.by_node["plans"].iloc[0] == 2
    assert "days_overdue" in district.overdue and not set(district.overdue["unit"]) - set(ORG.subtree("d1"))


# --------------------------------------------------------------------------- next wave


def planned_dataset(store, frame):
    data = dataset(frame)
    for unit in PLANNED:
        plan = sap.create_plan(store, data, ADMIN, unit=unit, driver="recognition", owner="ann@acme.example")
        sap.add_action(store, ADMIN, plan.id, title="Recognise good work weekly", due="2026-06-30")
    return data, ap.list_plans(store)


def direct_changes(frame: pd.DataFrame) -> pd.Series:
    """Each store's change of its recognition mean, computed straight from the simulated answers."""
    score = frame[ITEMS["recognition"]].mean(axis=1)
    means = score.groupby([frame["wave"], frame["unit"]]).mean().unstack("wave")
    return means[WAVES[1]] - means[WAVES[0]]


def test_next_wave_recovers_the_known_improvement_of_planned_units(sqlite_store):
    data, plans = planned_dataset(sqlite_store, simulate(seed=11, per_store=20))
    result = sap.next_wave(data, plans, before=WAVES[0], after=WAVES[1])
    row = result.to_frame().set_index("driver").loc["recognition"]
    assert row["n_planned"] == 6 and row["n_comparison"] == 12  # every other store of the same districts
    assert row["planned_lower"] < EFFECT < row["planned_upper"]
    assert row["comparison_lower"] < 0 < row["comparison_upper"]
    assert row["difference_lower"] > 0.3 and abs(row["difference"] - EFFECT) < 0.35
    (sentence,) = result.sentences
    assert sentence.startswith("Recognition: units that planned improved by +")
    assert "units without a plan" in sentence and NOT_CAUSAL in sentence and "Welch" in sentence


def test_next_wave_equals_the_unit_means_computed_directly(sqlite_store):
    frame = simulate(seed=5)
    data, plans = planned_dataset(sqlite_store, frame)
    row = sap.next_wave(data, plans, before=WAVES[0], after=WAVES[1]).to_frame().iloc[0]
    change = direct_changes(frame)
    planned, others = change[list(PLANNED)], change.drop(list(PLANNED))
    assert row["planned_change"] == pytest.approx(planned.mean(), abs=1e-12)
    assert row["comparison_change"] == pytest.approx(others.mean(), abs=1e-12)
    welch = stats.ttest_ind(planned, others, equal_var=False).confidence_interval()
    assert (row["difference_lower"], row["difference_upper"]) == pytest.approx((welch.low, welch.high), abs=1e-12)


def test_without_an_effect_planned_and_other_units_change_alike(sqlite_store):
    data, plans = planned_dataset(sqlite_store, simulate(seed=12, effect=0.0))
    row = sap.next_wave(data, plans, before=WAVES[0], after=WAVES[1]).to_frame().iloc[0]
    assert row["difference_lower"] < 0 < row["difference_upper"]


def test_next_wave_uses_only_groups_the_policy_shows_whole(sqlite_store):
    frame = simulate(seed=5, sizes={(WAVES[1], "d1_s1"): 2, (WAVES[1], "d3_s4"): 2})
    data, plans = planned_dataset(sqlite_store, frame)
    result = sap.next_wave(data, plans, before=WAVES[0], after=WAVES[1])
    row = result.to_frame().iloc[0]
    # the policy's own word on which stores it shows whole in each wave (each small store is
    # pooled with a sibling, and both are hidden); the means are computed here, from the answers
    whole = set.intersection(*({u for u, state in select(data, Selection.of(waves=[w]))["employee"].groups("unit")
                                .items() if state == "whole"} for w in WAVES))
    assert "d1_s1" not in whole and "d3_s4" not in whole and len(whole) == 14
    shown_planned = [u for u in PLANNED if u in whole]
    # comparison: the stores without a plan beside a shown planned store (same district)
    peers = sorted(u for u in whole - set(PLANNED) if ORG.parent(u) in {ORG.parent(p) for p in shown_planned})
    assert row["n_planned"] == len(shown_planned) and row["n_comparison"] == len(peers)
    assert any("left out" in note for note in result.notes)
    change = direct_changes(frame)
    assert row["planned_change"] == pytest.approx(change[shown_planned].mean(), abs=1e-12)
    assert row["comparison_change"] == pytest.approx(change[peers].mean(), abs=1e-12)


def test_only_plans_made_before_the_next_wave_began_count(sqlite_store):
    """A plan made once wave 2 was under way cannot have changed it: with submission times in
    the data it is left out, and the notes say so; without them every plan counts, also said."""
    frame = simulate(seed=11, per_store=20)
    frame["submitted_at"] = np.where(frame["wave"] == WAVES[0], "2026-01-20 09:00:00", "2026-04-20 09:00:00")
    data = dataset(frame)
    early, late = dt.datetime(2026, 2, 15, tzinfo=dt.UTC), dt.datetime(2026, 4, 25, tzinfo=dt.UTC)
    for unit in PLANNED:
        sap.create_plan(sqlite_store, data, ADMIN, unit=unit, driver="recognition", owner="ann@acme.example",
                        now=early if unit in PLANNED[:4] else late)
    result = sap.next_wave(data, ap.list_plans(sqlite_store), before=WAVES[0], after=WAVES[1])
    assert result.to_frame().iloc[0]["n_planned"] == 4
    assert any("2 plan(s) made after wave 2026-2 began (2026-04-20) are not counted" in n for n in result.notes)
    undated = sap.next_wave(dataset(frame.drop(columns="submitted_at")), ap.list_plans(sqlite_store),
                            before=WAVES[0], after=WAVES[1])
    assert undated.to_frame().iloc[0]["n_planned"] == 6 and any("no submission times" in n for n in undated.notes)


def test_dropped_plans_and_other_surveys_plans_do_not_count(sqlite_store):
    data = dataset()
    plan = sap.create_plan(sqlite_store, data, ADMIN, unit="d1_s1", driver="recognition", owner="ann@acme.example")
    action = sap.add_action(sqlite_store, ADMIN, plan.id, title="x", due="2026-06-30")
    sap.edit_action(sqlite_store, ADMIN, plan.id, action.id, status="dropped")
    result = sap.next_wave(data, ap.list_plans(sqlite_store), before=WAVES[0], after=WAVES[1])
    assert result.effects is None and "No plan" in result.notes[0]
    with pytest.raises(sap.TandemError, match="no wave '2025-9'"):
        sap.next_wave(data, [], before="2025-9", after=WAVES[1])


# --------------------------------------------------------------------------- the statistic


def test_welch_difference_and_group_intervals_equal_scipy():
    rng = np.random.default_rng(1)
    p, c = rng.normal(0.5, 0.2, 8), rng.normal(0.0, 0.4, 13)
    frame = pd.DataFrame({"driver": "x", "change": np.r_[p, c], "planned": [True] * 8 + [False] * 13})
    row = compare_changes(frame).table.iloc[0]
    welch = stats.ttest_ind(p, c, equal_var=False)
    assert (row["difference_lower"], row["difference_upper"]) == pytest.approx(
        tuple(welch.confidence_interval()), abs=1e-12)
    assert row["df"] == pytest.approx(welch.df, abs=1e-9)
    low, high = stats.t.interval(0.95, 7, loc=p.mean(), scale=stats.sem(p))
    assert (row["planned_lower"], row["planned_upper"]) == pytest.approx((low, high), abs=1e-12)


def test_a_group_of_one_unit_has_no_interval_and_the_words_say_so():
    frame = pd.DataFrame({"driver": "x", "change": [0.4, 0.1, -0.1, 0.2], "planned": [True, False, False, False]})
    row = compare_changes(frame).table.iloc[0]
    assert np.isnan(row["planned_lower"]) and np.isnan(row["difference_lower"]) and row["difference"] == 0.4 - (0.2 / 3)
    text = describe(row)
    assert "no interval: fewer than two units" in text and text.endswith(f"{NOT_CAUSAL}.")


def test_unit_changes_pairs_units_present_in_both_waves():
    before = pd.DataFrame({"unit": ["a", "b", "c"], "x": [3.0, 4.0, np.nan]})
    after = pd.DataFrame({"unit": ["a", "c", "d"], "x": [3.5, 4.0, 2.0]})
    table = unit_changes(before, after, ["x"])
    assert table.to_dict("records") == [{"unit": "a", "driver": "x", "before": 3.0, "after": 3.5, "change": 0.5}]


# --------------------------------------------------------------------------- the report


def test_the_report_section_shows_the_rollup_and_the_next_wave_escaped(sqlite_store):
    from reports.html import SECTIONS, _action_plans, render_report
    from services.insight import collect_insight

    data, plans = planned_dataset(sqlite_store, simulate(seed=11, per_store=20))
    late = ap.add_action(sqlite_store, plans[0].id, title=HOSTILE, due="2026-01-31", actor="a@acme.example",
                         role="admin")
    report = sap.plan_report(sqlite_store, data, today=TODAY)
    html = _action_plans(report)
    assert "From wave 2026-1 to wave 2026-2" in html and "Recognition: units that planned improved by +" in html
    assert "this does not show that the plan caused it" in html and "Welch 95% from" in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the action's title, escaped
    assert f"{len(PLANNED) + 1} actions are overdue." in html and late.title[:10] in html.replace("&#x27;", "'")
    full = render_report(collect_insight(data, bootstrap=0), action_plans=report)
    assert f'<section id="action_plans"><h2>{SECTIONS["action_plans"]}</h2>' in full
    assert "Not part of this report" in render_report(collect_insight(data, bootstrap=0))


def test_without_an_organisation_units_come_from_the_data_and_every_unit_without_a_plan_compares(sqlite_store):
    frame = simulate(seed=11, per_store=20)
    data = file_dataset({"employee": (SURVEY, frame)}, name="simulated plans without an organisation")
    assert sap.plan_units(None, data, ADMIN) == sorted(frame["unit"].unique())
    assert sap.plan_units(None, data, sap.PlanSession("viewer", "v@acme.example")) == []
    for unit in PLANNED:
        sap.create_plan(sqlite_store, data, ADMIN, unit=unit, driver="recognition", owner="ann@acme.example")
    plans = ap.list_plans(sqlite_store)
    assert list(sap.rollup(plans, today=TODAY).by_node["node"]) == sorted(PLANNED)
    row = sap.next_wave(data, plans, before=WAVES[0], after=WAVES[1]).to_frame().iloc[0]
    change = direct_changes(frame)
    assert (row["n_planned"], row["n_comparison"]) == (6, 12)
    assert row["comparison_change"] == pytest.approx(change.drop(list(PLANNED)).mean(), abs=1e-12)


def test_a_district_with_a_planned_store_is_no_comparison_for_a_planned_district(sqlite_store):
    frame = simulate(seed=11, per_store=20)
    data = dataset(frame)
    for unit in ("d1", "d2_s1"):
        sap.create_plan(sqlite_store, data, ADMIN, unit=unit, driver="recognition", owner="ann@acme.example")
    row = sap.next_wave(data, ap.list_plans(sqlite_store), before=WAVES[0], after=WAVES[1]).to_frame().iloc[0]
    # planned: d1 (its district mean) and d2_s1; comparison: d3 only (d2 holds a planned store) and d2's other stores
    assert (row["n_planned"], row["n_comparison"]) == (2, 1 + 5)
    score = frame[ITEMS["recognition"]].mean(axis=1)
    district = frame["unit"].str[:2]
    d1 = score[district == "d1"].groupby(frame["wave"]).mean()
    d3 = score[district == "d3"].groupby(frame["wave"]).mean()
    change = direct_changes(frame)
    assert row["planned_change"] == pytest.approx((d1[WAVES[1]] - d1[WAVES[0]] + change["d2_s1"]) / 2, abs=1e-12)
    others = [*(d3[WAVES[1]] - d3[WAVES[0]],), *change[[f"d2_s{i}" for i in range(2, 7)]]]
    assert row["comparison_change"] == pytest.approx(np.mean(others), abs=1e-12)


def test_a_save_that_changes_nothing_records_nothing(any_store):
    plan = new_plan(any_store, notes="Same.", now=dt.datetime(2027, 1, 5, tzinfo=dt.UTC))
    action = act(any_store, plan, now=dt.datetime(2027, 1, 6, tzinfo=dt.UTC))
    later = dt.datetime(2027, 2, 1, tzinfo=dt.UTC)
    same = ap.update_plan(any_store, plan.id, owner="ANN@acme.example", notes="Same.", actor="bob@acme.example",
                          role="admin", now=later)
    ap.edit_action(any_store, action.id, status="planned", due="2027-01-31", actor="bob@acme.example", role="admin",
                   now=later)
    assert same.updated_by == "admin@acme.example" and same.updated_at == dt.datetime(2027, 1, 6, tzinfo=dt.UTC)
    assert list(ap.change_log(any_store, plan.id)["change"]) == ["add-action", "create"]
    ap.update_plan(any_store, plan.id, notes="Changed.", owner="ann@acme.example", actor="bob@acme.example",
                   role="admin", now=later)
    assert ap.change_log(any_store, plan.id)["detail"].iloc[0] == "notes"
