"""The respondent page: one campaign's instrument, page by page.

Thin on purpose: where the respondent is, what shows and what is checked comes from
``surveys.form``; campaigns, invitations, partial progress and submission from
``surveys.campaigns``. This page draws widgets (``views.widgets``) and wires the
buttons. Everything runs inside an error boundary: a problem a respondent can cause
(unknown campaign, closed survey, used token) is a calm message, anything else is
logged on the server and shown as a short apology, never as a stack trace.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from typing import Any

import streamlit as st

from surveys import campaigns
from surveys.form import CONSENT, THANKS, Form, FormError, FormState, Move, ui_text
from views import gateway
from views.widgets import held_answers, render_question

log = logging.getLogger("tandem.app")

#: The form of :func:`surveys.campaigns.new_session_key` (``secrets.token_urlsafe(24)``): an
#: ``&s=`` parameter of any other form is not taken, a new random key is made instead.
SESSION_KEY = re.compile(r"[A-Za-z0-9_-]{32}")

#: Likert, rating and matrix scales (Streamlit's horizontal radios) on one row at any width:
#: the options share the row equally, each with its circle above its label, and a long label
#: wraps inside its own option (hyphenated in the document's language) instead of pushing
#: the next options onto a second line. Vertical radios (single choice) are left alone.
SCALE_CSS = """
<style>
div[data-testid="stRadio"]:has(> div[data-testid="stRadioGroup"][aria-orientation="horizontal"]),
div[data-testid="stElementContainer"]:has(div[data-testid="stRadioGroup"][aria-orientation="horizontal"]) {
  width: 100% !important; }
div[data-testid="stRadioGroup"][aria-orientation="horizontal"] {
  display: flex; flex-wrap: nowrap !important; flex-direction: row; width: 100%; gap: 0.25rem;
  align-items: flex-start; }
div[data-testid="stRadioGroup"][aria-orientation="horizontal"] > div {
  flex: 1 1 0; min-width: 0; margin: 0 !important; padding: 0 !important; }
div[data-testid="stRadioGroup"][aria-orientation="horizontal"] label[data-testid="stRadioOption"] {
  width: 100%; margin: 0 !important; padding: 0 !important; }
div[data-testid="stRadioGroup"][aria-orientation="horizontal"] label[data-testid="stRadioOption"] > div {
  display: flex; flex-direction: column; align-items: center; width: 100%; min-width: 0; gap: 0.2rem; }
div[data-testid="stRadioGroup"][aria-orientation="horizontal"] label[data-testid="stRadioOption"] > div > div {
  margin: 0 !important; }
div[data-testid="stRadioGroup"][aria-orientation="horizontal"] [data-testid="stMarkdownContainer"] {
  width: 100%; min-width: 0; padding: 0 !important; }
div[data-testid="stRadioGroup"][aria-orientation="horizontal"] [data-testid="stMarkdownContainer"] p {
  white-space: normal; word-break: normal; overflow-wrap: break-word; hyphens: auto; text-align: center;
  line-height: 1.2; font-size: 0.9rem; margin: 0; }
@media (max-width: 640px) {
  div[data-testid="stRadioGroup"][aria-orientation="horizontal"] [data-testid="stMarkdownContainer"] p {
    font-size: 0.72rem; }
  h1 { font-size: 1.9rem !important; hyphens: auto; }
}
</style>
"""

LANGUAGE_NAMES = {
    "en": "English", "de": "Deutsch", "fr": "Français", "es": "Español", "it": "Italiano",
    "nl": "Nederlands", "pt": "Português", "pl": "Polski", "sv": "Svenska", "da": "Dansk",
}


def render() -> None:
    """The page, inside the error boundary."""
    language = st.query_params.get("lang")
    try:
        _render()
    except gateway.RespondentStop as stop:
        _message(stop.kind, stop.language or language)
    except Exception:  # the boundary: log everything on the server, show the respondent one calm sentence
        log.exception("respondent page failed (campaign %r)", str(st.query_params.get("c", ""))[:100])
        _message("trouble", language)


def _message(kind: str, language: str | None) -> None:
    text = ui_text(kind, language)
    if kind in ("token_used", "closed", "not_open"):
        st.info(text)
    else:
        st.warning(text)


def _session(campaign_id: str, token: str | None) -> dict[str, Any]:
    """This browser session's bookkeeping for one link (the token itself is not kept here).

    An open link's progress key is random (:func:`surveys.campaigns.new_session_key`) and
    kept in the URL (``&s=``, see :func:`_keep_session_key`), so a reload of the page
    resumes from the sealed progress; an ``&s=`` that is not of that form is ignored. An
    invitation link never takes ``&s=``: its progress is kept under its token.
    """
    key = f"respond:{campaign_id}:{campaigns.hash_token(token)[:16] if token else 'open'}"
    if key not in st.session_state:
        given = None if token else str(st.query_params.get("s") or "")
        st.session_state[key] = {
            "state": None, "problems": {}, "started_at": None, "welcome": False,
            "session_key": given if given and SESSION_KEY.fullmatch(given) else campaigns.new_session_key(),
        }
    return st.session_state[key]


def _keep_session_key(link: gateway.Link, box: dict[str, Any]) -> None:
    """Put an open link's progress key into the URL (``&s=``) once its survey is open; an
    invitation link's URL gets none (its token already keeps the progress)."""
    if link.token is None and st.query_params.get("s") != box["session_key"]:
        st.query_params["s"] = box["session_key"]


def _document(title: str, lang: str) -> None:
    """The tab's title and the document's language (``<html lang>``, for screen readers and
    hyphenation) in the respondent's language, and the layout of the scales."""
    st.set_page_config(page_title=title)
    st.html(SCALE_CSS)
    st.html(f"<script>document.documentElement.lang = {json.dumps(lang)}; "
            f"document.title = {json.dumps(title)};</script>", unsafe_allow_javascript=True)


def _render() -> None:
    campaign_id = str(st.query_params.get("c", ""))[:100]
    token = st.query_params.get("t") or None
    box = _session(campaign_id, token)
    if box["state"] is not None and box["state"]["step"] == THANKS:
        if token is None and "s" in st.query_params:
            del st.query_params["s"]  # the response is in: a reload starts a new one, it resumes nothing
        st.success(ui_text("thanks", box["state"]["language"]))
        st.write(ui_text("thanks_detail", box["state"]["language"]))
        return
    link = gateway.open_link(campaign_id, token, session_key=box["session_key"])
    _keep_session_key(link, box)
    instrument = link.instrument
    form = Form(instrument, seed_key=link.seed_key, invitation_unit=link.unit)
    if box["state"] is None:
        box["state"] = _first_state(form, link, box).to_dict()
    state = FormState.from_dict(box["state"])

    state = _language_selector(form, state, box, campaign_id)
    lang = state.language
    title = instrument.text(instrument.title, lang)
    _document(title, lang)
    st.title(title)
    progress = form.progress(state)
    position = form.page_position(state)
    text = ui_text("progress", lang)
    if position is not None:
        text = ui_text("page_of", lang).format(page=position[0], pages=position[1])
    st.progress(progress, text=text)
    if box.get("welcome"):
        st.info(ui_text("welcome_back", lang), icon=":material/waving_hand:")
    if progress == 0 and instrument.description is not None:
        st.markdown(instrument.text(instrument.description, lang))
    if state.step == CONSENT:
        _consent_step(form, state, box, link, lang)
    else:
        _page_step(form, state, box, link, lang)


def _first_state(form: Form, link: gateway.Link, box: dict[str, Any]) -> FormState:
    """Saved progress of this link (from any server), else a fresh start; ``&lang=`` wins."""
    requested = st.query_params.get("lang")
    saved = link.saved_progress()
    state = None
    if saved and saved.get("state"):
        try:
            state = form.restore(saved["state"])
        except FormError:
            log.warning("saved progress of campaign %s no longer fits its instrument; starting again", link.campaign_id)
    box["started_at"] = (saved or {}).get("started_at") or dt.datetime.now(dt.UTC).isoformat()
    if state is None:
        return form.start(language=requested)
    box["welcome"] = True  # progress was restored: say so until the respondent moves on
    return form.with_language(state, requested) if requested else state


def _language_selector(form: Form, state: FormState, box: dict[str, Any], campaign_id: str) -> FormState:
    languages = list(form.instrument.languages)
    if len(languages) < 2:
        return state
    key = f"lang:{campaign_id}"
    if key not in st.session_state:
        st.session_state[key] = state.language
    _, right = st.columns([3, 1])
    chosen = right.selectbox(
        ui_text("language", state.language), languages, key=key, format_func=lambda c: LANGUAGE_NAMES.get(c, c)
    )
    if chosen != state.language:
        state = form.with_language(state, chosen)
        box["state"] = state.to_dict()
        st.query_params["lang"] = chosen
    return state


def _consent_step(form: Form, state: FormState, box: dict[str, Any], link: gateway.Link, lang: str) -> None:
    st.markdown(form.instrument.text(form.instrument.consent, lang))
    agreed = st.checkbox(ui_text("consent_agree", lang), key=f"consent:{link.campaign_id}", value=state.consented)
    if CONSENT in box["problems"]:
        st.warning(box["problems"][CONSENT])
    _, forward = _navigation(lang, has_back=False, last=False)
    if forward:
        _apply(form, form.next(state, {CONSENT: agreed}), box, link)


def _navigation(lang: str, *, has_back: bool, last: bool) -> tuple[bool, bool]:
    """Back and Next (or Submit) in one row after the page's content, Next always at the right
    end, on every step alike. Returns (back clicked, forward clicked)."""
    with st.container(horizontal=True, horizontal_alignment="right", key="nav"):
        back = has_back and st.button(ui_text("back", lang), key="nav:back")
        forward = st.button(ui_text("submit" if last else "next", lang), type="primary", key="nav:next")
    return bool(back), bool(forward)


def _page_step(form: Form, state: FormState, box: dict[str, Any], link: gateway.Link, lang: str) -> None:
    instrument = form.instrument
    page = form.page(state.step)
    if page.title is not None:
        st.subheader(instrument.text(page.title, lang))
    # Answers as the widgets hold them now, so show_if and the messages follow every change at once.
    held: dict[str, Any] = {}
    for question in page.questions:
        held.update(held_answers(question, campaign=link.campaign_id))
    live = form.merge(state, held)
    problems = form.open_problems(state.step, live, box["problems"], language=lang)
    page_answers: dict[str, Any] = {}
    for question in form.visible_questions(page, live):
        page_answers.update(
            render_question(
                instrument, question, campaign=link.campaign_id, language=lang, answers=state.answers,
                problems=problems,
            )
        )
    steps = form.steps(form.merge(state, page_answers))
    last = state.step == steps[-1]
    has_back = instrument.consent is not None or state.step != steps[0]
    if problems:
        st.warning(ui_text("fix_problems", lang))
    back, forward = _navigation(lang, has_back=has_back, last=last)
    if back:
        box["problems"] = {}
        new_state = form.back(state, page_answers)
        _save(new_state, box, link)
        st.rerun()
    if forward:
        _apply(form, form.next(state, page_answers), box, link)


def _apply(form: Form, move: Move, box: dict[str, Any], link: gateway.Link) -> None:
    """Act on a move: show problems, submit on the last page, else save progress; then rerun."""
    box["problems"] = dict(move.problems)
    box["welcome"] = False
    if move.submit:
        refused = link.submit(move.state.answers, language=move.state.language, started_at=box["started_at"])
        box["problems"] = refused
        box["state"] = (move.state if refused else form.finish(move.state)).to_dict()
    else:
        _save(move.state, box, link)
    st.rerun()


def _save(state: FormState, box: dict[str, Any], link: gateway.Link) -> None:
    """Keep the progress (sealed, in the database); a campaign closed or a link used meanwhile stops calmly."""
    box["state"] = state.to_dict()
    box["welcome"] = False
    pages = [p.id for p in link.instrument.pages]
    try:
        link.save_progress(
            {"state": box["state"], "started_at": box["started_at"]},
            page=pages.index(state.step) + 1 if state.step in pages else 0,
        )
    except campaigns.CampaignClosed:
        raise gateway.RespondentStop("closed", state.language) from None
    except campaigns.TokenUsed:
        raise gateway.RespondentStop("token_used", state.language) from None
