"""Staff page: action plans per unit, where they stand, and what changed in the next wave.

Thin: plans are stored by :mod:`surveys.action_plans`; the drivers a unit may choose, who
may edit, the roll-up and the next-wave comparison come from :mod:`services.action_plans`
(through the disclosure policy). Every signed-in role sees the plans it may see (a unit
manager those of their subtrees); admins, and unit managers for their own units, edit.
Text people typed is shown in tables (as text, never as markup).
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from services import action_plans as sap
from services.insight import construct_labels
from services.sources import campaign_dataset
from surveys import action_plans as ap
from surveys import campaigns, org_store
from views import signin
from views.errors import shown_errors
from views.gateway import current_store

_STATUS_CHOICES = list(ap.STATUSES)


def render() -> None:
    """The action plans page, inside an error boundary."""
    st.title("Action plans")
    with shown_errors("action plans"):
        signin.require("insight")
        _render()


def _render() -> None:
    store = current_store()
    session = sap.session_for(signin.current_access(), signin.current_identity())
    org = org_store.org_at(store)
    plans = sap.visible_plans(session, ap.list_plans(store))
    dataset = _dataset(store)
    labels = construct_labels(*(dataset.instruments.values() if dataset is not None else ()))
    _rollup(plans, org, session, labels)
    units = sap.plan_units(org, dataset, session)
    if dataset is not None and units:
        st.divider()
        _new_plan(store, dataset, session, units)
    mine = [p for p in plans if sap.can_edit_plan(session, p.unit)]
    if mine:
        st.divider()
        _change_plan(store, session, mine)
    if dataset is not None and session.scope is None:
        st.divider()
        _next_wave(dataset, plans)
    with st.expander("Who changed what"):
        st.dataframe(ap.change_log(store, plan_ids=[p.id for p in plans]), hide_index=True, width="stretch")


def _dataset(store: object):
    listing = campaigns.list_campaigns(store)
    employee = listing[listing["audience"] == "employee"] if not listing.empty else listing
    if employee.empty:
        st.info("No employee campaigns yet: plans choose a driver from a survey's results.")
        return None
    instruments = list(dict.fromkeys(employee["instrument"]))
    instrument = st.selectbox("Survey", instruments, key="plans:instrument")
    ids = employee.loc[employee["instrument"] == instrument, "campaign"].tolist()
    chosen = st.multiselect("Campaigns (its waves)", ids, default=ids, key="plans:campaigns")
    if not chosen:
        st.info("Choose at least one campaign.")
        return None
    dataset = campaign_dataset(store, chosen)
    st.caption(f"Data: {dataset.name}.")
    return dataset


def _rollup(plans: list, org: object, session: sap.PlanSession, labels: dict[str, str]) -> None:
    st.subheader("Where plans stand")
    if not plans:
        st.info("No action plans yet.")
        return
    node = None
    if org is not None:
        nodes = [u for u in org.subtree(org.root) if session.scope is None or u in session.scope]
        node = st.selectbox("Organisation unit (with the units below it)", nodes, key="plans:node")
    today = dt.datetime.now(dt.UTC).date()
    result = sap.rollup(plans, org, node=node, today=today, labels=labels)
    st.caption("Counts of plans and actions (plan status from its actions). No survey answer is shown here.")
    st.dataframe(result.by_node, hide_index=True, width="stretch")
    st.dataframe(result.by_driver, hide_index=True, width="stretch")
    if result.overdue.empty:
        st.caption("No action is overdue.")
    else:
        st.markdown("**Overdue actions**")
        st.dataframe(result.overdue, hide_index=True, width="stretch")
    st.markdown("**Plans**")
    st.dataframe(ap.plans_frame(plans, today=today), hide_index=True, width="stretch")


def _new_plan(store: object, dataset: object, session: sap.PlanSession, units: list[str]) -> None:
    st.subheader("New plan")
    created = st.session_state.pop("plans:created", None)
    if created:  # shown after the rerun that lists the new plan (a toast can vanish before it is read)
        st.success(created)
    unit = st.selectbox("Unit", units, key="plans:new_unit")
    ranked = sap.ranked_drivers(dataset, unit, scope=session.scope)
    st.caption(ranked.note)
    if not ranked.drivers:
        return
    st.dataframe(ranked.table[["rank", "label", "pct"]], hide_index=True,
                 column_config={"pct": st.column_config.NumberColumn("% of explained variance", format="%.1f")})
    names = dict(zip(ranked.table["driver"], ranked.table["label"], strict=True))
    with st.form("plans:new"):
        driver = st.selectbox("Driver to work on", list(ranked.drivers), format_func=names.get, key="plans:driver")
        owner = st.text_input("Owner (e-mail)", key="plans:owner")
        notes = st.text_area("Notes", max_chars=ap.MAX_NOTES, key="plans:notes")
        if st.form_submit_button("Create plan"):
            plan = sap.create_plan(store, dataset, session, unit=unit, driver=driver, owner=owner, notes=notes)
            st.session_state["plans:created"] = f"Plan {plan.id} for unit {plan.unit} created."
            st.rerun()


def _change_plan(store: object, session: sap.PlanSession, plans: list) -> None:
    st.subheader("Change a plan")
    by_id = {p.id: p for p in plans}
    plan_id = st.selectbox("Plan", list(by_id), key="plans:edit_plan",
                           format_func=lambda i: f"{i}: {by_id[i].unit}, {by_id[i].driver}")
    plan = by_id[plan_id]
    with st.form("plans:edit"):
        owner = st.text_input("Owner (e-mail)", value=plan.owner, key=f"plans:edit_owner:{plan.id}")
        notes = st.text_area("Notes", value=plan.notes, max_chars=ap.MAX_NOTES, key=f"plans:edit_notes:{plan.id}")
        if st.form_submit_button("Save plan"):
            sap.update_plan(store, session, plan.id, owner=owner, notes=notes)
            st.toast(f"Plan {plan.id} saved.")
            st.rerun()
    if plan.actions:
        st.dataframe(ap.actions_frame([plan]), hide_index=True, width="stretch")
    with st.form("plans:add_action"):
        title = st.text_input("New action", max_chars=ap.MAX_TITLE, key="plans:action_title")
        due = st.date_input("Due", value=dt.date.today() + dt.timedelta(days=30), key="plans:action_due")
        if st.form_submit_button("Add action"):
            sap.add_action(store, session, plan.id, title=title, due=due)
            st.toast("Action added.")
            st.rerun()
    if plan.actions:
        actions = {a.id: a for a in plan.actions}
        with st.form("plans:edit_action"):
            action_id = st.selectbox("Action", list(actions), format_func=lambda i: f"{i}: {actions[i].title}",
                                     key="plans:action")
            status = st.selectbox("Status", _STATUS_CHOICES, format_func=ap.STATUS_LABELS.get, key="plans:status")
            if st.form_submit_button("Save action"):
                sap.edit_action(store, session, plan.id, action_id, status=status)
                st.toast("Action saved.")
                st.rerun()


def _next_wave(dataset: object, plans: list) -> None:
    st.subheader("In the next wave")
    waves = sap.waves(dataset)
    if len(waves) < 2:
        st.caption("The change of planned drivers is shown once the chosen campaigns hold two waves.")
        return
    left, right = st.columns(2)
    before = left.selectbox("Wave", waves[:-1], index=len(waves) - 2, key="plans:before")
    after = right.selectbox("Next wave", [w for w in waves if w > before], key="plans:after")
    result = sap.next_wave(dataset, plans, before=before, after=after)
    for sentence in result.sentences:
        st.info(sentence)
    for note in result.notes:
        st.caption(note)
    if result.effects is not None:
        st.dataframe(result.to_frame(), hide_index=True, width="stretch")
        st.caption("Each unit's change is its driver mean in the next wave minus the wave before, from units the "
                   "disclosure policy shows whole in both waves; comparison units have no plan and the same "
                   "parent (else the same level). Group intervals: t; the difference: Welch. Units chose to "
                   "plan, and low scores tend to rise anyway: this does not show that a plan caused a change.")


if __name__ == "__main__":  # app.py registers this file as a page; Streamlit runs it as __main__
    render()
