"""Staff sign-in: methods, roles, what each role may do, the client address and the password brake.

The staff area of the app is closed unless one of two sign-in methods is configured:

1. **OIDC** through Streamlit's ``st.login``: an ``[auth]`` table in Streamlit's
   secrets (``.streamlit/secrets.toml``) with ``redirect_uri``, ``cookie_secret`` and
   the provider's ``client_id``, ``client_secret`` and ``server_metadata_url``, either
   directly under ``[auth]`` or under a named provider (``[auth.microsoft]``). The
   account's e-mail address decides its role (:func:`role_for_email`):
   ``TANDEM_ADMIN_EMAILS``, ``TANDEM_ANALYST_EMAILS``, ``TANDEM_VIEWER_EMAILS``
   (comma-separated; ``TANDEM_STAFF_EMAILS`` is the older name of the admin list and
   still works). With none of the four lists set, every account the identity provider
   signs in is an admin, as before roles existed.
2. **One password per role**: ``TANDEM_ADMIN_PASSWORD``, ``TANDEM_ANALYST_PASSWORD``,
   ``TANDEM_VIEWER_PASSWORD``. The password entered decides the role
   (:func:`role_for_password`, constant-time comparisons against every configured
   password). Guessing is slowed by :class:`SignInBrake`, whose counts live in the
   database (table ``signin_failures``), so no client can reset them (clearing
   Streamlit's caches, a new session, a restart, another app process).

Roles (:class:`Role`) and actions (:func:`allowed`):

========== ==================================================================
admin      everything: ``manage_campaigns``, ``invite``, ``raw_export``, and all below
analyst    ``insight``, ``safe_export``, ``report``
viewer     ``insight``, ``report``
========== ==================================================================

**Unit managers** (:func:`access_for_email`): an OIDC account that is neither admin nor
analyst and whose address the organisation in force names as a manager of some units
(``Organisation.units_managed_by``) signs in as a viewer *scoped* to those units'
subtrees (:class:`Access`); leadership (admin and analyst) is never scoped. The scope
travels with every selection the session makes (``services.selection.Selection.scope``).

The client address (:func:`client_address`) trusts ``X-Forwarded-For`` only when the
direct peer is one of ``TANDEM_TRUSTED_PROXIES`` (addresses or CIDR networks). This
module holds the logic without Streamlit so that it is tested directly;
``views/signin.py`` reads the secrets, headers and session and calls it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from surveys.errors import TandemError

log = logging.getLogger("tandem.auth")

PASSWORD_VARIABLE = "TANDEM_ADMIN_PASSWORD"
STAFF_EMAILS_VARIABLE = "TANDEM_STAFF_EMAILS"
TRUSTED_PROXIES_VARIABLE = "TANDEM_TRUSTED_PROXIES"

_OIDC_SHARED_KEYS = ("redirect_uri", "cookie_secret")
_OIDC_PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")


class AuthConfigError(TandemError):
    """A sign-in setting that cannot be used as written."""


class SignInMethod(StrEnum):
    """How the staff area is protected."""

    OIDC = "oidc"
    PASSWORD = "password"
    NONE = "none"


class Role(StrEnum):
    """What a signed-in staff member is (see :func:`allowed`)."""

    ADMIN = "admin"
    ANALYST = "analyst"
    VIEWER = "viewer"


#: Most privileged first: when an account or a password fits several roles, the e-mail
#: lists give the most privileged (being listed as admin is explicit) and passwords
#: the least (two roles sharing a password is a mistake that must not grant more).
ROLE_ORDER = (Role.ADMIN, Role.ANALYST, Role.VIEWER)

PASSWORD_VARIABLES = {
    Role.ADMIN: "TANDEM_ADMIN_PASSWORD",
    Role.ANALYST: "TANDEM_ANALYST_PASSWORD",
    Role.VIEWER: "TANDEM_VIEWER_PASSWORD",
}
EMAIL_VARIABLES = {
    Role.ADMIN: ("TANDEM_ADMIN_EMAILS", STAFF_EMAILS_VARIABLE),
    Role.ANALYST: ("TANDEM_ANALYST_EMAILS",),
    Role.VIEWER: ("TANDEM_VIEWER_EMAILS",),
}

#: Every action the app asks about, with the words of the "your role may not ..." message.
ACTIONS = {
    "manage_campaigns": "create, open or close campaigns",
    "manage_organisation": "import the organisation",
    "invite": "generate invitation links",
    "raw_export": "download raw response data",
    "safe_export": "download exports",
    "insight": "see the insight pages",
    "report": "download the report",
}
PERMISSIONS: Mapping[Role, frozenset[str]] = {
    Role.ADMIN: frozenset(ACTIONS),
    Role.ANALYST: frozenset({"insight", "safe_export", "report"}),
    Role.VIEWER: frozenset({"insight", "report"}),
}


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


# --------------------------------------------------------------------------- methods


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


def role_passwords(environ: Mapping[str, str] | None = None) -> dict[Role, str]:
    """The configured password of each role (blank values count as unset)."""
    env = _env(environ)
    return {role: env[name] for role, name in PASSWORD_VARIABLES.items() if env.get(name, "").strip()}


def admin_password(environ: Mapping[str, str] | None = None) -> str | None:
    """The admin password from ``TANDEM_ADMIN_PASSWORD``, or ``None`` when unset or blank."""
    return role_passwords(environ).get(Role.ADMIN)


def sign_in_method(auth: Mapping[str, Any] | None, environ: Mapping[str, str] | None = None) -> SignInMethod:
    """The sign-in method in force: OIDC when ``[auth]`` is complete, else passwords when any is set, else none."""
    if oidc_providers(auth):
        return SignInMethod.OIDC
    if role_passwords(environ):
        return SignInMethod.PASSWORD
    return SignInMethod.NONE


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def role_for_password(given: str | None, environ: Mapping[str, str] | None = None) -> Role | None:
    """The role whose password ``given`` is, or ``None``.

    Compared in constant time against every configured password (SHA-256 digests
    through :func:`hmac.compare_digest`, so neither the length nor the position of a
    difference shows in the timing, and no comparison is skipped). When several roles
    share the password, the least privileged of them is returned and a warning is
    logged. Never a role when no password is configured or ``given`` is empty.
    """
    passwords = role_passwords(environ)
    if not passwords or not given:
        return None
    given_digest = _digest(given)
    matches = [role for role, expected in passwords.items() if hmac.compare_digest(given_digest, _digest(expected))]
    if len(matches) > 1:
        log.warning("roles %s share one password; signing in as the least privileged",
                    ", ".join(r.value for r in matches))
    return max(matches, key=ROLE_ORDER.index) if matches else None


def check_password(given: str | None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``given`` is the password of any role (see :func:`role_for_password`)."""
    return role_for_password(given, environ) is not None


def password_fingerprint(role: Role, environ: Mapping[str, str] | None = None) -> str | None:
    """A keyed digest of the role's current password, kept in a signed-in session.

    The session stays signed in only while it matches, so changing a role's password
    (and restarting) ends every session that signed in with the old one.
    """
    password = role_passwords(environ).get(role)
    if password is None:
        return None
    return hmac.new(b"tandem/session-password/v1", role.value.encode() + b"\x00" + _digest(password),
                    hashlib.sha256).hexdigest()


def _emails(value: str) -> set[str]:
    return {e.strip().lower() for e in value.split(",") if e.strip()}


def role_for_email(email: str | None, environ: Mapping[str, str] | None = None) -> Role | None:
    """The role of an OIDC-signed-in account, or ``None`` (not staff).

    The most privileged list naming the address (case-insensitive) wins. With none of
    ``TANDEM_ADMIN_EMAILS``, ``TANDEM_ANALYST_EMAILS``, ``TANDEM_VIEWER_EMAILS`` and
    ``TANDEM_STAFF_EMAILS`` (the admin list's older name) set, every signed-in account
    is a viewer: least privilege until the operator names the admins (anyone the
    identity provider signs in must not be able to take raw data or make invitations).
    """
    env = _env(environ)
    lists = {role: set().union(*(_emails(env.get(name, "")) for name in names))
             for role, names in EMAIL_VARIABLES.items()}
    address = (email or "").strip().lower()
    if not any(lists.values()):
        return Role.VIEWER if address else None
    return next((role for role in ROLE_ORDER if address and address in lists[role]), None)


#: Roles that see the whole organisation even when they also manage units.
LEADERSHIP = (Role.ADMIN, Role.ANALYST)


@dataclass(frozen=True)
class Access:
    """What a signed-in session may see: its role and, for a unit manager, its scope.

    Attributes
    ----------
    role
        The role (:func:`allowed` decides the actions).
    managed
        The units the account manages in the organisation in force (empty: not scoped).
    scope
        Every unit of those units' subtrees; ``None``: the whole organisation.
    """

    role: Role
    managed: tuple[str, ...] = ()
    scope: frozenset[str] | None = None


def access_for_email(email: str | None, org: Any, environ: Mapping[str, str] | None = None) -> Access | None:
    """The access of an OIDC-signed-in account, or ``None`` (neither staff nor a manager).

    Admins and analysts (:func:`role_for_email`) see everything. Any other address that
    ``org`` (the organisation in force, or ``None``) names as a manager of units gets the
    viewer role scoped to the subtrees of those units, even if it is also on the viewer
    list; other accounts get the role :func:`role_for_email` gives them, unscoped.
    """
    role = role_for_email(email, environ)
    if role in LEADERSHIP:
        return Access(role)
    managed = org.units_managed_by(email) if org is not None and (email or "").strip() else ()
    if managed:
        return Access(Role.VIEWER, tuple(managed), frozenset(u for unit in managed for u in org.subtree(unit)))
    return Access(role) if role is not None else None


def is_staff_email(email: str | None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether an OIDC-signed-in account has any staff role (:func:`role_for_email`)."""
    return role_for_email(email, environ) is not None


def allowed(role: Role | str | None, action: str) -> bool:
    """Whether ``role`` may do ``action`` (one of :data:`ACTIONS`); never for ``None``.

    An unknown action raises :class:`ValueError`, so a misspelt check fails loudly
    instead of quietly allowing or refusing.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; known actions: {', '.join(ACTIONS)}")
    if role is None:
        return False
    try:
        return action in PERMISSIONS[Role(role)]
    except ValueError:
        return False


# --------------------------------------------------------------------------- client address


class _Trust:
    """A set of addresses and networks (``"*"``: everything), as uvicorn reads FORWARDED_ALLOW_IPS."""

    def __init__(self, text: str, *, strict: bool, where: str) -> None:
        self.always = text.strip() == "*"
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        self.literals: set[str] = set()
        if self.always:
            return
        for item in (part.strip() for part in text.split(",")):
            if not item:
                continue
            try:
                self.networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                if strict:
                    raise AuthConfigError(f"'{item[:60]}' is not an IP address or network", where=where,
                                          fix="List addresses or CIDR networks, comma-separated "
                                              "(e.g. '127.0.0.1, 10.0.0.0/8').") from None
                self.literals.add(item)

    def __contains__(self, host: str | None) -> bool:
        if self.always:
            return True
        if not host:
            return False
        ip = _ip(host)
        if ip is None:
            return host in self.literals
        return any(ip.version == net.version and ip in net for net in self.networks)

    def within(self, other: _Trust) -> bool:
        """Whether everything this set trusts, ``other`` trusts too."""
        if other.always:
            return True
        if self.always or self.literals - other.literals:
            return False
        return all(any(net.version == o.version and net.subnet_of(o) for o in other.networks) for net in self.networks)


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(host.strip().strip("[]").split("%")[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return ip.ipv4_mapped
    return ip


def trusted_proxies(environ: Mapping[str, str] | None = None) -> _Trust:
    """``TANDEM_TRUSTED_PROXIES``: the direct peers whose ``X-Forwarded-For`` is believed (default none).

    Raises :class:`AuthConfigError` for an entry that is not an address or network.
    """
    return _Trust(_env(environ).get(TRUSTED_PROXIES_VARIABLE, ""), strict=True, where=TRUSTED_PROXIES_VARIABLE)


def server_rewrites(environ: Mapping[str, str] | None = None) -> _Trust:
    """The peers whose ``X-Forwarded-For`` the web server (uvicorn) itself already applied.

    Streamlit serves through uvicorn, which replaces the client address with the
    forwarded one when the peer is in ``FORWARDED_ALLOW_IPS`` (default ``127.0.0.1,::1``)
    before the app sees it; :func:`client_address` undoes that where we do not trust it.
    """
    return _Trust(_env(environ).get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1"), strict=False, where="FORWARDED_ALLOW_IPS")


def _forwarded(values: Iterable[str]) -> list[str]:
    """The hosts of ``X-Forwarded-For`` header values, in order, ports stripped as uvicorn does."""
    hosts = []
    for value in values:
        for item in str(value).split(","):
            item = item.strip()
            if item.startswith("[") and "]" in item:
                item = item[1:item.index("]")]
            elif item.count(":") == 1:
                item = item.rsplit(":", 1)[0]
            hosts.append(item)
    return hosts


def _first_untrusted(hosts: Sequence[str], trust: _Trust) -> str:
    """The client a chain of proxies reports: the right-most host not trusted (uvicorn's rule)."""
    if trust.always:
        return hosts[0]
    for host in reversed(hosts):
        if host not in trust:
            return host
    return hosts[0]


#: The key of every client whose address cannot be known because the web server took it
#: from an ``X-Forwarded-For`` we do not trust: they share one brake.
UNTRUSTED_FORWARDER = "untrusted-forwarder"
_LOOPBACK = ("127.0.0.1", "::1")


def client_address(peer: str | None, forwarded_for: Iterable[str] = (), *,
                   environ: Mapping[str, str] | None = None) -> str:
    """The address a sign-in attempt is counted against.

    ``peer`` is the address the app was given for the connection
    (``st.context.ip_address``: ``None`` for a local client), ``forwarded_for`` the
    ``X-Forwarded-For`` values of the connection's request. A forwarded address is used
    only when the direct peer is in ``TANDEM_TRUSTED_PROXIES``: then the right-most
    address not in that list (what the nearest trusted proxy saw). If the web server
    already replaced the peer with a forwarded address that we do not trust (uvicorn
    trusts local peers by default), the real peer is unknown and the attempt counts
    against :data:`UNTRUSTED_FORWARDER`, which all such clients share, so inventing
    ``X-Forwarded-For`` values never buys fresh attempts. IPv6 addresses are counted
    per /64 network (one subscriber's prefix), IPv4-mapped IPv6 as IPv4.
    """
    ours, servers = trusted_proxies(environ), server_rewrites(environ)
    hosts = _forwarded(forwarded_for)
    if hosts:
        server_choice = _first_untrusted(hosts, servers)
        rewritten = server_choice == peer or (peer is None and _ip(server_choice) is not None
                                              and _ip(server_choice).is_loopback)
        if rewritten:  # the peer we were given may be a forwarded value; the real one was in `servers`
            return _normal(_first_untrusted(hosts, ours)) if servers.within(ours) else UNTRUSTED_FORWARDER
    direct = peer if peer else _LOOPBACK[0]
    if hosts and direct in ours:
        return _normal(_first_untrusted(hosts, ours))
    return _normal(direct)


def _normal(host: str) -> str:
    ip = _ip(host)
    if ip is None:
        return "not-an-address"
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(ip)


def source_key(address: str) -> str:
    """What the brake stores for an address: HMAC-SHA256 under a fixed label (hex).

    A pseudonym, not a secret: IPv4 addresses are few enough to be tried one by one, so
    rows are deleted an hour after the last failure (:class:`SignInBrake`).
    """
    return hmac.new(b"tandem/signin-source/v1", address.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------- the brake


@dataclass(frozen=True)
class BrakePolicy:
    """``free`` failures pass; then the wait before each next attempt doubles from ``base`` to ``cap``.

    After ``window`` seconds without a failure the count starts again. With the
    defaults: three wrong passwords, then 2 s, 4 s, 8 s ... up to 5 minutes.
    """

    free: int = 3
    base: float = 2.0
    cap: float = 300.0
    window: float = 3600.0

    def delay(self, failures: int) -> float:
        """Seconds after the last failure before the next attempt, having had ``failures``."""
        if failures < self.free:
            return 0.0
        return float(min(self.base * 2 ** min(failures - self.free, 60), self.cap))


class SignInBrake:
    """The password brake, kept in the database (table ``signin_failures``).

    Every app process and session of one database shares the counts, which no client
    can clear. :meth:`attempt` is atomic: it either refuses (returns the seconds to
    wait, records nothing and the password is not checked) or counts the attempt as
    a failure *before* the password is checked; :meth:`succeeded` then forgets the
    source. So simultaneous attempts from several sessions or processes cannot slip
    through one free slot together, and an attempt interrupted half-way still counts.
    Rows older than the policy's window are deleted on every attempt.

    Parameters
    ----------
    store
        A :class:`surveys.store.Store`.
    clock
        Returns the current time (timezone-aware); tests pass a fake one.
    """

    def __init__(self, store: Any, policy: BrakePolicy | None = None,
                 clock: Callable[[], dt.datetime] | None = None) -> None:
        from surveys import store as db

        self.store, self.policy = store, policy or BrakePolicy()
        self._clock = clock or db.utcnow

    def _now(self) -> dt.datetime:
        from surveys import store as db

        return db.as_utc(self._clock())

    def _state(self, conn: Any, key: str, now: dt.datetime, *, lock: bool) -> tuple[int, dt.datetime | None]:
        from surveys import store as db

        f = db.signin_failures
        query = sa.select(f.c.failures, f.c.last_at).where(f.c.source == key)
        row = conn.execute(query.with_for_update() if lock else query).first()
        if row is None:
            return 0, None
        last = db.as_utc(row.last_at)
        if (now - last).total_seconds() > self.policy.window:
            return 0, last
        return int(row.failures), last

    def _wait(self, failures: int, last: dt.datetime | None, now: dt.datetime) -> float:
        if last is None:
            return 0.0
        return max(0.0, self.policy.delay(failures) - (now - last).total_seconds())

    def wait_seconds(self, source: str) -> float:
        """Seconds ``source`` (an address, :func:`client_address`) must wait before its next attempt."""
        now, key = self._now(), source_key(source)
        failures, last = self.store.run(lambda conn: self._state(conn, key, now, lock=False), write=False)
        return self._wait(failures, last, now)

    def attempt(self, source: str) -> float:
        """Begin an attempt: ``0`` means go ahead (counted as failed until :meth:`succeeded`), else seconds to wait."""
        from surveys import store as db

        f, key = db.signin_failures, source_key(source)

        def tx(conn: Any) -> float:
            now = self._now()
            conn.execute(f.delete().where(f.c.last_at < now - dt.timedelta(seconds=self.policy.window),
                                          f.c.source != key))
            failures, last = self._state(conn, key, now, lock=True)
            wait = self._wait(failures, last, now)
            if wait > 0:
                return wait
            if last is None:
                conn.execute(f.insert().values(source=key, failures=1, first_at=now, last_at=now))
            elif failures == 0:  # a quiet window ago: start again
                conn.execute(f.update().where(f.c.source == key).values(failures=1, first_at=now, last_at=now))
            else:
                conn.execute(f.update().where(f.c.source == key).values(failures=failures + 1, last_at=now))
            return 0.0

        return self.store.run(tx)

    def succeeded(self, source: str) -> None:
        """The password was right: forget ``source``'s failures."""
        from surveys import store as db

        f, key = db.signin_failures, source_key(source)
        self.store.run(lambda conn: conn.execute(f.delete().where(f.c.source == key)))
