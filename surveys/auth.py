"""Staff sign-in: which method is configured and the constant-time password check.

The staff area of the app (campaigns, invitations, responses, downloads, analysis)
is closed unless one of two sign-in methods is configured:

1. **OIDC** through Streamlit's ``st.login``: an ``[auth]`` table in Streamlit's
   secrets (``.streamlit/secrets.toml``) with ``redirect_uri``, ``cookie_secret`` and
   the provider's ``client_id``, ``client_secret`` and ``server_metadata_url``, either
   directly under ``[auth]`` or under a named provider (``[auth.microsoft]``).
   ``TANDEM_STAFF_EMAILS`` (comma-separated) optionally limits which signed-in
   accounts count as staff.
2. **A shared password** in the environment variable ``TANDEM_ADMIN_PASSWORD``,
   compared in constant time (:func:`hmac.compare_digest`).

With neither, the staff area explains how to configure one and stays closed: it is
never open by default. :class:`SignInThrottle` slows down password guessing. This module holds the logic without Streamlit so that it is
tested directly; ``app.py`` reads the secrets and the session and calls it.
"""

from __future__ import annotations

import hmac
import os
import threading
import time
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

PASSWORD_VARIABLE = "TANDEM_ADMIN_PASSWORD"
STAFF_EMAILS_VARIABLE = "TANDEM_STAFF_EMAILS"

_OIDC_SHARED_KEYS = ("redirect_uri", "cookie_secret")
_OIDC_PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")


class SignInMethod(str, Enum):
    """How the staff area is protected."""

    OIDC = "oidc"
    PASSWORD = "password"
    NONE = "none"


def oidc_providers(auth: Mapping[str, Any] | None) -> tuple[str | None, ...]:
    """The usable OIDC providers of an ``[auth]`` secrets table.

    Returns ``(None,)`` for a single unnamed provider configured directly under
    ``[auth]`` (call ``st.login()``), provider names for ``[auth.<name>]`` tables
    (call ``st.login(name)``), and ``()`` when ``[auth]`` is missing or incomplete.
    """
    if not isinstance(auth, Mapping) or not all(auth.get(k) for k in _OIDC_SHARED_KEYS):
        return ()
    if all(auth.get(k) for k in _OIDC_PROVIDER_KEYS):
        return (None,)
    return tuple(
        name
        for name, table in auth.items()
        if isinstance(table, Mapping) and all(table.get(k) for k in _OIDC_PROVIDER_KEYS)
    )


def admin_password(environ: Mapping[str, str] | None = None) -> str | None:
    """The staff password from ``TANDEM_ADMIN_PASSWORD``, or ``None`` when unset or blank."""
    value = (os.environ if environ is None else environ).get(PASSWORD_VARIABLE, "")
    return value if value.strip() else None


def sign_in_method(auth: Mapping[str, Any] | None, environ: Mapping[str, str] | None = None) -> SignInMethod:
    """The sign-in method in force: OIDC when ``[auth]`` is complete, else the password, else none."""
    if oidc_providers(auth):
        return SignInMethod.OIDC
    if admin_password(environ) is not None:
        return SignInMethod.PASSWORD
    return SignInMethod.NONE


def check_password(given: str | None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``given`` equals the configured staff password, compared in constant time.

    Always ``False`` when no password is configured, so an empty configuration never
    opens the staff area.
    """
    expected = admin_password(environ)
    if expected is None or not given:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def is_staff_email(email: str | None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether an OIDC-signed-in account counts as staff.

    Every signed-in account does when ``TANDEM_STAFF_EMAILS`` is unset; otherwise only
    the listed addresses (case-insensitive).
    """
    listed = (os.environ if environ is None else environ).get(STAFF_EMAILS_VARIABLE, "")
    allowed = {e.strip().lower() for e in listed.split(",") if e.strip()}
    if not allowed:
        return True
    return bool(email) and email.strip().lower() in allowed


class SignInThrottle:
    """Slows down password guessing: after failures, a caller waits before the next try.

    After ``free`` failures from one source (an IP address), each further failure doubles
    the wait, from ``base`` seconds up to ``cap``; a success or ``window`` seconds without
    failures forgets the source. Kept per app process (``st.cache_resource``), which
    bounds a single guesser; a shared password should still be long.

    Parameters
    ----------
    clock
        A function returning seconds (``time.monotonic``); tests pass a fake one.
    """

    def __init__(self, *, free: int = 3, base: float = 2.0, cap: float = 300.0, window: float = 3600.0,
                 clock: Callable[[], float] | None = None) -> None:
        self.free, self.base, self.cap, self.window = free, base, cap, window
        self._clock = clock or time.monotonic
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[int, float]] = {}

    def wait_seconds(self, source: str) -> float:
        """Seconds ``source`` must still wait before its next attempt (0 when it may try now)."""
        with self._lock:
            count, last = self._failures.get(source, (0, 0.0))
            now = self._clock()
            if count <= self.free or now - last > self.window:
                return 0.0
            delay = min(self.base * 2 ** (count - self.free - 1), self.cap)
            return max(0.0, last + delay - now)

    def failed(self, source: str) -> None:
        """Record a failed attempt of ``source``."""
        with self._lock:
            count, last = self._failures.get(source, (0, 0.0))
            now = self._clock()
            self._failures[source] = (1 if now - last > self.window else count + 1, now)

    def succeeded(self, source: str) -> None:
        """Forget ``source``'s failures."""
        with self._lock:
            self._failures.pop(source, None)
