"""Action plans that close the loop: which drivers a unit may plan, who may edit, the roll-up, the next wave.

:mod:`surveys.action_plans` stores plans; this module decides what goes into them and
what comes out, through the disclosure policy:

* :func:`ranked_drivers`: the drivers a unit may choose from, ranked by their share of
  the outcome's explained variance within the unit's responses
  (:func:`services.insight.respondent_drivers` on the unit's view). A unit whose view the
  policy leaves empty (too few respondents, or one that would reveal a smaller group)
  offers the drivers of the nearest unit above it whose view it shows.
* :func:`can_edit_plan`: who may create and change a unit's plans: admins, and a unit's
  manager (a session scoped to the subtrees they manage, :class:`surveys.auth.Access`).
  :func:`create_plan`, :func:`update_plan`, :func:`add_action` and :func:`edit_action`
  check it, then store.
* :func:`rollup`: plans per organisation node (subtree), per driver and per status, and
  overdue actions: counts of plans and actions, never a survey answer.
* :func:`next_wave`: for each planned driver, the change from one wave to the next of
  the driver's unit mean for units with a plan beside comparable units without one
  (same parent, else same level), from unit means the policy shows whole in both waves
  (:mod:`analysis.plan_effects`; descriptive, not causal).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from analysis.plan_effects import PlanEffects, compare_changes, describe, unit_changes
from services.insight import construct_labels, respondent_drivers
from services.selection import Selection, SideView, select
from services.sources import Dataset
from surveys import action_plans as plans
from surveys import store as db
from surveys.action_plans import STATUS_LABELS, ActionPlan
from surveys.auth import Role
from surveys.errors import TandemError

__all__ = [
    "NextWave",
    "PlanAccessError",
    "PlanReport",
    "PlanRollup",
    "PlanSession",
    "RankedDrivers",
    "add_action",
    "can_edit_plan",
    "create_plan",
    "edit_action",
    "editable_units",
    "next_wave",
    "plan_report",
    "plan_units",
    "ranked_drivers",
    "rollup",
    "session_for",
    "update_plan",
    "visible_plans",
    "waves",
]


class PlanAccessError(TandemError):
    """The signed-in person may not change this unit's plans."""


@dataclass(frozen=True)
class PlanSession:
    """Who is changing plans.

    Attributes
    ----------
    role
        The signed-in role (:class:`surveys.auth.Role`), ``None`` when not signed in.
    actor
        The signed-in identity (e-mail address, or ``password:<role>``), recorded with every change.
    scope
        The units a manager's sign-in covers (every unit of the subtrees they manage,
        :attr:`surveys.auth.Access.scope`), or ``None``. Set by the sign-in, never by a
        widget; see :func:`can_edit_plan`.
    """

    role: Role | str | None
    actor: str
    scope: frozenset[str] | None = None


def can_edit_plan(session: PlanSession, unit: str) -> bool:
    """Whether ``session`` may create and change the plans of ``unit``.

    Admins may edit every unit's plans; a unit manager (a session with a ``scope``,
    :class:`surveys.auth.Access`) the plans of the units of the subtrees they manage.
    Analysts and viewers without a scope only read. This is the one place that decides
    it: every change below goes through :func:`_require`.
    """
    if session.role is None:
        return False
    if str(getattr(session.role, "value", session.role)) == Role.ADMIN.value:
        return True
    return session.scope is not None and str(unit) in session.scope


def session_for(access: Any, actor: str) -> PlanSession:
    """The :class:`PlanSession` of a signed-in :class:`surveys.auth.Access` (``None``: not signed in)."""
    if access is None:
        return PlanSession(None, str(actor or ""))
    return PlanSession(access.role, str(actor or ""), access.scope)


def visible_plans(session: PlanSession, all_plans: Sequence[ActionPlan]) -> list[ActionPlan]:
    """The plans ``session`` may see: all of them, or for a manager those inside the scope."""
    if session.role is None:
        return []
    return [p for p in all_plans if session.scope is None or p.unit in session.scope]


def editable_units(session: PlanSession, units: Iterable[str]) -> list[str]:
    """The units of ``units`` whose plans ``session`` may edit, in the given order."""
    return [u for u in units if can_edit_plan(session, u)]


def plan_units(org: Any, dataset: Dataset | None, session: PlanSession, *, side: str = "employee") -> list[str]:
    """The units ``session`` may create plans for: the organisation's units from the root
    down, or without an organisation the units of the data's responses."""
    if org is not None:
        units = list(org.subtree(org.root))
    elif dataset is not None and side in dataset.sides and "unit" in dataset.sides[side].frame:
        units = sorted(str(u) for u in dataset.sides[side].frame["unit"].dropna().unique())
    else:
        units = []
    return editable_units(session, units)


def _require(session: PlanSession, unit: str) -> None:
    if not can_edit_plan(session, unit):
        raise PlanAccessError(f"your role may not change the action plans of unit '{str(unit)[:80]}'",
                              where="action plans",
                              fix="Ask an admin, or the unit's manager, to make this change.")


# --------------------------------------------------------------------------- ranked drivers


@dataclass(frozen=True)
class RankedDrivers:
    """The drivers a unit may plan, best first.

    Attributes
    ----------
    unit
        The unit asked about.
    source
        The unit whose responses ranked them: ``unit`` itself, or the nearest unit above it
        the policy shows; ``None`` when no unit up to the root can be shown.
    side, instrument_id, outcome
        The survey side, its instrument and the outcome construct the drivers explain.
    table
        ``driver, label, pct, rank``: the share of the outcome's explained variance (%)
        and its rank (1 the largest), best first. Empty when ``source`` is ``None``.
    note
        In words, whose drivers these are and why.
    """

    unit: str
    source: str | None
    side: str
    instrument_id: str
    outcome: str
    table: pd.DataFrame = field(repr=False)
    note: str = ""

    @property
    def drivers(self) -> tuple[str, ...]:
        """Driver construct ids, best first."""
        return tuple(self.table["driver"])


def _subtree_view(dataset: Dataset, unit: str, side: str, waves: Sequence[str] = (),
                  scope: frozenset[str] | None = None) -> SideView:
    org = dataset.org
    units = org.subtree(unit) if org is not None and unit in org else (unit,)
    return select(dataset, Selection.of(units=units, waves=waves, scope=scope))[side]


def _outcome(instrument: Any, outcome: str | None) -> str:
    outcomes = [c.id for c in instrument.constructs if c.role in ("outcome", "kpi")]
    if not outcomes:
        raise TandemError(f"the instrument {instrument.id} has no outcome construct, so no driver can be ranked",
                          where="action plans", fix="Use a survey whose constructs have roles driver and outcome.")
    if outcome is None:
        return outcomes[0]
    if outcome not in outcomes:
        raise TandemError(f"'{str(outcome)[:64]}' is not an outcome of {instrument.id}", where="outcome",
                          fix=f"Choose one of {', '.join(outcomes)}.")
    return outcome


def ranked_drivers(dataset: Dataset, unit: str, *, side: str = "employee", outcome: str | None = None,
                   waves: Sequence[str] = (), scope: frozenset[str] | None = None) -> RankedDrivers:
    """The drivers ``unit`` may plan, ranked within the responses the policy shows for it.

    Parameters
    ----------
    dataset
        The data (campaigns of one survey as its waves, with their organisation).
    unit
        The unit (with an organisation: its subtree's responses; a unit whose view is
        empty offers the drivers of its nearest ancestor whose view is not).
    side, outcome
        The survey side and the outcome construct (default the instrument's first).
    waves
        Waves to rank on (default all).
    scope
        A manager's scope: only units inside it are looked at (a small unit at the top
        of the scope then offers no drivers rather than those of a unit the manager may
        not see).

    Raises
    ------
    TandemError
        No such side, or an instrument without outcome constructs.
    """
    if side not in dataset.sides:
        raise TandemError(f"the data has no {side} survey", where="action plans",
                          fix=f"Choose campaigns of an {side} survey.")
    instrument = dataset.sides[side].instrument
    main = _outcome(instrument, outcome)
    labels = construct_labels(instrument)
    org = dataset.org
    chain = [unit, *org.ancestors(unit)] if org is not None and unit in org else [unit]
    if scope is not None:
        chain = [u for u in chain if u in scope]
    for candidate in chain:
        view = _subtree_view(dataset, candidate, side, waves, scope)
        if view.empty:
            continue
        try:
            found = respondent_drivers(view, bootstrap=0).get(main)
        except TandemError:
            found = None
        if found is None:
            continue
        table = found["result"].table.sort_values("rank", kind="stable")
        table = pd.DataFrame({"driver": table["predictor"].astype(str),
                              "label": [labels.get(d, d) for d in table["predictor"]],
                              "pct": table["pct"].astype(float), "rank": table["rank"].astype(int)})
        note = (f"Drivers of {labels.get(main, main)} within unit {unit}'s responses." if candidate == unit else
                f"Unit {unit} is too small to show its own drivers (fewer than {view.k} respondents, or it would "
                f"reveal a smaller group), so these are the drivers of {candidate}, the nearest unit above it.")
        return RankedDrivers(unit, candidate, side, instrument.id, main, table.reset_index(drop=True), note)
    empty = pd.DataFrame(columns=["driver", "label", "pct", "rank"])
    above = "any unit above it you may see" if scope is not None else "any unit above it"
    return RankedDrivers(unit, None, side, instrument.id, main, empty,
                         f"No drivers can be shown for unit {unit} or {above}: too few responses in these "
                         "campaigns. An admin can plan for it on the drivers of a larger unit.")


# --------------------------------------------------------------------------- editing


def create_plan(store: db.Store, dataset: Dataset, session: PlanSession, *, unit: str, driver: str, owner: str,
                notes: str = "", side: str = "employee", outcome: str | None = None,
                now: dt.datetime | None = None) -> ActionPlan:
    """A new plan for ``unit`` targeting ``driver``, one of :func:`ranked_drivers` for it.

    Raises
    ------
    PlanAccessError
        ``session`` may not edit the unit's plans (:func:`can_edit_plan`).
    surveys.action_plans.ActionPlanError
        A driver not offered for the unit, or a field that cannot be stored.
    """
    _require(session, unit)
    ranked = ranked_drivers(dataset, unit, side=side, outcome=outcome, scope=session.scope)
    return plans.create_plan(store, unit=unit, instrument_id=ranked.instrument_id, driver=driver,
                             offered=ranked.drivers, driver_unit=ranked.source or unit, owner=owner,
                             actor=session.actor, role=str(session.role), notes=notes, org=dataset.org, now=now)


def update_plan(store: db.Store, session: PlanSession, plan_id: int, *, owner: str | None = None,
                notes: str | None = None, now: dt.datetime | None = None) -> ActionPlan:
    """Change a plan's owner or notes, if ``session`` may edit its unit's plans."""
    _require(session, plans.get_plan(store, plan_id).unit)
    return plans.update_plan(store, plan_id, actor=session.actor, role=str(session.role), owner=owner, notes=notes,
                             now=now)


def add_action(store: db.Store, session: PlanSession, plan_id: int, *, title: str, due: dt.date | str,
               status: str = "planned", now: dt.datetime | None = None) -> plans.Action:
    """Add an action to a plan, if ``session`` may edit its unit's plans."""
    _require(session, plans.get_plan(store, plan_id).unit)
    return plans.add_action(store, plan_id, title=title, due=due, status=status, actor=session.actor,
                            role=str(session.role), now=now)


def edit_action(store: db.Store, session: PlanSession, plan_id: int, action_id: int, *, title: str | None = None,
                due: dt.date | str | None = None, status: str | None = None,
                now: dt.datetime | None = None) -> plans.Action:
    """Change an action of plan ``plan_id``, if ``session`` may edit its unit's plans."""
    plan = plans.get_plan(store, plan_id)
    _require(session, plan.unit)
    if int(action_id) not in {a.id for a in plan.actions}:
        raise plans.ActionPlanError(f"plan {plan.id} has no action {action_id}", where="action",
                                    fix="Reload the page: the action list may be out of date.")
    return plans.edit_action(store, action_id, actor=session.actor, role=str(session.role), title=title, due=due,
                             status=status, now=now)


# --------------------------------------------------------------------------- roll-up


@dataclass(frozen=True)
class PlanRollup:
    """Where plans stand, for management: counts of plans and actions only.

    Attributes
    ----------
    node
        The organisation node rolled up ("" without an organisation).
    by_node
        ``node, level, units_with_plans, plans, planned, in progress, done, dropped,
        actions, overdue``: the node's whole subtree first, then each unit directly below
        it with its subtree (without an organisation: one row per unit with plans).
    by_driver
        ``driver, label, plans, units, planned, in progress, done, dropped, overdue``.
    overdue
        The overdue actions (:func:`surveys.action_plans.overdue` columns).
    """

    node: str
    by_node: pd.DataFrame
    by_driver: pd.DataFrame
    overdue: pd.DataFrame


_STATUS_COLUMNS = [STATUS_LABELS[s] for s in plans.STATUSES]


def _counts(group: Sequence[ActionPlan], today: dt.date) -> dict[str, int]:
    counts = {label: 0 for label in _STATUS_COLUMNS}
    for plan in group:
        counts[STATUS_LABELS[plan.status]] += 1
    return {"units_with_plans": len({p.unit for p in group}), "plans": len(group), **counts,
            "actions": sum(len(p.actions) for p in group), "overdue": sum(p.overdue(today) for p in group)}


def rollup(all_plans: Sequence[ActionPlan], org: Any = None, *, node: str | None = None,
           today: dt.date | None = None, labels: dict[str, str] | None = None) -> PlanRollup:
    """Plans per node (subtree), per driver and per status, with overdue actions.

    Parameters
    ----------
    all_plans
        The plans (:func:`surveys.action_plans.list_plans`).
    org, node
        The organisation and the node to roll up (default its root); plans of units
        outside ``node``'s subtree are left out.
    today
        The day overdue is counted on (default today, UTC).
    labels
        Construct id -> label for the driver table.
    """
    day = today or db.utcnow().date()
    labels = labels or {}
    if org is not None:
        top = node or org.root
        if top not in org:
            raise TandemError(f"no unit '{str(top)[:80]}' in the organisation", where="node",
                              fix=f"Choose a unit of the organisation (its root is '{org.root}').")
        inside = set(org.subtree(top))
        chosen = [p for p in all_plans if p.unit in inside]
        rows = [{"node": top, "level": org.level_of(top), **_counts(chosen, day)}]
        for child in org.children(top):
            below = set(org.subtree(child))
            rows.append({"node": child, "level": org.level_of(child),
                         **_counts([p for p in chosen if p.unit in below], day)})
    else:
        top, chosen = "", list(all_plans)
        rows = [{"node": unit, "level": "", **_counts([p for p in chosen if p.unit == unit], day)}
                for unit in sorted({p.unit for p in chosen})]
    by_node = pd.DataFrame(rows, columns=["node", "level", "units_with_plans", "plans", *_STATUS_COLUMNS,
                                          "actions", "overdue"])
    drivers = []
    for driver in sorted({p.driver for p in chosen}):
        group = [p for p in chosen if p.driver == driver]
        counts = _counts(group, day)
        drivers.append({"driver": driver, "label": labels.get(driver, driver), "plans": counts["plans"],
                        "units": counts["units_with_plans"], **{s: counts[s] for s in _STATUS_COLUMNS},
                        "overdue": counts["overdue"]})
    by_driver = pd.DataFrame(drivers, columns=["driver", "label", "plans", "units", *_STATUS_COLUMNS, "overdue"])
    late = plans.actions_frame(chosen, today=day)
    late = late[late["overdue"]] if len(late) else late
    overdue = pd.DataFrame(
        [{"plan": r.plan, "unit": r.unit, "action": r.action, "title": r.title, "due": r.due, "status": r.status,
          "days_overdue": (day - r.due).days} for r in late.itertuples()],
        columns=["plan", "unit", "action", "title", "due", "status", "days_overdue"])
    return PlanRollup(top, by_node, by_driver,
                      overdue.sort_values(["days_overdue", "plan"], ascending=[False, True], ignore_index=True))


# --------------------------------------------------------------------------- next wave


@dataclass(frozen=True)
class NextWave:
    """The change from wave ``before`` to wave ``after`` of planned drivers.

    Attributes
    ----------
    before, after, side
        The waves compared and the survey side.
    effects
        :class:`analysis.plan_effects.PlanEffects` per planned driver (units with a plan
        beside comparison units), or ``None`` when nothing could be compared.
    sentences
        Each driver's result in words (always saying it is not causal).
    notes
        What was left out and why, in words (never a number of respondents).
    """

    before: str
    after: str
    side: str
    effects: PlanEffects | None
    sentences: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """The effects table (empty without effects)."""
        return self.effects.to_frame() if self.effects is not None else pd.DataFrame()


def waves(dataset: Dataset, side: str = "employee") -> list[str]:
    """The waves of a side, in order (a wave is a campaign's label, not an answer)."""
    data = dataset.sides.get(side)
    if data is None or "wave" not in data.frame:
        return []
    return sorted(str(w) for w in data.frame["wave"].dropna().unique())


def _level_column(org: Any, unit: str) -> str:
    if org is None or unit not in org or not org.children(unit):
        return "unit"
    from services.hierarchy import level_column

    return level_column(org.level_of(unit))


def _shown_means(view: SideView, column: str, drivers: Sequence[str]) -> pd.DataFrame:
    """Mean driver scores of each group of ``column`` the policy shows whole in the view."""
    from analysis.scoring import score

    if view.empty or not view.data.has_column(column):
        return pd.DataFrame(columns=["unit", *drivers])
    whole = [g for g, state in view.groups(column).items() if state == "whole"]
    scores = score(view.frame, view.instrument)[list(drivers)]
    labels = view.grouped(column)
    means = scores[labels.isin(whole).to_numpy()].groupby(labels[labels.isin(whole)]).mean()
    return means.rename_axis("unit").reset_index()


def _naive_utc(value: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo is not None else stamp


def _wave_start(frame: pd.DataFrame, wave: str) -> pd.Timestamp | None:
    """The first ``submitted_at`` of ``wave`` (UTC, naive), or None without submission times."""
    if "submitted_at" not in frame or "wave" not in frame:
        return None
    times = pd.to_datetime(frame.loc[frame["wave"].astype("string") == wave, "submitted_at"], errors="coerce",
                           utc=True).dropna()
    return None if times.empty else times.min().tz_localize(None)


def next_wave(dataset: Dataset, all_plans: Sequence[ActionPlan], *, before: str, after: str,
              side: str = "employee", ci: float = 0.95) -> NextWave:
    """Each planned driver's change (wave ``after`` minus wave ``before`` of the unit mean),
    units with a plan beside comparable units without one.

    Plans of the side's instrument count unless all their actions were dropped, and only
    plans made before wave ``after`` began (its first response's ``submitted_at``): a plan
    made during or after that wave cannot have changed it. The
    comparison units of a planned unit are the units with the same parent that have no
    plan (neither they nor a unit below them); when none of them can be shown in both
    waves, such units of the same level. A unit takes part only where the disclosure policy shows its group
    whole in both waves (a hidden or partial group is left out, and the notes say so).

    Raises
    ------
    TandemError
        No such side, or a wave the data does not have.
    """
    if side not in dataset.sides:
        raise TandemError(f"the data has no {side} survey", where="next wave", fix=f"Choose an {side} survey.")
    known = waves(dataset, side)
    for wave in (before, after):
        if str(wave) not in known:
            raise TandemError(f"no wave '{str(wave)[:40]}' in the data", where="next wave",
                              fix=f"Choose two of the waves {', '.join(known) or '(none)'}.")
    if str(before) == str(after):
        raise TandemError("the two waves are the same", where="next wave", fix="Choose a wave and the one after it.")
    instrument = dataset.sides[side].instrument
    driver_ids = {c.id for c in instrument.constructs if c.role == "driver"}
    active = [p for p in all_plans if p.instrument_id == instrument.id and p.driver in driver_ids
              and p.status != "dropped"]
    if not active:
        return NextWave(str(before), str(after), side, None,
                        notes=(f"No plan of {instrument.id} targets a driver of this survey.",))
    notes = []
    began = _wave_start(dataset.sides[side].frame, str(after))
    if began is None:
        notes.append(f"The data carry no submission times, so plans made after wave {after} began are not told "
                     "apart: every plan counts.")
    else:
        late = [p for p in active if _naive_utc(p.created_at) >= began]
        if late:
            active = [p for p in active if p not in late]
            notes.append(f"{len(late)} plan(s) made after wave {after} began ({began:%Y-%m-%d}) are not counted: "
                         "they cannot have changed it.")
        if not active:
            return NextWave(str(before), str(after), side, None, notes=(*notes, "No planned unit can be compared."))
    org = dataset.org
    planned_units = {p.unit for p in active}
    drivers = sorted({p.driver for p in active})
    views = {w: select(dataset, Selection.of(waves=[w]))[side] for w in (str(before), str(after))}
    cache: dict[str, pd.DataFrame] = {}

    def changes_at(column: str) -> pd.DataFrame:
        if column not in cache:
            cache[column] = unit_changes(_shown_means(views[str(before)], column, drivers),
                                         _shown_means(views[str(after)], column, drivers), drivers)
        return cache[column]

    def unplanned(unit: str) -> bool:
        """No plan for the unit nor for any unit below it (a district whose store planned is not a control)."""
        return not planned_units.intersection(org.subtree(unit))

    rows, missing = [], 0
    for driver in drivers:
        planners = sorted({p.unit for p in active if p.driver == driver})
        comparison: set[tuple[str, str]] = set()
        for unit in planners:
            column = _level_column(org, unit)
            shown = changes_at(column)
            shown = set(shown.loc[shown["driver"] == driver, "unit"])
            if unit not in shown:
                missing += 1
                continue
            rows.append({"unit": unit, "driver": driver, "column": column, "planned": True})
            peers: list[str] = []
            if org is not None and unit in org:
                parent = org.parent(unit)
                peers = [u for u in (org.children(parent) if parent else ()) if u in shown and unplanned(u)]
                if not peers:
                    peers = [u for u in org.at_level(org.level_of(unit)) if u in shown and unplanned(u)]
            else:
                peers = [u for u in shown if u not in planned_units]
            comparison.update((u, column) for u in peers)
        rows += [{"unit": u, "driver": driver, "column": c, "planned": False} for u, c in sorted(comparison)]
    if missing:
        notes.append("Some planned units are left out: the disclosure policy does not show their group whole in "
                     "both waves (too few respondents, or they would reveal a smaller group).")
    if not rows:
        return NextWave(str(before), str(after), side, None, notes=(*notes, "No planned unit can be compared."))
    chosen = pd.DataFrame(rows)
    values = pd.concat([changes_at(c).assign(column=c) for c in chosen["column"].unique()], ignore_index=True)
    merged = chosen.merge(values, on=["unit", "driver", "column"], how="inner")
    effects = compare_changes(merged, ci=ci)
    labels = construct_labels(instrument)
    sentences = tuple(describe(r, label=labels.get(r["driver"], r["driver"]), ci=ci)
                      for r in effects.table.to_dict("records"))
    return NextWave(str(before), str(after), side, effects, sentences, tuple(notes))


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class PlanReport:
    """What the HTML report shows about action plans (:func:`plan_report`).

    Attributes
    ----------
    rollup
        :func:`rollup` of every plan (the organisation's root, or per unit without one).
    next_wave
        :func:`next_wave` of the data's last two waves, or ``None`` with fewer than two.
    labels
        Construct id -> label.
    """

    rollup: PlanRollup
    next_wave: NextWave | None
    labels: dict[str, str] = field(default_factory=dict)


def plan_report(store: db.Store, dataset: Dataset, *, side: str = "employee",
                today: dt.date | None = None) -> PlanReport:
    """The action plans section of the report for ``dataset``: the roll-up of every plan of
    its instrument and the change from its second-last to its last wave."""
    labels = construct_labels(*dataset.instruments.values())
    instrument = dataset.sides[side].instrument if side in dataset.sides else None
    chosen = [p for p in plans.list_plans(store) if instrument is None or p.instrument_id == instrument.id]
    known = waves(dataset, side)
    compared = next_wave(dataset, chosen, before=known[-2], after=known[-1], side=side) if len(known) > 1 else None
    return PlanReport(rollup(chosen, dataset.org, today=today, labels=labels), compared, labels)
