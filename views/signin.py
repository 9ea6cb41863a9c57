"""Staff sign-in and sign-out pages, and the role checks of the staff pages.

The logic is in ``surveys.auth``; this module reads Streamlit's secrets, headers and
session. For the other pages:

* :func:`current_access` -> ``Access | None``: the role and, for a unit manager signed in
  with OIDC, the scope (their units' subtrees in the organisation in force);
* :func:`current_role` -> ``Role | None``: the signed-in role of this browser session;
* :func:`current_identity` -> ``str``: the e-mail address (OIDC) or ``"password:<role>"``;
* :func:`require(action) <require>`: stop the page with a plain "your role may not ..."
  message unless the role may do ``action`` (``surveys.auth.ACTIONS``).
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Mapping
from typing import Any

import streamlit as st

from surveys import auth
from views.gateway import current_store

log = logging.getLogger("tandem.app")

_ROLE_KEY = "staff:role"
_FINGERPRINT_KEY = "staff:password_fingerprint"


def _auth_secrets() -> Mapping[str, Any] | None:
    """The ``[auth]`` table of Streamlit's secrets, or ``None`` when there is none."""
    try:
        return st.secrets.get("auth")
    except Exception:  # no secrets.toml at all: Streamlit raises instead of returning nothing
        return None


def method() -> auth.SignInMethod:
    """The sign-in method configured for this server."""
    return auth.sign_in_method(_auth_secrets(), os.environ)


def current_access() -> auth.Access | None:
    """The access of this browser session (role and scope), or ``None`` when it is not signed in.

    OIDC: from the account's e-mail address (``TANDEM_*_EMAILS``, and the managers of the
    organisation in force: ``surveys.auth.access_for_email``). Password: the role whose
    password was entered, as long as that role's password is still the same (never scoped).
    """
    if method() is auth.SignInMethod.OIDC:
        if not st.user.get("is_logged_in", False):
            return None
        from surveys import org_store
        from surveys.errors import TandemError

        try:
            org = org_store.org_at(current_store())
        except TandemError as exc:  # the store is down: staff on the lists still get in, managers do not
            log.warning("the organisation in force cannot be read, so no unit manager can sign in: %s", exc)
            org = None
        return auth.access_for_email(st.user.get("email"), org, os.environ)
    role = _password_role()
    return auth.Access(role) if role is not None else None


def current_role() -> auth.Role | None:
    """The role of this browser session, or ``None`` when it is not signed in (:func:`current_access`)."""
    access = current_access()
    return access.role if access is not None else None


def _password_role() -> auth.Role | None:
    if method() is auth.SignInMethod.PASSWORD:
        value = st.session_state.get(_ROLE_KEY)
        try:
            role = auth.Role(value)
        except ValueError:
            return None
        expected = auth.password_fingerprint(role, os.environ)
        held = st.session_state.get(_FINGERPRINT_KEY)
        if expected is None or not isinstance(held, str) or not hmac.compare_digest(held, expected):
            return None
        return role
    return None


def current_identity() -> str:
    """Who is signed in, for audit records: the e-mail address, or ``password:<role>``; ``""`` when nobody."""
    role = current_role()
    if role is None:
        return ""
    if method() is auth.SignInMethod.OIDC:
        return str(st.user.get("email") or "")
    return f"password:{role.value}"


def signed_in() -> bool:
    """Whether this browser session may see the staff area (has any role)."""
    return current_role() is not None


def require(action: str) -> None:
    """Stop the page (``st.stop()``) with a plain message unless the current role may do ``action``."""
    role = current_role()
    if auth.allowed(role, action):
        return
    if role is None:
        st.warning("Please sign in to the staff area first.")
    else:
        st.warning(f"Your role ({role.value}) may not {auth.ACTIONS[action]}. Ask an admin if you need to.")
    st.stop()


def client_address() -> str:
    """The address this session's sign-in attempts count against (``surveys.auth.client_address``)."""
    headers = st.context.headers
    try:
        forwarded = headers.get_all("X-Forwarded-For")
    except AttributeError:  # a plain mapping
        forwarded = [headers.get("X-Forwarded-For")] if headers.get("X-Forwarded-For") else []
    peer = st.context.ip_address
    return auth.client_address(peer if isinstance(peer, str) and peer else None, forwarded, environ=os.environ)


def brake() -> auth.SignInBrake:
    """The password brake over this server's database (shared by every session and process)."""
    return auth.SignInBrake(current_store())


def render_sign_in() -> None:
    """The sign-in page: OIDC button, password form, or how to configure sign-in."""
    st.title("Tandem staff area")
    current = method()
    if current is auth.SignInMethod.OIDC:
        if st.user.get("is_logged_in", False):
            st.warning(f"The account {st.user.get('email', '')} has no staff role "
                       "(TANDEM_ADMIN_EMAILS, TANDEM_ANALYST_EMAILS, TANDEM_VIEWER_EMAILS) and manages no unit "
                       "of the organisation in force.")
            st.button("Sign out", on_click=st.logout)
            return
        for provider in auth.oidc_providers(_auth_secrets()):
            name = provider or "your organisation's account"
            st.button(f"Sign in with {name}", on_click=st.login, args=(provider,) if provider else (),
                      key=f"login:{provider}")
        return
    if current is auth.SignInMethod.NONE:
        st.info(
            "The staff area is closed because no sign-in is configured.\n\n"
            "- **Password**: set the environment variable `TANDEM_ADMIN_PASSWORD` before starting the app "
            "(`TANDEM_ADMIN_PASSWORD='a long secret' streamlit run app.py`); `TANDEM_ANALYST_PASSWORD` and "
            "`TANDEM_VIEWER_PASSWORD` add the other roles.\n"
            "- **Single sign-on (OIDC)**: add an `[auth]` section to `.streamlit/secrets.toml` with `redirect_uri`, "
            "`cookie_secret`, `client_id`, `client_secret` and `server_metadata_url`.\n\n"
            "Survey links (`?c=<campaign>`) work without either."
        )
        return
    with st.form("staff-sign-in"):
        password = st.text_input("Staff password", type="password", key="staff:password")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        _password_attempt(password)


def _password_attempt(password: str | None) -> None:
    source = client_address()
    the_brake = brake()
    wait = the_brake.attempt(source)
    if wait > 0:
        log.warning("staff sign-in refused without checking the password (brake: %.0f s to wait)", wait)
        st.warning(f"Too many wrong passwords. Please wait {max(1, round(wait))} seconds and try again.")
        return
    role = auth.role_for_password(password, os.environ)
    if role is None:
        log.warning("staff sign-in refused (wrong password)")
        st.error("That password is not right.")
        return
    the_brake.succeeded(source)
    st.session_state[_ROLE_KEY] = role.value
    st.session_state[_FINGERPRINT_KEY] = auth.password_fingerprint(role, os.environ)
    log.info("staff signed in with the %s password", role.value)
    st.rerun()


def render_sign_out() -> None:
    """Sign out and go back to the sign-in page.

    OIDC: ``st.logout`` sends the browser to Streamlit's logout route (which deletes the
    identity cookie and ends the provider's session); no rerun follows, because a new run
    clears the messages not yet sent, the redirect among them, and the cookie would stay.
    """
    st.session_state.pop(_ROLE_KEY, None)
    st.session_state.pop(_FINGERPRINT_KEY, None)
    if method() is auth.SignInMethod.OIDC and st.user.get("is_logged_in", False):
        st.logout()
        return
    st.rerun()
