"""End to end in a real browser: Debian's Chromium, driven by Playwright, answers the
shipped employee survey through a running ``streamlit run app.py`` in English and in
German (two invitation tokens), then the test reads the two responses from the database.

Skips when ``/usr/bin/chromium`` is missing, unless ``TANDEM_REQUIRE_BROWSER=1``
(CI), which turns the skip into a failure. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import contextlib
import re

import pytest
from app_support import ROOT, responses_of, seed_invited_campaign
from browser_support import launched_chromium, need_browser, running_app
from playwright.sync_api import TimeoutError as PlaywrightTimeout

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "test-artifacts"
EMPLOYEE = ROOT / "instruments" / "employee_experience.yaml"
PASSWORD = "e2e-secret"
PORTS = range(8611, 8620)


@pytest.fixture
def server(tmp_path):
    """One app against a fresh SQLite database; yields (url, db_url)."""
    need_browser()
    db_url = f"sqlite:///{tmp_path / 'e2e.db'}"
    with running_app(db_url, tmp_path / "streamlit.log", password=PASSWORD, ports=PORTS) as url:
        yield url, db_url


@contextlib.contextmanager
def chromium():
    """A headless Debian Chromium page; uncaught exceptions, console errors and requests to any
    other host than the app are collected in ``page.errors``."""
    ARTIFACTS.mkdir(exist_ok=True)
    with launched_chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 1000}, accept_downloads=True)
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.on("console", lambda msg: page.errors.append(f"console: {msg.text}") if msg.type == "error" else None)
        # a respondent's browser talks to the survey server only (no fonts, icons or trackers elsewhere)
        page.on("request", lambda req: None if req.url.startswith(("http://127.0.0.1", "data:", "blob:"))
                else page.errors.append(f"external request: {req.url}"))
        yield page


def _css_key(key: str) -> str:
    """Streamlit's class for a keyed widget: ``st-key-`` + key with other characters as ``-``."""
    return "st-key-" + re.sub(r"[^a-zA-Z0-9_-]", "-", key.strip())


def _fill_visible(page, instrument, campaign: str, done: set[str]) -> int:
    """Answer every question widget on screen not answered yet; returns how many were filled."""
    filled = 0
    for question in instrument.questions:
        keys = (
            [(f"{question.id}:{row.id}", row.id) for row in question.rows]
            if question.type == "matrix" else [(question.id, question.id)]
        )
        for key, answer_key in keys:
            if answer_key in done:
                continue
            box = page.locator(f".{_css_key(f'q:{campaign}:{key}')}")
            if box.count() == 0 or not box.first.is_visible():
                continue
            _answer(page, box.first, question)
            done.add(answer_key)
            filled += 1
    return filled


def _idle(page) -> None:
    """Wait until the script run caused by the last interaction has finished."""
    try:  # the run may start a moment after the click reaches the server
        page.locator("[data-test-script-state='running']").wait_for(timeout=1_500)
    except PlaywrightTimeout:
        pass
    page.locator("[data-test-script-state='notRunning']").wait_for(timeout=30_000)


def _click(page, target) -> None:
    """Click, and once more (forced) if the element kept re-rendering under the pointer."""
    try:
        target.click(timeout=10_000)
    except PlaywrightTimeout:
        _idle(page)
        target.click(force=True, timeout=10_000)


def _answer(page, box, question) -> None:
    qtype = question.type
    if qtype in ("likert", "rating", "single_choice", "matrix"):
        options = box.locator("[role='radiogroup'] label")
        options.first.wait_for()
        # a middle-to-high option: answers vary and a 0-10 scale gets a 7 or 8
        _click(page, options.nth((options.count() * 2) // 3))
    elif qtype in ("dropdown", "unit", "multi_choice", "ranking"):
        _click(page, box.locator("input").first)
        _click(page, page.locator("[role='option']").first)
        if qtype in ("multi_choice", "ranking"):
            page.keyboard.press("Escape")
    elif qtype == "number":
        low = question.min if question.min is not None else 1
        field = box.locator("input")
        field.fill(str(int(low) + 1))
        field.press("Enter")
    elif qtype == "text":
        field = box.locator("textarea" if question.long else "input")
        field.fill("Fine, thanks.")
        field.press("Tab")
    elif qtype == "date":
        field = box.locator("input")
        field.fill("2024/03/01")
        field.press("Enter")
    _idle(page)


_MOVED = """(before) => {
    const bar = document.querySelector("[role='progressbar']");
    return !bar || bar.getAttribute("aria-valuenow") !== before
        || document.querySelector("[data-testid='stAlert']") !== null;
}"""


def _answer_and_go_on(page, instrument, campaign: str, done: set[str], forward) -> None:
    """Answer every question on screen, click ``forward`` and wait until the step is done: the
    progress moved, a message appeared or the thank-you page shows."""
    questions = page.locator(f"[class*='{_css_key(f'q:{campaign}:')}']")
    if not page.locator(f".{_css_key(f'consent:{campaign}')}").count():
        # a page of questions: wait until they are on screen (a resumed session reruns once
        # more after the first render, and a click on Next before that would skip them)
        questions.first.wait_for(timeout=30_000)
        _idle(page)
    while _fill_visible(page, instrument, campaign, done):
        pass
    before = page.get_by_role("progressbar").get_attribute("aria-valuenow")
    _click(page, forward)
    page.wait_for_function(_MOVED, arg=before, timeout=30_000)
    _idle(page)


def _complete(page, url: str, instrument, campaign: str, token: str, language: str, shots: str, *,
              resumed: tuple[str, str] | None = None) -> None:
    """Answer the survey behind one link to the thank-you page (``resumed``: the progress and heading expected first)."""
    page.goto(f"{url}/?c={campaign}&t={token}&lang={language}")
    page.get_by_role("progressbar").wait_for(timeout=30_000)
    _idle(page)
    if resumed is not None:
        assert page.get_by_role("progressbar").get_attribute("aria-valuenow") == resumed[0]
        assert page.locator("h3").first.inner_text() == resumed[1]
    next_label = {"en": ("Next", "Submit"), "de": ("Weiter", "Absenden")}[language]
    done: set[str] = set()
    thanks = page.get_by_text({"en": "Thank you", "de": "Vielen Dank"}[language])
    forward = page.get_by_role("button", name=re.compile(rf"^({'|'.join(next_label)})$"))
    for step in range(40):
        forward.or_(thanks).first.wait_for(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / f"{shots}-{step:02d}.png"), full_page=True)
        if thanks.count():
            return
        consent = page.locator(f".{_css_key(f'consent:{campaign}')}")
        if consent.count() and consent.is_visible():
            _click(page, consent.locator("label"))
            _idle(page)
        _answer_and_go_on(page, instrument, campaign, done, forward)
    pytest.fail(f"the {language} survey did not reach the thank-you page")


def test_employee_survey_in_two_languages(server):
    from surveys.loader import load_instrument

    url, db_url = server
    instrument = load_instrument(EMPLOYEE)
    assert {"en", "de"} <= set(instrument.languages)
    campaign, tokens = seed_invited_campaign(db_url, EMPLOYEE, count=2)
    with chromium() as page:
        _complete(page, url, instrument, campaign, tokens[0], "en", "e2e-employee-en")
        _complete(page, url, instrument, campaign, tokens[1], "de", "e2e-employee-de")
        # the used link now says so, in plain words
        page.goto(f"{url}/?c={campaign}&t={tokens[0]}")
        page.get_by_text("already been used").wait_for(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "e2e-used-token.png"))
        assert not page.errors, page.errors
    frame = responses_of(db_url, campaign)
    assert len(frame) == 2
    assert sorted(frame["language"]) == ["de", "en"]
    items = [item.id for item in instrument.items]
    assert frame[items].notna().all().all()  # every item answered in both languages, no page skipped

    # staff: sign in, see the rates, download the raw responses as SPSS .sav (two responses are
    # below k, so the safe export is disabled and only an admin's raw file has them) and read
    # them back; the download is in the audit log
    import pyreadstat

    with chromium() as page:
        page.goto(url)
        page.get_by_label("Staff password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Campaigns").wait_for(timeout=30_000)
        _idle(page)
        page.screenshot(path=str(ARTIFACTS / "e2e-staff-campaigns.png"), full_page=True)
        page.get_by_role("link", name="Responses").click()
        page.get_by_text("Responses by unit").wait_for(timeout=30_000)
        _idle(page)
        page.screenshot(path=str(ARTIFACTS / "e2e-staff-responses.png"), full_page=True)
        assert page.get_by_role("button", name="SPSS .sav", exact=True).is_disabled()
        with page.expect_download(timeout=60_000) as download:
            page.get_by_role("button", name="Raw SPSS .sav").click()
        path = ARTIFACTS / "e2e-responses.sav"
        download.value.save_as(path)
        assert not page.errors, page.errors
    data, meta = pyreadstat.read_sav(str(path))
    assert len(data) == 2 and sorted(data["language"]) == ["de", "en"]
    from surveys.audit import export_log
    from surveys.store import open_store

    store = open_store(db_url)
    assert export_log(store)[["actor", "kind"]].values.tolist() == [["password:admin", "raw-sav"]]
    store.dispose()
    assert meta.column_names_to_labels[items[0]]  # variable labels are the question texts
    assert meta.variable_value_labels[items[0]]  # value labels are the scale labels


@pytest.mark.postgres
def test_a_respondent_starts_on_one_app_process_and_finishes_on_another(tmp_path, postgres_url):
    """Two app processes, one PostgreSQL database: the second continues where the first stopped."""
    from surveys.loader import load_instrument

    need_browser()
    instrument = load_instrument(EMPLOYEE)
    campaign, tokens = seed_invited_campaign(postgres_url, EMPLOYEE, count=1)
    with running_app(postgres_url, tmp_path / "a.log", password=PASSWORD, ports=PORTS) as first, \
            running_app(postgres_url, tmp_path / "b.log", password=PASSWORD, ports=PORTS) as second:
        assert first != second
        with chromium() as page:
            page.goto(f"{first}/?c={campaign}&t={tokens[0]}")
            forward = page.get_by_role("button", name="Next")
            forward.wait_for(timeout=30_000)
            _idle(page)
            _click(page, page.locator(f".{_css_key(f'consent:{campaign}')} label"))
            _idle(page)
            done: set[str] = set()
            for _ in range(2):  # consent, then the first page of questions, on process A
                _answer_and_go_on(page, instrument, campaign, done, forward)
            reached = page.get_by_role("progressbar").get_attribute("aria-valuenow")
            heading = page.locator("h3").first.inner_text()
        with chromium() as page:  # a new browser on process B, as after a closed tab and a load balancer
            _complete(page, second, instrument, campaign, tokens[0], "en", "e2e-two-servers", resumed=(reached, heading))
            assert not page.errors, page.errors
    frame = responses_of(postgres_url, campaign)
    assert len(frame) == 1
    assert frame[[item.id for item in instrument.items]].notna().all().all()
