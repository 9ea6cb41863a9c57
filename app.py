"""Tandem's Streamlit entry point: the respondent route or the signed-in staff area.

- ``?c=<campaign>&t=<token>`` (invited) or ``?c=<campaign>`` (open): only the survey
  page. There is no navigation, no sidebar, and no staff page is registered in that
  session, so no URL path leads from a respondent link to the staff area.
- Without ``c``: the staff area, behind sign-in (``surveys.auth``): ``st.login`` (OIDC)
  when ``[auth]`` is configured in Streamlit's secrets, else one password per role
  (``TANDEM_ADMIN_PASSWORD``, ``TANDEM_ANALYST_PASSWORD``, ``TANDEM_VIEWER_PASSWORD``);
  with neither, a page that explains how to set one up. The navigation holds only the
  pages the signed-in role may use (admin: campaigns, responses and insight; analyst:
  responses with the safe exports, and insight; viewer: insight).

Run with ``streamlit run app.py``.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from surveys import auth
from surveys.auth import Role
from views import respond, signin

HERE = Path(__file__).resolve().parent


#: The analysis pages first in this order; any other ``views/insight_*.py`` follows.
INSIGHT_ORDER = ("overview", "instrument_health", "drivers", "compare", "linkage", "comments")
#: Navigation titles that are not the file name's words.
INSIGHT_TITLES = {"compare": "Compare groups"}


def _insight_pages() -> list[st.Page]:
    """The analysis pages, one per ``views/insight_<name>.py`` script."""
    paths = {p.stem.removeprefix("insight_"): p for p in (HERE / "views").glob("insight_*.py")}
    names = [n for n in INSIGHT_ORDER if n in paths] + sorted(set(paths) - set(INSIGHT_ORDER))
    return [st.Page(paths[n], title=INSIGHT_TITLES.get(n, n.replace("_", " ").capitalize()), url_path=n)
            for n in names]


def _staff_pages(role: Role) -> dict[str, list[st.Page]]:
    """The staff area's pages for ``role``, in sections: collection, analysis, account.

    A page is registered only for roles that may use it (``surveys.auth.allowed``), so a
    viewer's or analyst's session has no URL that leads to the Campaigns page. The
    Responses page holds the raw downloads: it is registered for roles that may take
    raw exports, and for analysts (safe exports) only once the page checks roles itself
    (``views.staff_responses.CHECKS_ROLES = True``). Imported here, so a respondent's
    session never loads the staff modules.
    """
    from views import staff_campaigns, staff_organisation, staff_responses

    collect = []
    if auth.allowed(role, "manage_campaigns") or auth.allowed(role, "invite"):
        collect.append(st.Page(staff_campaigns.render, title="Campaigns", icon=":material/campaign:",
                               url_path="campaigns"))
    if auth.allowed(role, "manage_organisation"):
        collect.append(st.Page(staff_organisation.render, title="Organisation", icon=":material/account_tree:",
                               url_path="organisation"))
    if auth.allowed(role, "raw_export") or (
            getattr(staff_responses, "CHECKS_ROLES", False) is True and auth.allowed(role, "safe_export")):
        collect.append(st.Page(staff_responses.render, title="Responses", icon=":material/table_chart:",
                               url_path="responses"))
    pages = {
        "Collect": collect,
        "Insight": _insight_pages() if auth.allowed(role, "insight") else [],
        "Act": [st.Page(HERE / "views" / "staff_action_plans.py", title="Action plans", icon=":material/task_alt:", url_path="action-plans")] if auth.allowed(role, "insight") else [],  # noqa: E501
        "Account": [st.Page(signin.render_sign_out, title="Sign out", icon=":material/logout:", url_path="sign-out")],
    }
    return {section: items for section, items in pages.items() if items}


def main() -> None:
    if st.query_params.get("c"):
        st.set_page_config(page_title="Survey", page_icon="📝", initial_sidebar_state="collapsed")
        survey = st.Page(respond.render, title="Survey", url_path="survey", default=True)
        page = st.navigation([survey], position="hidden")
    else:
        st.set_page_config(page_title="Tandem staff area", page_icon="📊", layout="wide")
        role = signin.current_role()
        if role is not None:
            page = st.navigation(_staff_pages(role))
        else:
            page = st.navigation(
                [st.Page(signin.render_sign_in, title="Sign in", url_path="sign-in", default=True)], position="hidden"
            )
    page.run()


main()
