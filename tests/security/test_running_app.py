"""Against the real app (``streamlit run app.py`` on a free port): the sign-in brake survives
Streamlit's ``clear_cache`` message sent over the real websocket, and the invitation CSV
stops being served from ``/media/...`` soon after it was downloaded.

Chromium (Debian's, through Playwright) plays the staff member; a second client speaks
Streamlit's own protocol over ``/_stcore/stream`` with the ``websockets`` package.
Marked ``browser``: skipped without Chromium unless ``TANDEM_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))

from app_support import ROOT, invite, seed_campaign
from browser_support import launched_chromium, need_browser, running_app

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

PASSWORD = "brake-e2e-right-password"
PORTS = range(8631, 8640)
#: The /_stcore/metrics line of the store kept in st.cache_resource (views.gateway).
CACHED_STORE = 'cache_memory_bytes{cache_type="st_cache_resource",cache="views.gateway._store"}'


@pytest.fixture
def server(tmp_path):
    need_browser()
    db_url = f"sqlite:///{tmp_path / 'running.db'}"
    with running_app(db_url, tmp_path / "streamlit.log", password=PASSWORD, ports=PORTS) as url:
        yield url, db_url


def _idle(page) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.locator("[data-test-script-state='running']").wait_for(timeout=1_500)
    except PlaywrightTimeout:
        pass
    page.locator("[data-test-script-state='notRunning']").wait_for(timeout=30_000)


def _guess(page, password: str) -> str:
    """Type a password into the sign-in form, send it, and return the message shown."""
    field = page.get_by_label("Staff password")
    field.fill(password)
    page.get_by_role("button", name="Sign in").click()
    _idle(page)
    alert = page.locator("[data-testid='stAlert']")
    alert.first.wait_for(timeout=30_000)
    return alert.first.inner_text()


def _metrics(url: str) -> str:
    with urllib.request.urlopen(f"{url}/_stcore/metrics", timeout=10) as response:
        return response.read().decode()


def _send_clear_cache(url: str) -> None:
    """Open a session over the real websocket and send BackMsg(clear_cache=True), as any client can."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from websockets.sync.client import connect

    ws_url = url.replace("http://", "ws://") + "/_stcore/stream"
    with connect(ws_url, subprotocols=["streamlit"], open_timeout=20, origin=url) as ws:
        ws.send(BackMsg(clear_cache=True).SerializeToString())
        try:  # give the server time to handle it (it may answer with forward messages, or nothing)
            ws.recv(timeout=3)
        except TimeoutError:
            pass
        time.sleep(1)


def test_clear_cache_over_the_websocket_does_not_reset_the_brake(server):
    url, _ = server
    with launched_chromium() as browser:
        page = browser.new_page()
        page.goto(url)
        page.get_by_label("Staff password").wait_for(timeout=60_000)
        for n in range(3):  # the three documented free attempts
            assert "That password is not right" in _guess(page, f"wrong-{n}")
        assert "Too many wrong passwords" in _guess(page, "wrong-too-soon")  # the fourth waits (2 s)
        for n, wait in enumerate((2, 4, 8, 16)):  # wait out each doubling wait, fail again: 7 failures, then 32 s
            time.sleep(wait + 0.3)
            assert "That password is not right" in _guess(page, f"wrong-{3 + n}")
        last_failure = time.monotonic()
        assert CACHED_STORE in _metrics(url)  # the store sits in st.cache_resource (as the old brake did)
        _send_clear_cache(url)
        deadline = time.monotonic() + 20  # the metrics of cache sizes are recomputed every 5 s
        while CACHED_STORE in _metrics(url) and time.monotonic() < deadline:
            time.sleep(1)
        assert CACHED_STORE not in _metrics(url)  # proof that the server really emptied its caches

        page.goto(url)  # a new session, after the cache clear
        page.get_by_label("Staff password").wait_for(timeout=60_000)
        shown = _guess(page, PASSWORD)  # even the right password waits now (documented)
        assert time.monotonic() - last_failure < 32, "too slow to show the brake: raise the number of failures"
        assert "Too many wrong passwords" in shown
        assert page.get_by_role("heading", name="Campaigns").count() == 0

        metrics = _metrics(url)
        assert PASSWORD not in metrics and "wrong-0" not in metrics  # counters only



def test_the_invitation_csv_is_gone_from_media_after_the_download(server, monkeypatch):
    url, db_url = server
    campaign = seed_campaign(db_url, ROOT / "instruments" / "employee_experience.yaml", campaign_id="media-test")
    invite(db_url, campaign.id, unit=campaign.instrument.units[0].id, count=1)  # an invited campaign with links
    with launched_chromium() as browser:
        context = browser.new_context(accept_downloads=True)
        page = context.new_page()
        page.goto(url)
        page.get_by_label("Staff password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Campaigns").wait_for(timeout=60_000)
        _idle(page)
        page.get_by_role("button", name="Generate links").click()
        _idle(page)
        button = page.get_by_role("button", name="Download links (CSV for mail merge)")
        button.wait_for(timeout=30_000)
        with page.expect_download(timeout=30_000) as info:
            button.click()
        download = info.value
        media_url = download.url
        content = Path(download.path()).read_text()
        assert "/media/" in media_url and f"?c={campaign.id}&t=" in content
        with urllib.request.urlopen(media_url, timeout=10) as response:  # no session needed while it exists:
            assert response.status == 200  # the short window the removal below closes
        context.close()  # the staff session ends
    time.sleep(15 + 5)  # views.staff_campaigns.DOWNLOAD_LIFETIME_SECONDS, and a margin
    with pytest.raises(urllib.error.HTTPError) as gone:
        urllib.request.urlopen(media_url, timeout=10)
    assert gone.value.code == 404
