"""Action plans per unit: the driver a unit chose to work on, its actions and who changed what.

A plan belongs to one organisation unit and targets one **driver** construct of one
instrument, chosen from the ranked drivers the services offered for that unit (its own,
or its parent's when the unit is too small to show its own: ``driver_unit`` says whose).
It has an **owner** (an e-mail address), free **notes**, and **actions**, each with a
title, a **due date** and a **status** (:data:`STATUSES`). Every change is written to
``action_plan_changes`` (who, in which role, when to the second, what), and the plan
keeps who created and who last changed it.

This module checks and stores; it computes no statistic. Which drivers a unit may choose
from (``offered``) and who may edit a plan are decided in :mod:`services.action_plans`.

API overview
------------
``create_plan(store, *, unit, instrument_id, driver, offered, driver_unit, owner, actor, role, notes="", org=None)``
    A new plan (:class:`ActionPlan`); ``driver`` must be one of ``offered``.
``update_plan(store, plan_id, *, actor, role, owner=None, notes=None)``
    Change the owner or the notes.
``add_action(store, plan_id, *, title, due, actor, role, status="planned")`` and
``edit_action(store, action_id, *, actor, role, title=None, due=None, status=None)``
    Actions of a plan.
``get_plan(store, plan_id)``, ``list_plans(store, units=None)``, ``plans_in(store, org, node)``
    Plans with their actions (of some units, or of a node's subtree).
``overdue(store, *, today=None, units=None) -> DataFrame``
    Actions past their due date that are neither done nor dropped.
``plans_frame(plans)``, ``actions_frame(plans)``, ``change_log(store, plan_id=None)``
    Tables for pages and the report.

Every refusal is an :class:`ActionPlanError` saying where (the field), what and how to
fix it. Text is cleaned by :func:`surveys.text.clean_text` (control, bidirectional and
invisible characters removed) and bounded (:data:`MAX_NOTES`, :data:`MAX_TITLE`); it is
stored through bound parameters and pages show it as text, never as markup.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from surveys import store as db
from surveys.errors import TandemError, did_you_mean
from surveys.organisation import EMAIL
from surveys.question_types import UNIT_ID
from surveys.schema import action_plan_actions, action_plan_changes, action_plans
from surveys.text import clean_text

__all__ = [
    "MAX_ACTIONS", "MAX_NOTES", "MAX_TITLE", "STATUSES", "STATUS_LABELS", "Action", "ActionPlan",
    "ActionPlanError", "actions_frame", "add_action", "change_log", "create_plan", "edit_action", "get_plan",
    "list_plans", "overdue", "plans_frame", "plans_in", "update_plan",
]

#: Statuses of an action, in the order work goes through them.
STATUSES = ("planned", "in_progress", "done", "dropped")
#: How statuses are written for people.
STATUS_LABELS = {"planned": "planned", "in_progress": "in progress", "done": "done", "dropped": "dropped"}
#: Statuses of actions that are still open (can be overdue).
OPEN_STATUSES = ("planned", "in_progress")
#: Longest notes of a plan (characters, after cleaning).
MAX_NOTES = 4_000
#: Longest title of an action (characters, after cleaning).
MAX_TITLE = 300
#: Most actions of one plan.
MAX_ACTIONS = 50
#: Earliest and latest due dates accepted (a typo such as 20266-01-01 is refused).
FIRST_DUE, LAST_DUE = dt.date(2000, 1, 1), dt.date(2099, 12, 31)
#: A construct id (the driver): what instruments accept as ids.
DRIVER_ID = re.compile(r"[a-z][a-z0-9_]{0,63}")
_ROLE = re.compile(r"[a-z_]{1,20}")


class ActionPlanError(TandemError):
    """An action plan or action that cannot be stored as asked."""


@dataclass(frozen=True)
class Action:
    """One action of a plan: ``title``, ``due`` date, ``status`` (:data:`STATUSES`) and who changed it last."""

    id: int
    plan_id: int
    title: str
    due: dt.date
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime
    updated_by: str

    def is_overdue(self, today: dt.date) -> bool:
        """Past its due date and neither done nor dropped."""
        return self.status in OPEN_STATUSES and self.due < today


@dataclass(frozen=True)
class ActionPlan:
    """A unit's plan for one driver.

    Attributes
    ----------
    id, unit, instrument_id, driver
        The plan's number, its unit, and the instrument and driver construct it targets.
    driver_unit
        The unit whose ranked drivers offered ``driver`` (``unit`` itself, or an ancestor
        when ``unit`` was too small to show its own drivers).
    owner, notes
        Who answers for the plan (an e-mail address) and free notes.
    created_at, created_by, updated_at, updated_by
        When (UTC, to the second) and by whom it was created and last changed.
    actions
        Its actions, in the order they were added.
    """

    id: int
    unit: str
    instrument_id: str
    driver: str
    driver_unit: str
    owner: str
    notes: str
    created_at: dt.datetime
    created_by: str
    updated_at: dt.datetime
    updated_by: str
    actions: tuple[Action, ...] = ()

    @property
    def status(self) -> str:
        """The plan's status from its actions: ``planned`` without any action started,
        ``done`` when every action is done or dropped (and one is done), ``dropped`` when
        all are dropped, otherwise ``in_progress``."""
        states = {a.status for a in self.actions}
        if not states or states == {"planned"}:
            return "planned"
        if states == {"dropped"}:
            return "dropped"
        if states <= {"done", "dropped"}:
            return "done"
        return "in_progress"

    def overdue(self, today: dt.date) -> int:
        """Number of its actions past their due date that are neither done nor dropped."""
        return sum(a.is_overdue(today) for a in self.actions)


# --------------------------------------------------------------------------- checks


def _now(now: dt.datetime | None) -> dt.datetime:
    return (db.as_utc(now) if now else db.utcnow()).replace(microsecond=0)


def _actor(actor: str, role: str) -> tuple[str, str]:
    who = clean_text(str(actor or ""), multiline=False)
    if not who:
        raise ActionPlanError("a change must name who made it", where="actor",
                              fix="Pass the signed-in identity (views.signin.current_identity()).")
    role_value = str(getattr(role, "value", role) or "")
    if not _ROLE.fullmatch(role_value):
        raise ActionPlanError(f"'{role_value[:30]}' is not a role", where="role",
                              fix="Pass the signed-in role (surveys.auth.Role).")
    return who[:320], role_value


def _unit(unit: str, org: Any) -> str:
    text = str(unit or "").strip()
    if not UNIT_ID.fullmatch(text):
        raise ActionPlanError(f"'{text[:80]}' is not a unit id", where="unit",
                              fix="Choose a unit of the organisation (letters, digits, '_', '.', '-').")
    if org is not None and text not in org:
        raise ActionPlanError(f"no unit '{text}' in the organisation in force", where="unit",
                              fix=did_you_mean(text, list(org.units)).strip()
                              or "Choose a unit of the organisation ('tandem org show' lists them).")
    return text


def _owner(owner: str) -> str:
    text = clean_text(str(owner or ""), multiline=False).lower()
    if len(text) > 320 or not EMAIL.fullmatch(text):
        raise ActionPlanError(f"'{text[:80]}' is not an e-mail address", where="owner",
                              fix="Give the address of the person who answers for the plan, e.g. ann@acme.example.")
    return text


def _notes(notes: str) -> str:
    text = clean_text(str(notes or ""), multiline=True)
    if len(text) > MAX_NOTES:
        raise ActionPlanError(f"the notes have {len(text):,} characters, more than {MAX_NOTES:,}", where="notes",
                              fix="Shorten the notes; keep long documents elsewhere and link to them.")
    return text


def _title(title: str) -> str:
    text = clean_text(str(title or ""), multiline=False)
    if not text:
        raise ActionPlanError("an action needs a title", where="action title",
                              fix="Say in a few words what will be done, e.g. 'Weekly team huddle'.")
    if len(text) > MAX_TITLE:
        raise ActionPlanError(f"the title has {len(text):,} characters, more than {MAX_TITLE}",
                              where="action title", fix="Shorten the title; put details into the plan's notes.")
    return text


def _due(due: dt.date | str) -> dt.date:
    if isinstance(due, dt.datetime):
        due = due.date()
    if not isinstance(due, dt.date):
        text = str(due or "").strip()
        try:
            due = dt.date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None
        except ValueError:
            due = None
        if due is None:
            raise ActionPlanError(f"'{text[:40]}' is not a date", where="due date",
                                  fix="Write the due date as YYYY-MM-DD, e.g. 2027-03-31.")
    if not FIRST_DUE <= due <= LAST_DUE:
        raise ActionPlanError(f"due date {due.isoformat()} is outside {FIRST_DUE.year}-{LAST_DUE.year}",
                              where="due date", fix="Check the year of the due date.")
    return due


def _status(status: str) -> str:
    text = str(status or "").strip().lower().replace(" ", "_")
    if text not in STATUSES:
        raise ActionPlanError(f"'{str(status)[:40]}' is not a status", where="action status",
                              fix=f"Use one of {', '.join(STATUS_LABELS.values())}.")
    return text


def _driver(driver: str, offered: Sequence[str]) -> str:
    text = str(driver or "").strip()
    choices = [str(d) for d in offered]
    if not choices:
        raise ActionPlanError("no ranked drivers are offered for this unit", where="driver",
                              fix="Choose data in which the unit, or a unit above it, has enough responses "
                                  "to rank its drivers.")
    if not DRIVER_ID.fullmatch(text) or text not in choices:
        raise ActionPlanError(f"'{text[:64]}' is not one of the drivers ranked for this unit", where="driver",
                              fix=did_you_mean(text, choices).strip() or f"Choose one of {', '.join(choices)}.")
    return text


# --------------------------------------------------------------------------- writing


def _log(conn: Connection, plan_id: int, at: dt.datetime, actor: str, role: str, change: str, detail: str) -> None:
    conn.execute(action_plan_changes.insert().values(plan_id=plan_id, at=at, actor=actor, role=role, change=change,
                                                     detail=detail[:500]))


def create_plan(store: db.Store, *, unit: str, instrument_id: str, driver: str, offered: Sequence[str],
                driver_unit: str, owner: str, actor: str, role: str, notes: str = "", org: Any = None,
                now: dt.datetime | None = None) -> ActionPlan:
    """Store a new plan for ``unit`` targeting ``driver`` and return it.

    Parameters
    ----------
    store
        The open store.
    unit, org
        The plan's unit; with ``org`` (the organisation in force) it must be one of its units.
    instrument_id, driver, offered, driver_unit
        The instrument whose construct ``driver`` is; ``offered`` the ranked drivers the
        services gave for ``unit`` (``driver`` must be one of them), ``driver_unit`` the
        unit whose ranking they are.
    owner, notes
        The owner's e-mail address and optional notes (at most :data:`MAX_NOTES` characters).
    actor, role
        Who creates it (the signed-in identity) and in which role.

    Raises
    ------
    ActionPlanError
        A field that cannot be stored (the error names it and says how to fix it).
    """
    who, role_value = _actor(actor, role)
    values = {"unit_id": _unit(unit, org), "driver": _driver(driver, offered), "owner": _owner(owner),
              "notes": _notes(notes), "driver_unit": _unit(driver_unit, org)}
    instrument = str(instrument_id or "").strip()
    if not instrument or len(instrument) > 200:
        raise ActionPlanError("a plan must name the instrument of its driver", where="instrument",
                              fix="Pass the instrument id of the survey whose drivers were ranked.")
    at = _now(now)

    def tx(conn: Connection) -> int:
        plan_id = conn.execute(action_plans.insert().values(
            **values, instrument_id=instrument, created_at=at, created_by=who, updated_at=at, updated_by=who)
        ).inserted_primary_key[0]
        _log(conn, plan_id, at, who, role_value, "create", f"driver {values['driver']}, owner {values['owner']}")
        return int(plan_id)

    return get_plan(store, store.run(tx))


def _touch(conn: Connection, plan_id: int, at: dt.datetime, who: str) -> None:
    done = conn.execute(action_plans.update().where(action_plans.c.id == plan_id)
                        .values(updated_at=at, updated_by=who)).rowcount
    if not done:
        raise ActionPlanError(f"there is no action plan {plan_id}", where="plan",
                              fix="Reload the page: the plan list may be out of date.")


def update_plan(store: db.Store, plan_id: int, *, actor: str, role: str, owner: str | None = None,
                notes: str | None = None, now: dt.datetime | None = None) -> ActionPlan:
    """Change a plan's owner and/or notes (``None`` keeps a field) and return the plan.

    Only fields that differ from the stored ones are written and recorded; a save that
    changes nothing leaves the plan (and its last-changed time) as it was.

    Raises
    ------
    ActionPlanError
        No such plan, or a value that cannot be stored.
    """
    who, role_value = _actor(actor, role)
    values: dict[str, str] = {}
    if owner is not None:
        values["owner"] = _owner(owner)
    if notes is not None:
        values["notes"] = _notes(notes)
    at = _now(now)
    p = action_plans

    def tx(conn: Connection) -> None:
        row = conn.execute(sa.select(p.c.owner, p.c.notes).where(p.c.id == int(plan_id))).first()
        if row is None:
            raise ActionPlanError(f"there is no action plan {plan_id}", where="plan",
                                  fix="Reload the page: the plan list may be out of date.")
        changed = {k: v for k, v in values.items() if getattr(row, k) != v}
        if changed:
            _touch(conn, int(plan_id), at, who)
            conn.execute(p.update().where(p.c.id == int(plan_id)).values(**changed))
            _log(conn, int(plan_id), at, who, role_value, "update",
                 ", ".join(f"owner {v}" if k == "owner" else "notes" for k, v in changed.items()))

    store.run(tx)
    return get_plan(store, plan_id)


def add_action(store: db.Store, plan_id: int, *, title: str, due: dt.date | str, actor: str, role: str,
               status: str = "planned", now: dt.datetime | None = None) -> Action:
    """Add an action to a plan and return it.

    Raises
    ------
    ActionPlanError
        No such plan, the plan already has :data:`MAX_ACTIONS` actions, or a value that
        cannot be stored.
    """
    who, role_value = _actor(actor, role)
    values = {"title": _title(title), "due": _due(due), "status": _status(status)}
    at = _now(now)
    a = action_plan_actions

    def tx(conn: Connection) -> int:
        _touch(conn, int(plan_id), at, who)
        count = conn.execute(sa.select(sa.func.count()).select_from(a).where(a.c.plan_id == int(plan_id))).scalar_one()
        if count >= MAX_ACTIONS:
            raise ActionPlanError(f"the plan already has {MAX_ACTIONS} actions", where=f"plan {plan_id}",
                                  fix="Drop or merge actions that are no longer needed, or start another plan.")
        action_id = conn.execute(a.insert().values(plan_id=int(plan_id), **values, created_at=at, updated_at=at,
                                                   updated_by=who)).inserted_primary_key[0]
        _log(conn, int(plan_id), at, who, role_value, "add-action",
             f"action {action_id}: due {values['due'].isoformat()}, {STATUS_LABELS[values['status']]}")
        return int(action_id)

    action_id = store.run(tx)
    return next(x for x in get_plan(store, plan_id).actions if x.id == action_id)


def edit_action(store: db.Store, action_id: int, *, actor: str, role: str, title: str | None = None,
                due: dt.date | str | None = None, status: str | None = None,
                now: dt.datetime | None = None) -> Action:
    """Change an action's title, due date and/or status (``None`` keeps a field) and return it.

    Only fields that differ from the stored ones are written and recorded.

    Raises
    ------
    ActionPlanError
        No such action, or a value that cannot be stored.
    """
    who, role_value = _actor(actor, role)
    values: dict[str, Any] = {}
    if title is not None:
        values["title"] = _title(title)
    if due is not None:
        values["due"] = _due(due)
    if status is not None:
        values["status"] = _status(status)
    at = _now(now)
    a = action_plan_actions

    def tx(conn: Connection) -> int:
        query = sa.select(a.c.plan_id, a.c.title, a.c.due, a.c.status).where(a.c.id == int(action_id))
        row = conn.execute(query).first()
        if row is None:
            raise ActionPlanError(f"there is no action {action_id}", where="action",
                                  fix="Reload the page: the action list may be out of date.")
        changed = {k: v for k, v in values.items() if getattr(row, k) != v}
        if changed:
            _touch(conn, row.plan_id, at, who)
            conn.execute(a.update().where(a.c.id == int(action_id)).values(**changed, updated_at=at, updated_by=who))
            detail = ", ".join(f"due {v.isoformat()}" if k == "due" else f"status {STATUS_LABELS[v]}"
                               if k == "status" else "title" for k, v in changed.items())
            _log(conn, row.plan_id, at, who, role_value, "edit-action", f"action {action_id}: {detail}")
        return int(row.plan_id)

    plan_id = store.run(tx)
    return next(x for x in get_plan(store, plan_id).actions if x.id == int(action_id))


# --------------------------------------------------------------------------- reading


def _load(conn: Connection, where: Any = None) -> list[ActionPlan]:
    p, a = action_plans, action_plan_actions
    query = sa.select(p).order_by(p.c.id)
    if where is not None:
        query = query.where(where)
    rows = conn.execute(query).all()
    if not rows:
        return []
    ids = [r.id for r in rows]
    actions: dict[int, list[Action]] = {i: [] for i in ids}
    for chunk in range(0, len(ids), 1_000):
        for r in conn.execute(sa.select(a).where(a.c.plan_id.in_(ids[chunk:chunk + 1_000])).order_by(a.c.id)):
            actions[r.plan_id].append(Action(r.id, r.plan_id, r.title, r.due, r.status, db.as_utc(r.created_at),
                                             db.as_utc(r.updated_at), r.updated_by))
    return [ActionPlan(r.id, r.unit_id, r.instrument_id, r.driver, r.driver_unit, r.owner, r.notes,
                       db.as_utc(r.created_at), r.created_by, db.as_utc(r.updated_at), r.updated_by,
                       tuple(actions[r.id])) for r in rows]


def get_plan(store: db.Store, plan_id: int) -> ActionPlan:
    """One plan with its actions.

    Raises
    ------
    ActionPlanError
        No plan has this number.
    """
    try:
        number = int(plan_id)
    except (TypeError, ValueError):
        number = -1
    found = store.run(lambda conn: _load(conn, action_plans.c.id == number), write=False)
    if not found:
        raise ActionPlanError(f"there is no action plan {str(plan_id)[:20]}", where="plan",
                              fix="Reload the page: the plan list may be out of date.")
    return found[0]


def list_plans(store: db.Store, units: Iterable[str] | None = None) -> list[ActionPlan]:
    """Every plan (``units=None``), or the plans of the given units, oldest first."""
    if units is None:
        return store.run(_load, write=False)
    wanted = sorted({str(u) for u in units})
    if not wanted:
        return []
    return [plan for chunk in range(0, len(wanted), 1_000)
            for plan in store.run(lambda conn, c=chunk: _load(conn, action_plans.c.unit_id.in_(wanted[c:c + 1_000])),
                                  write=False)]


def plans_in(store: db.Store, org: Any, node: str) -> list[ActionPlan]:
    """The plans of ``node`` and every unit below it in ``org``.

    Raises
    ------
    ActionPlanError
        ``node`` is not a unit of ``org``.
    """
    return list_plans(store, org.subtree(_unit(node, org)))


def overdue(store: db.Store, *, today: dt.date | None = None, units: Iterable[str] | None = None) -> pd.DataFrame:
    """Actions past their due date that are neither done nor dropped, the longest overdue first.

    Columns ``plan, unit, driver, owner, action, title, due, status, days_overdue``.
    """
    day = today or db.utcnow().date()
    rows = [{"plan": plan.id, "unit": plan.unit, "driver": plan.driver, "owner": plan.owner, "action": action.id,
             "title": action.title, "due": action.due, "status": STATUS_LABELS[action.status],
             "days_overdue": (day - action.due).days}
            for plan in list_plans(store, units) for action in plan.actions if action.is_overdue(day)]
    columns = ["plan", "unit", "driver", "owner", "action", "title", "due", "status", "days_overdue"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values(["days_overdue", "plan", "action"], ascending=[False, True, True], ignore_index=True)


def plans_frame(plans: Sequence[ActionPlan], *, today: dt.date | None = None) -> pd.DataFrame:
    """One row per plan: ``plan, unit, driver, driver_unit, owner, status, actions, overdue,
    notes, updated_at, updated_by``."""
    day = today or db.utcnow().date()
    columns = ["plan", "unit", "instrument", "driver", "driver_unit", "owner", "status", "actions", "overdue",
               "notes", "created_at", "created_by", "updated_at", "updated_by"]
    return pd.DataFrame([{"plan": p.id, "unit": p.unit, "instrument": p.instrument_id, "driver": p.driver,
                          "driver_unit": p.driver_unit, "owner": p.owner, "status": STATUS_LABELS[p.status],
                          "actions": len(p.actions), "overdue": p.overdue(day), "notes": p.notes,
                          "created_at": p.created_at, "created_by": p.created_by, "updated_at": p.updated_at,
                          "updated_by": p.updated_by} for p in plans], columns=columns)


def actions_frame(plans: Sequence[ActionPlan], *, today: dt.date | None = None) -> pd.DataFrame:
    """One row per action: ``plan, unit, action, title, due, status, overdue, updated_at, updated_by``."""
    day = today or db.utcnow().date()
    columns = ["plan", "unit", "action", "title", "due", "status", "overdue", "updated_at", "updated_by"]
    return pd.DataFrame([{"plan": p.id, "unit": p.unit, "action": a.id, "title": a.title, "due": a.due,
                          "status": STATUS_LABELS[a.status], "overdue": a.is_overdue(day), "updated_at": a.updated_at,
                          "updated_by": a.updated_by} for p in plans for a in p.actions], columns=columns)


def change_log(store: db.Store, plan_id: int | None = None, *, plan_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """The recorded changes of one plan, of ``plan_ids``, or of all plans, newest first.

    Columns ``at`` (UTC, to the second), ``plan``, ``actor``, ``role``, ``change``, ``detail``.
    """
    c = action_plan_changes
    query = sa.select(c.c.at, c.c.plan_id, c.c.actor, c.c.role, c.c.change, c.c.detail).order_by(
        c.c.at.desc(), c.c.id.desc())
    if plan_id is not None:
        query = query.where(c.c.plan_id == int(plan_id))
    if plan_ids is not None:
        query = query.where(c.c.plan_id.in_(sorted({int(i) for i in plan_ids})))
    rows = store.run(lambda conn: conn.execute(query).all(), write=False)
    frame = pd.DataFrame([tuple(r) for r in rows], columns=["at", "plan", "actor", "role", "change", "detail"])
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame
