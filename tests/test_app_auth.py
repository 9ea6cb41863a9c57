"""Staff sign-in logic (surveys.auth): method detection and the constant-time password check."""

from __future__ import annotations

import pytest

from surveys import auth

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


def test_throttle_doubles_the_wait_after_the_free_failures_and_forgets_on_success():
    now = [1000.0]
    throttle = auth.SignInThrottle(free=2, base=2, cap=10, window=600, clock=lambda: now[0])
    for _ in range(2):
        throttle.failed("1.2.3.4")
        assert throttle.wait_seconds("1.2.3.4") == 0
    waits = []
    for _ in range(4):
        throttle.failed("1.2.3.4")
        waits.append(throttle.wait_seconds("1.2.3.4"))
    assert waits == [2, 4, 8, 10]  # doubling, capped
    assert throttle.wait_seconds("5.6.7.8") == 0  # other sources are not slowed
    now[0] += 10
    assert throttle.wait_seconds("1.2.3.4") == 0
    throttle.succeeded("1.2.3.4")
    throttle.failed("1.2.3.4")
    assert throttle.wait_seconds("1.2.3.4") == 0
    now[0] += 601  # a quiet hour starts the count again
    throttle.failed("1.2.3.4")
    throttle.failed("1.2.3.4")
    assert throttle.wait_seconds("1.2.3.4") == 0
