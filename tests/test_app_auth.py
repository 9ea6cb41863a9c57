"""Staff sign-in (surveys.auth, views.signin): methods, roles, the client address, the brake, and
what each role reaches in app.py (AppTest)."""

from __future__ import annotations

import datetime as dt

import pytest
from app_support import ROOT, app, goto, texts

from surveys import auth
from surveys.auth import Role

OIDC = {
    "redirect_uri": "https://tandem.example.org/oauth2callback",
    "cookie_secret": "s3cret-cookie",
    "client_id": "tandem",
    "client_secret": "xyz",
    "server_metadata_url": "https://login.example.org/.well-known/openid-configuration",
}


def test_oidc_configured_directly_under_auth():
    assert auth.oidc_providers(OIDC) == (None,)
    assert auth.sign_in_method(OIDC, {}) is auth.SignInMethod.OIDC


def test_oidc_named_provider():
    shared = {k: OIDC[k] for k in ("redirect_uri", "cookie_secret")}
    provider = {k: OIDC[k] for k in ("client_id", "client_secret", "server_metadata_url")}
    assert auth.oidc_providers({**shared, "microsoft": provider}) == ("microsoft",)


@pytest.mark.parametrize("missing", ["redirect_uri", "cookie_secret", "client_id", "server_metadata_url"])
def test_incomplete_oidc_is_not_oidc(missing):
    partial = {k: v for k, v in OIDC.items() if k != missing}
    assert auth.oidc_providers(partial) == ()
    assert auth.sign_in_method(partial, {auth.PASSWORD_VARIABLE: "pw"}) is auth.SignInMethod.PASSWORD


def test_no_configuration_means_closed():
    assert auth.sign_in_method(None, {}) is auth.SignInMethod.NONE
    assert auth.sign_in_method(None, {auth.PASSWORD_VARIABLE: "   "}) is auth.SignInMethod.NONE
    assert not auth.check_password("", {})
    assert not auth.check_password("anything", {})


def test_password_check():
    env = {auth.PASSWORD_VARIABLE: "correct horse ß"}
    assert auth.check_password("correct horse ß", env)
    assert not auth.check_password("correct horse", env)
    assert not auth.check_password("Correct horse ß", env)
    assert not auth.check_password(None, env)
    assert not auth.check_password("", env)


def test_staff_email_allow_list():
    assert auth.is_staff_email("a@x.org", {})
    env = {auth.STAFF_EMAILS_VARIABLE: "HR@x.org, cx@x.org"}
    assert auth.is_staff_email("hr@X.org", env)
    assert not auth.is_staff_email("someone@x.org", env)
    assert not auth.is_staff_email(None, env)




# --------------------------------------------------------------------------- roles


def test_roles_and_actions():
    assert [r.value for r in Role] == ["admin", "analyst", "viewer"]
    admin = {a for a in auth.ACTIONS if auth.allowed(Role.ADMIN, a)}
    analyst = {a for a in auth.ACTIONS if auth.allowed(Role.ANALYST, a)}
    viewer = {a for a in auth.ACTIONS if auth.allowed("viewer", a)}
    assert admin == {"manage_campaigns", "manage_organisation", "invite", "raw_export", "safe_export", "insight",
                     "report"}
    assert analyst == {"insight", "safe_export", "report"}
    assert viewer == {"insight", "report"}
    assert not any(auth.allowed(None, a) for a in auth.ACTIONS)
    assert not auth.allowed("root", "insight")
    with pytest.raises(ValueError, match="unknown action"):
        auth.allowed(Role.ADMIN, "raw_exprot")


def test_each_role_has_its_own_password():
    env = {"TANDEM_ADMIN_PASSWORD": "admin secret", "TANDEM_ANALYST_PASSWORD": "analyst secret",
           "TANDEM_VIEWER_PASSWORD": "viewer secret"}
    assert auth.role_for_password("admin secret", env) is Role.ADMIN
    assert auth.role_for_password("analyst secret", env) is Role.ANALYST
    assert auth.role_for_password("viewer secret", env) is Role.VIEWER
    assert auth.role_for_password("viewer secre", env) is None
    assert auth.role_for_password("", env) is None and auth.role_for_password(None, env) is None
    only_viewer = {"TANDEM_VIEWER_PASSWORD": "v"}
    assert auth.sign_in_method(None, only_viewer) is auth.SignInMethod.PASSWORD
    assert auth.role_for_password("v", only_viewer) is Role.VIEWER
    shared = {"TANDEM_ADMIN_PASSWORD": "same", "TANDEM_VIEWER_PASSWORD": "same"}
    assert auth.role_for_password("same", shared) is Role.VIEWER  # a shared password never grants more


def test_password_comparison_is_constant_time_over_every_role(monkeypatch):
    """Every configured password is compared with hmac.compare_digest on equal-length digests, none skipped."""
    calls = []
    real = auth.hmac.compare_digest

    def spy(a, b):
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    env = {"TANDEM_ADMIN_PASSWORD": "a" * 40, "TANDEM_ANALYST_PASSWORD": "b", "TANDEM_VIEWER_PASSWORD": "c" * 7}
    assert auth.role_for_password("a" * 40, env) is Role.ADMIN
    assert calls == [(32, 32)] * 3


def test_role_for_email_lists_and_the_staff_emails_alias():
    assert auth.role_for_email("anyone@x.org", {}) is Role.VIEWER  # no list: every signed-in account, least privilege
    assert auth.role_for_email(None, {}) is None
    env = {"TANDEM_ADMIN_EMAILS": "boss@x.org", "TANDEM_ANALYST_EMAILS": "ana@x.org, Both@x.org",
           "TANDEM_VIEWER_EMAILS": "vic@x.org,both@x.org"}
    assert auth.role_for_email("BOSS@x.org ", env) is Role.ADMIN
    assert auth.role_for_email("ana@x.org", env) is Role.ANALYST
    assert auth.role_for_email("vic@x.org", env) is Role.VIEWER
    assert auth.role_for_email("both@x.org", env) is Role.ANALYST  # the most privileged list naming it
    assert auth.role_for_email("someone@x.org", env) is None
    legacy = {"TANDEM_STAFF_EMAILS": "hr@x.org"}  # the older name of the admin list
    assert auth.role_for_email("hr@x.org", legacy) is Role.ADMIN and auth.role_for_email("x@x.org", legacy) is None
    assert auth.role_for_email("v@x.org", {"TANDEM_VIEWER_EMAILS": "v@x.org"}) is Role.VIEWER


# --------------------------------------------------------------------------- client address


@pytest.mark.parametrize(("peer", "forwarded", "env", "expected"), [
    ("203.0.113.9", [], {}, "203.0.113.9"),
    (None, [], {}, "127.0.0.1"),  # a local client (st.context.ip_address hides loopback as None)
    # a remote client's own X-Forwarded-For is ignored: its peer is not a trusted proxy
    ("203.0.113.9", ["198.51.100.1"], {}, "203.0.113.9"),
    # a local client whose invented X-Forwarded-For uvicorn applied: all such share one key
    ("198.51.100.1", ["198.51.100.1"], {}, auth.UNTRUSTED_FORWARDER),
    ("198.51.100.2", ["10.9.9.9, 198.51.100.2"], {}, auth.UNTRUSTED_FORWARDER),
    # a reverse proxy on this host, trusted: the address it appended (the right-most untrusted one)
    ("198.51.100.1", ["6.6.6.6, 198.51.100.1"], {"TANDEM_TRUSTED_PROXIES": "127.0.0.1,::1"}, "198.51.100.1"),
    # a reverse proxy elsewhere, trusted by network
    ("10.0.0.5", ["6.6.6.6, 192.0.2.7"], {"TANDEM_TRUSTED_PROXIES": "10.0.0.0/8"}, "192.0.2.7"),
    ("10.0.0.5", ["192.0.2.7, 10.0.0.4"], {"TANDEM_TRUSTED_PROXIES": "10.0.0.0/8"}, "192.0.2.7"),
    # ... but not a proxy outside the list
    ("10.0.0.5", ["192.0.2.7"], {"TANDEM_TRUSTED_PROXIES": "10.1.0.0/16"}, "10.0.0.5"),
    # uvicorn told not to apply X-Forwarded-For; the local proxy is trusted by us
    (None, ["192.0.2.7"], {"FORWARDED_ALLOW_IPS": "", "TANDEM_TRUSTED_PROXIES": "127.0.0.1"}, "192.0.2.7"),
    (None, ["192.0.2.7"], {"FORWARDED_ALLOW_IPS": ""}, "127.0.0.1"),
    ("2001:db8:1:2:aaaa::1", [], {}, "2001:db8:1:2::/64"),  # one IPv6 subscriber prefix, one count
    ("::ffff:192.0.2.1", [], {}, "192.0.2.1"),
])
def test_client_address_trusts_forwarding_only_from_trusted_proxies(peer, forwarded, env, expected):
    assert auth.client_address(peer, forwarded, environ=env) == expected


def test_invented_forwarded_addresses_share_one_brake_key():
    keys = {auth.client_address(f"198.51.100.{i}", [f"198.51.100.{i}"], environ={}) for i in range(50)}
    assert keys == {auth.UNTRUSTED_FORWARDER}


def test_a_bad_trusted_proxies_setting_says_how_to_fix_it():
    with pytest.raises(auth.AuthConfigError, match="not an IP address or network"):
        auth.client_address("1.2.3.4", [], environ={"TANDEM_TRUSTED_PROXIES": "proxy.local"})


# --------------------------------------------------------------------------- the brake


class FakeClock:
    def __init__(self):
        self.now = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += dt.timedelta(seconds=seconds)


def test_brake_policy_three_free_then_doubling_up_to_the_cap():
    policy = auth.BrakePolicy()
    assert [policy.delay(n) for n in range(10)] == [0, 0, 0, 2, 4, 8, 16, 32, 64, 128]
    assert policy.delay(12) == 300 and policy.delay(10_000) == 300


def test_brake_with_a_fake_clock(sqlite_store):
    clock = FakeClock()
    brake = auth.SignInBrake(sqlite_store, clock=clock)
    for _ in range(3):  # three free attempts
        assert brake.attempt("1.2.3.4") == 0
    assert brake.attempt("1.2.3.4") == 2  # the fourth waits 2 s, and is not counted
    assert brake.wait_seconds("1.2.3.4") == 2
    assert brake.attempt("5.6.7.8") == 0  # another address is not slowed
    clock.advance(1)
    assert brake.attempt("1.2.3.4") == 1
    clock.advance(1)
    assert brake.attempt("1.2.3.4") == 0  # the 4th failure
    assert brake.attempt("1.2.3.4") == 4
    clock.advance(4)
    assert brake.attempt("1.2.3.4") == 0
    assert brake.attempt("1.2.3.4") == 8  # doubling
    brake.succeeded("1.2.3.4")  # the right password forgets the address
    assert brake.attempt("1.2.3.4") == 0
    for _ in range(2):
        assert brake.attempt("1.2.3.4") == 0
    assert brake.attempt("1.2.3.4") == 2
    clock.advance(3601)  # a quiet hour starts the count again
    for _ in range(3):
        assert brake.attempt("1.2.3.4") == 0
    assert brake.attempt("1.2.3.4") == 2


def test_brake_prunes_old_rows_and_keeps_only_a_keyed_hash_of_the_address(sqlite_store):
    import sqlalchemy as sa

    from surveys import store as db

    clock = FakeClock()
    brake = auth.SignInBrake(sqlite_store, clock=clock)
    brake.attempt("192.0.2.44")
    clock.advance(3700)
    brake.attempt("198.51.100.7")
    with sqlite_store.read() as conn:
        rows = conn.execute(sa.select(db.signin_failures)).all()
    assert [r.source for r in rows] == [auth.source_key("198.51.100.7")]
    assert "198.51.100.7" not in str(rows)


def test_the_brake_holds_across_two_store_objects_on_one_database(any_store_url):
    """Two app processes (two Store objects) share one count: no process has fresh attempts."""
    from surveys import store as db

    first, second = db.open_store(any_store_url), db.open_store(any_store_url)
    try:
        clock = FakeClock()
        one, two = auth.SignInBrake(first, clock=clock), auth.SignInBrake(second, clock=clock)
        assert one.attempt("203.0.113.5") == 0
        assert two.attempt("203.0.113.5") == 0
        assert one.attempt("203.0.113.5") == 0
        assert two.attempt("203.0.113.5") == 2
        assert one.attempt("203.0.113.5") == 2
        second.dispose()
        third = db.open_store(any_store_url)  # a restart
        assert auth.SignInBrake(third, clock=clock).attempt("203.0.113.5") == 2
        third.dispose()
    finally:
        first.dispose()
        second.dispose()


def test_simultaneous_attempts_cannot_share_a_free_slot(any_store):
    """Eight attempts at once from one address: exactly three go ahead."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    clock = FakeClock()
    brake = auth.SignInBrake(any_store, clock=clock)
    barrier = threading.Barrier(8)

    def one(_):
        barrier.wait()
        return brake.attempt("203.0.113.77")

    with ThreadPoolExecutor(8) as pool:
        waits = list(pool.map(one, range(8)))
    assert sorted(waits) == [0, 0, 0, 2, 2, 2, 2, 2]


# --------------------------------------------------------------------------- roles in the app (AppTest)

PASSWORDS = {"TANDEM_ADMIN_PASSWORD": "admin-pass-1", "TANDEM_ANALYST_PASSWORD": "analyst-pass-2",
             "TANDEM_VIEWER_PASSWORD": "viewer-pass-3"}


@pytest.fixture
def roles_env(tmp_path, monkeypatch):
    monkeypatch.setenv("TANDEM_DATABASE_URL", f"sqlite:///{tmp_path / 'roles.db'}")
    for name, value in PASSWORDS.items():
        monkeypatch.setenv(name, value)
    return PASSWORDS


def sign_in(password):
    at = app()
    at.text_input(key="staff:password").input(password)
    at.button[0].click().run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def registered(at) -> set[str]:
    """The titles of the pages st.navigation registered in the session (AppTest keeps them)."""
    return {info.get("page_name") for info in at._registered_pages.values()}


def test_each_role_signs_in_with_its_password(roles_env):
    admin = sign_in(roles_env["TANDEM_ADMIN_PASSWORD"])
    assert [t.value for t in admin.title] == ["Campaigns"]
    assert {"Campaigns", "Responses", "Overview", "Sign out"} <= registered(admin)
    for role in ("ANALYST", "VIEWER"):
        at = sign_in(roles_env[f"TANDEM_{role}_PASSWORD"])
        assert "Tandem staff area" not in [t.value for t in at.title]  # signed in: on the first insight page
        assert "Campaigns" not in [t.value for t in at.title]
        assert {"Overview", "Comments", "Sign out"} <= registered(at)
        assert "Campaigns" not in registered(at)
        # the Responses page checks roles itself (CHECKS_ROLES): analysts get it for the safe exports
        assert ("Responses" in registered(at)) == (role == "ANALYST")
    wrong = app()
    wrong.text_input(key="staff:password").input("not-a-password")
    wrong.button[0].click().run()
    assert "That password is not right." in texts(wrong)


@pytest.mark.parametrize("role", ["ANALYST", "VIEWER"])
def test_analysts_and_viewers_never_reach_the_campaigns_page(roles_env, role):
    at = sign_in(roles_env[f"TANDEM_{role}_PASSWORD"])
    assert "Campaigns" not in registered(at) and "Overview" in registered(at)
    goto(at, "campaigns")  # not registered for this role: the navigation falls back to its default page
    assert not at.exception, [e.message for e in at.exception]
    shown = texts(at)
    assert "Campaigns" not in [t.value for t in at.title]
    assert "Generate links" not in shown and "Create campaign" not in shown and "Open now" not in shown


def test_the_campaigns_page_run_directly_as_a_viewer_stops_with_the_message(roles_env):
    from streamlit.testing.v1 import AppTest

    def campaigns_page():
        from views import staff_campaigns

        staff_campaigns.render()

    for role, allowed in ((Role.VIEWER, False), (Role.ANALYST, False), (Role.ADMIN, True)):
        at = AppTest.from_function(campaigns_page, default_timeout=60)
        at.session_state["staff:role"] = role.value
        at.session_state["staff:password_fingerprint"] = auth.password_fingerprint(role)
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        shown = texts(at)
        if allowed:
            assert [t.value for t in at.title] == ["Campaigns"]
        else:
            assert f"Your role ({role.value}) may not create, open or close campaigns" in shown
            assert not at.title and not at.button and not at.dataframe


def test_a_session_ends_when_its_password_changes(roles_env, monkeypatch):
    at = sign_in(roles_env["TANDEM_ADMIN_PASSWORD"])
    assert [t.value for t in at.title] == ["Campaigns"]
    monkeypatch.setenv("TANDEM_ADMIN_PASSWORD", "a-new-admin-password")
    at.run()
    assert [t.value for t in at.title] == ["Tandem staff area"]


def test_a_forged_role_in_the_session_is_not_a_sign_in(roles_env):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["staff:role"] = "admin"  # without the fingerprint of the admin password
    at.run()
    assert [t.value for t in at.title] == ["Tandem staff area"]
