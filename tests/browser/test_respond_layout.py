"""The respondent's page in a real browser (Debian's Chromium) at a phone's and a laptop's
width, in English and German (issue 14): every option of a likert, rating or matrix
scale sits on one row (their boxes share a top within a few pixels), the document's
language and the tab's title are the respondent's, and Back/Next come after the content.

Screenshots of the first scale page go to ``test-artifacts/respond_<width>_<lang>.png``
(with ``TANDEM_SCREENSHOTS=1``: to ``docs/screenshots/``, to refresh the documentation).
Skips when ``/usr/bin/chromium`` is missing, unless ``TANDEM_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import os
import re

import pytest
from app_support import ROOT, seed_invited_campaign
from browser_support import launched_chromium, need_browser, running_app
from test_e2e_survey import _MOVED, _click, _css_key, _fill_visible, _idle

pytestmark = pytest.mark.browser

SHOTS = ROOT / ("docs/screenshots" if os.environ.get("TANDEM_SCREENSHOTS") == "1" else "test-artifacts")
EMPLOYEE = ROOT / "instruments" / "employee_experience.yaml"
CUSTOMER = ROOT / "instruments" / "customer_experience.yaml"
PORTS = range(8641, 8650)
NEXT = {"en": "Next", "de": "Weiter"}
PAGE_OF = {"en": r"^Page \d+ of \d+$", "de": r"^Seite \d+ von \d+$"}

#: Per horizontal radio group (a scale): the top of each option's box, and the group's label.
SCALES = """() => [...document.querySelectorAll("[data-testid='stRadioGroup'][aria-orientation='horizontal']")]
    .map(g => ({label: g.getAttribute('aria-label'),
                tops: [...g.querySelectorAll("label[data-testid='stRadioOption']")]
                      .map(o => o.getBoundingClientRect().top),
                rights: [...g.querySelectorAll("label[data-testid='stRadioOption']")]
                      .map(o => o.getBoundingClientRect().right)}))"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    need_browser()
    tmp = tmp_path_factory.mktemp("layout")
    db_url = f"sqlite:///{tmp / 'layout.db'}"
    with running_app(db_url, tmp / "streamlit.log", password="layout-secret", ports=PORTS) as url:
        yield url, db_url


def _first_scale_page(page, url, instrument, campaign, token, language):
    """Open the link, agree, answer until a page with a scale shows; returns that page's number."""
    page.goto(f"{url}/?c={campaign}&t={token}&lang={language}")
    page.get_by_role("progressbar").wait_for(timeout=30_000)
    _idle(page)
    consent = page.locator(f".{_css_key(f'consent:{campaign}')} label")
    forward = page.get_by_role("button", name=NEXT[language], exact=True)
    if consent.count():
        _click(page, consent)
        _idle(page)
        _go_on(page, forward)
    done: set[str] = set()
    for _ in range(10):
        if page.evaluate(SCALES):
            return
        while _fill_visible(page, instrument, campaign, done):
            pass
        _go_on(page, forward)
    pytest.fail("no page with a scale")


def _go_on(page, forward) -> None:
    """Click Next and wait until the next step shows (the progress moved or a message came)."""
    before = page.get_by_role("progressbar").get_attribute("aria-valuenow")
    _click(page, forward)
    page.wait_for_function(_MOVED, arg=before, timeout=30_000)
    _idle(page)
    page.get_by_role("button", name=NEXT["en"], exact=True).or_(
        page.get_by_role("button", name=NEXT["de"], exact=True)).first.wait_for(timeout=30_000)


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("language", ["en", "de"])
def test_scales_sit_on_one_row_and_the_document_speaks_the_respondents_language(server, width, language):
    from surveys.loader import load_instrument

    url, db_url = server
    for path, shot in ((EMPLOYEE, f"respond_{width}_{language}.png"), (CUSTOMER, None)):
        instrument = load_instrument(path)
        campaign, (token,) = seed_invited_campaign(db_url, path, count=1,
                                                   campaign_id=f"{path.stem[:8]}-{width}-{language}")
        with launched_chromium() as browser:
            page = browser.new_page(viewport={"width": width, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
            _first_scale_page(page, url, instrument, campaign, token, language)
            scales = page.evaluate(SCALES)
            assert scales
            for scale in scales:
                tops = scale["tops"]
                assert len(tops) >= 5 and max(tops) - min(tops) <= 4, (width, language, scale)
                assert max(scale["rights"]) <= width, (width, language, scale)  # nothing runs off the screen
            assert page.evaluate("document.documentElement.lang") == language
            title = instrument.text(instrument.title, language)
            page.wait_for_function("t => document.title === t", arg=title, timeout=10_000)
            assert page.get_by_text(re.compile(PAGE_OF[language])).count() == 1
            # Back and Next: one row, below every question, Next at the right
            nav = page.locator(".st-key-nav").bounding_box()
            last_scale = page.locator("[data-testid='stRadioGroup']").last.bounding_box()
            assert nav["y"] > last_scale["y"] + last_scale["height"]
            back = page.locator(f".{_css_key('nav:back')} button").bounding_box()
            nxt = page.locator(f".{_css_key('nav:next')} button").bounding_box()
            assert abs(back["y"] - nxt["y"]) <= 2 and nxt["x"] > back["x"]
            if shot:
                SHOTS.mkdir(exist_ok=True)
                page.screenshot(path=str(SHOTS / shot), full_page=False)
            assert not errors, errors


def test_an_open_link_survives_a_reload_of_the_page(server):
    """The open link's random key is in the browser's URL (&s=), so a reload resumes the sealed progress."""
    from app_support import seed_campaign

    from surveys.loader import load_instrument

    url, db_url = server
    instrument = load_instrument(CUSTOMER)
    campaign = seed_campaign(db_url, CUSTOMER, campaign_id="cx-open", mode="open").id
    with launched_chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{url}/?c={campaign}")
        page.get_by_role("progressbar").wait_for(timeout=30_000)
        _idle(page)
        page.wait_for_function("() => new URL(location.href).searchParams.get('s')", timeout=10_000)
        key = page.evaluate("new URL(location.href).searchParams.get('s')")
        assert re.fullmatch(r"[A-Za-z0-9_-]{32}", key)
        forward = page.get_by_role("button", name="Next", exact=True)
        consent = page.locator(f".{_css_key(f'consent:{campaign}')} label")
        if consent.count():
            _click(page, consent)
            _idle(page)
            _go_on(page, forward)
        done: set[str] = set()
        while _fill_visible(page, instrument, campaign, done):
            pass
        _go_on(page, forward)
        where = page.get_by_text(re.compile(PAGE_OF["en"])).inner_text()
        page.reload()
        page.get_by_role("progressbar").wait_for(timeout=30_000)
        _idle(page)
        page.get_by_text("Welcome back").wait_for(timeout=30_000)
        assert where.startswith("Page 2 of") and page.get_by_text(re.compile(PAGE_OF["en"])).inner_text() == where
        assert page.evaluate("new URL(location.href).searchParams.get('s')") == key
