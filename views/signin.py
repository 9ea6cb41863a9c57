"""Staff sign-in and sign-out pages (the logic is in ``surveys.auth``)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import streamlit as st

from surveys import auth

log = logging.getLogger("tandem.app")

_SESSION_KEY = "staff:signed_in"


@st.cache_resource(show_spinner=False)
def _throttle() -> auth.SignInThrottle:
    """This process's password-guessing brake (shared by all sessions)."""
    return auth.SignInThrottle()


def _auth_secrets() -> Mapping[str, Any] | None:
    """The ``[auth]`` table of Streamlit's secrets, or ``None`` when there is none."""
    try:
        return st.secrets.get("auth")
    except Exception:  # no secrets.toml at all: Streamlit raises instead of returning nothing
        return None


def method() -> auth.SignInMethod:
    """The sign-in method configured for this server."""
    return auth.sign_in_method(_auth_secrets(), os.environ)


def signed_in() -> bool:
    """Whether this browser session may see the staff area."""
    current = method()
    if current is auth.SignInMethod.OIDC:
        return bool(st.user.get("is_logged_in", False)) and auth.is_staff_email(st.user.get("email"), os.environ)
    if current is auth.SignInMethod.PASSWORD:
        return bool(st.session_state.get(_SESSION_KEY))
    return False


def render_sign_in() -> None:
    """The sign-in page: OIDC button, password form, or how to configure sign-in."""
    st.title("Tandem staff area")
    current = method()
    if current is auth.SignInMethod.OIDC:
        if st.user.get("is_logged_in", False):
            st.warning(f"The account {st.user.get('email', '')} is not on the staff list (TANDEM_STAFF_EMAILS).")
            st.button("Sign out", on_click=st.logout)
            return
        for provider in auth.oidc_providers(_auth_secrets()):
            name = provider or "your organisation's account"
            st.button(f"Sign in with {name}", on_click=st.login, args=(provider,) if provider else (), key=f"login:{provider}")
        return
    if current is auth.SignInMethod.NONE:
        st.info(
            "The staff area is closed because no sign-in is configured.\n\n"
            "- **Password**: set the environment variable `TANDEM_ADMIN_PASSWORD` before starting the app "
            "(`TANDEM_ADMIN_PASSWORD='a long secret' streamlit run app.py`).\n"
            "- **Single sign-on (OIDC)**: add an `[auth]` section to `.streamlit/secrets.toml` with `redirect_uri`, "
            "`cookie_secret`, `client_id`, `client_secret` and `server_metadata_url`.\n\n"
            "Survey links (`?c=<campaign>`) work without either."
        )
        return
    with st.form("staff-sign-in"):
        password = st.text_input("Staff password", type="password", key="staff:password")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        address = st.context.ip_address
        source = address if isinstance(address, str) and address else "unknown"
        wait = _throttle().wait_seconds(source)
        if wait > 0:
            st.warning(f"Too many wrong passwords. Please wait {wait:.0f} seconds and try again.")
            return
        if auth.check_password(password, os.environ):
            _throttle().succeeded(source)
            st.session_state[_SESSION_KEY] = True
            st.rerun()
        _throttle().failed(source)
        log.warning("staff sign-in refused (wrong password)")
        st.error("That password is not right.")


def render_sign_out() -> None:
    """Sign out and go back to the sign-in page."""
    st.session_state.pop(_SESSION_KEY, None)
    if method() is auth.SignInMethod.OIDC and st.user.get("is_logged_in", False):
        st.logout()
    st.rerun()
