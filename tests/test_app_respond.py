"""The respondent flow of app.py, driven by streamlit.testing.v1.AppTest against a temp SQLite store."""

from __future__ import annotations

import datetime as dt

import pytest
from app_support import ALL_TYPES, app, close, invite, responses_of, seed_campaign, texts

CID = "allt"


@pytest.fixture
def db_url(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("TANDEM_DATABASE_URL", url)
    monkeypatch.delenv("TANDEM_ADMIN_PASSWORD", raising=False)
    return url


@pytest.fixture
def tokens(db_url):
    seed_campaign(db_url, ALL_TYPES, campaign_id=CID)
    return invite(db_url, CID, unit="north", count=3)


def key(qid: str) -> str:
    return f"q:{CID}:{qid}"


def click_next(at):
    return at.button(key="nav:next").click().run()


def past_consent(at):
    at.checkbox(key=f"consent:{CID}").check().run()
    return click_next(at)


def fill_page1(at, *, role="manager", open_link=False):
    if open_link:  # an invited respondent's unit comes from the invitation, not from a question
        at.selectbox(key=key("unit")).set_value("south").run()
    at.radio(key=key("role")).set_value(role).run()
    if role == "manager":
        at.number_input(key=key("team_size")).set_value(12).run()
    at.date_input(key=key("started")).set_value(dt.date(2021, 4, 1)).run()
    return at


def fill_page2(at):
    at.radio(key=key("sat")).set_value(4).run()
    at.radio(key=key("grid:ms_1")).set_value(5).run()
    at.radio(key=key("grid:ms_2")).set_value(2).run()
    at.radio(key=key("enps")).set_value(9).run()
    return at


def fill_page3(at, *, comment="Good place."):
    at.multiselect(key=key("perks")).set_value(["lunch", "gym"]).run()
    at.selectbox(key=key("shift")).set_value("late").run()
    at.multiselect(key=key("priorities")).set_value(["team", "pay", "growth"]).run()
    at.text_area(key=key("comment")).input(comment).run()
    return at


def no_exception(at):
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_every_question_type_is_answered_and_one_submit_stores_one_response(db_url, tokens):
    at = no_exception(app(c=CID, t=tokens[0]))
    assert at.get("progress")[0].proto.value == 0
    past_consent(at)
    fill_page1(at)
    no_exception(click_next(at))
    assert "Your work" in texts(at)
    fill_page2(at)
    no_exception(click_next(at))
    fill_page3(at)
    assert at.button(key="nav:next").label == "Submit"
    no_exception(click_next(at))
    assert "Thank you" in texts(at)
    frame = responses_of(db_url, CID)
    assert len(frame) == 1
    row = frame.iloc[0]
    assert row["unit"] == "north"  # the invitation's unit wins over the answer
    assert row["language"] == "en"
    assert (row["sat"], row["ms_1"], row["ms_2"], row["enps"], row["team_size"]) == (4, 5, 2, 9, 12)
    assert row["role"] == "manager" and row["shift"] == "late" and row["started"] == "2021-04-01"
    assert row["comment"] == "Good place."
    assert (row["perks__lunch"], row["perks__gym"], row["perks__bike"]) == (1, 1, 0)
    assert (row["priorities__team"], row["priorities__pay"], row["priorities__growth"]) == (1, 2, 3)
    # the same session clicking again, and the link opened again, store nothing more
    at.run()
    assert "Thank you" in texts(at)
    again = no_exception(app(c=CID, t=tokens[0]))
    assert "already been used" in texts(again)
    assert len(responses_of(db_url, CID)) == 1


def test_required_answers_block_next_with_a_message_at_the_question(db_url, tokens):
    at = past_consent(app(c=CID, t=tokens[0]))
    with pytest.raises(KeyError):
        at.selectbox(key=key("unit"))  # the invitation names the unit
    no_exception(click_next(at))
    assert "About you" in texts(at)  # still on page 1
    assert [e.value for e in at.error] == ["This question needs an answer."]
    at.radio(key=key("role")).set_value("manager").run()
    assert not at.error  # the message goes as soon as the answer is there
    no_exception(click_next(at))
    assert [e.value for e in at.error] == ["This question needs an answer."]  # team_size, shown for managers
    at.number_input(key=key("team_size")).set_value(4).run()
    no_exception(click_next(at))
    assert "Your work" in texts(at)
    click_next(at)  # matrix rows are required one by one
    messages = [e.value for e in at.error]
    assert messages.count("Please answer this row.") == 2 and "This question needs an answer." in messages


def test_consent_must_be_given(db_url, tokens):
    at = click_next(app(c=CID, t=tokens[0]))
    assert "Please agree to take part" in texts(at)
    assert at.checkbox(key=f"consent:{CID}")  # still on the consent step


def test_show_if_shows_and_hides_as_answers_change(db_url, tokens):
    at = past_consent(app(c=CID, t=tokens[0]))
    with pytest.raises(KeyError):
        at.number_input(key=key("team_size"))
    at.radio(key=key("role")).set_value("manager").run()
    assert at.number_input(key=key("team_size")).label.startswith("How many people")
    at.number_input(key=key("team_size")).set_value(3).run()
    at.radio(key=key("role")).set_value("staff").run()
    with pytest.raises(KeyError):
        at.number_input(key=key("team_size"))
    click_next(at)
    fill_page2(at)
    click_next(at)
    no_exception(click_next(at))
    row = responses_of(db_url, CID).iloc[0]
    assert row["role"] == "staff" and "team_size" in row.index and row.isna()["team_size"]


def test_back_keeps_answers(db_url, tokens):
    at = fill_page1(past_consent(app(c=CID, t=tokens[0])))
    click_next(at)
    at.radio(key=key("sat")).set_value(2).run()
    at.button(key="nav:back").click().run()
    assert "About you" in texts(at)
    assert at.radio(key=key("role")).value == "manager"
    assert at.number_input(key=key("team_size")).value == 12
    assert at.date_input(key=key("started")).value == dt.date(2021, 4, 1)
    click_next(at)
    assert at.radio(key=key("sat")).value == 2  # kept although the page was left backwards


def test_language_from_link_and_selector_keeps_answers(db_url, tokens):
    at = no_exception(app(c=CID, t=tokens[0], lang="de"))
    assert "Alle Fragetypen" in texts(at) and "Ich bin einverstanden teilzunehmen" in texts(at)
    at.checkbox(key=f"consent:{CID}").check().run()
    at.button(key="nav:next").click().run()
    assert "Ihre Rolle *" in texts(at) and at.button(key="nav:next").label == "Weiter"
    at.radio(key=key("role")).set_value("manager").run()
    at.selectbox(key=f"lang:{CID}").set_value("en").run()
    assert "Your role *" in texts(at) and "Ihre Rolle" not in texts(at)
    assert at.radio(key=key("role")).value == "manager"
    assert at.query_params["lang"] == ["en"] or at.query_params["lang"] == "en"
    at.selectbox(key=f"lang:{CID}").set_value("de").run()
    click_next(at)
    assert "Diese Frage braucht eine Antwort." in texts(at)  # server messages in the respondent's language


def test_invalid_answers_are_refused_with_a_message(db_url, tokens):
    at = fill_page1(past_consent(app(c=CID, t=tokens[0])))
    at.number_input(key=key("team_size")).set_value(9999).run()  # max 500: the widget drops it
    no_exception(click_next(at))
    assert [e.value for e in at.error] == ["This question needs an answer."]
    at.number_input(key=key("team_size")).set_value(12).run()
    fill_page2(click_next(at))
    click_next(at)
    fill_page3(at)
    at.multiselect(key=key("priorities")).set_value(["team"]).run()  # a ranking must order every option
    at.session_state[key("comment")] = "x" * 41  # max_length 40: even a forged value is cut to 40
    no_exception(click_next(at.run()))
    assert [e.value for e in at.error] == ["Please put every option in order, each once."]
    assert responses_of(db_url, CID).empty
    at.multiselect(key=key("priorities")).set_value(["growth", "team", "pay"]).run()
    no_exception(click_next(at))
    assert "Thank you" in texts(at)
    assert responses_of(db_url, CID).iloc[0]["comment"] == "x" * 40


def test_progress_is_saved_and_resumed_in_a_new_session(db_url, tokens):
    at = fill_page1(past_consent(app(c=CID, t=tokens[1], lang="de")))
    click_next(at)
    assert at.get("progress")[0].proto.value > 0
    resumed = no_exception(app(c=CID, t=tokens[1]))  # a new browser session, as after a restart
    assert "Ihre Arbeit" in texts(resumed)  # the page and language where the respondent stopped
    resumed.button(key="nav:back").click().run()
    assert resumed.radio(key=key("role")).value == "manager"
    assert resumed.number_input(key=key("team_size")).value == 12


@pytest.mark.parametrize(
    ("setup", "query", "message"),
    [
        ("none", {"c": "nope"}, "This survey link is not valid"),
        ("closed", {"c": CID, "t": "TOKEN"}, "This survey is closed"),
        ("token", {"c": CID, "t": "not-a-token"}, "This invitation link is not valid"),
        ("token", {"c": CID}, "by invitation only"),
        ("draft", {"c": CID, "t": "TOKEN"}, "not open yet"),
    ],
)
def test_links_that_cannot_answer_get_a_plain_message(db_url, setup, query, message):
    if setup != "none":
        seed_campaign(db_url, ALL_TYPES, campaign_id=CID, open_now=setup != "draft")
        if setup != "draft":
            token = invite(db_url, CID, unit="north", count=1)[0]
            query = {k: token if v == "TOKEN" else v for k, v in query.items()}
        else:
            query = {k: v for k, v in query.items() if k != "t"}
    if setup == "closed":
        close(db_url, CID)
    at = no_exception(app(**query))
    assert message in texts(at)
    assert not at.get("progress") and not at.radio and not at.sidebar.children  # nothing else


def test_a_campaign_closed_while_answering_refuses_the_submit_politely(db_url, tokens):
    at = fill_page1(past_consent(app(c=CID, t=tokens[0])))
    fill_page2(click_next(at))
    click_next(at)
    close(db_url, CID)
    no_exception(click_next(at))
    assert "This survey is closed" in texts(at)
    assert responses_of(db_url, CID).empty


def test_unexpected_errors_show_a_calm_message_not_a_trace(db_url, tokens, monkeypatch):
    from surveys import campaigns

    def broken(*args, **kwargs):
        raise RuntimeError("database exploded at /secret/path")

    monkeypatch.setattr(campaigns, "resolve_link", broken)
    at = no_exception(app(c=CID, t=tokens[0]))
    shown = texts(at)
    assert "Something went wrong on our side" in shown and "secret" not in shown


def test_open_link_answers_without_a_token(db_url, monkeypatch):
    monkeypatch.setenv("TANDEM_ALLOW_OPEN_EMPLOYEE_LINKS", "1")  # all_types.yaml is an employee survey
    seed_campaign(db_url, ALL_TYPES, campaign_id=CID, mode="open")
    at = fill_page1(past_consent(app(c=CID)), open_link=True)
    click_next(at)
    fill_page2(at)
    click_next(at)
    no_exception(click_next(at))
    assert "Thank you" in texts(at)
    frame = responses_of(db_url, CID)
    assert len(frame) == 1 and frame.iloc[0]["unit"] == "south"  # an open link takes the chosen unit
    assert "s" not in at.query_params  # the response is in: a reload starts afresh, it resumes nothing


def test_randomized_page_order_is_stable_for_a_respondent(db_url, tokens):
    at = fill_page1(past_consent(app(c=CID, t=tokens[0])))
    click_next(at)
    first = [r.label for r in at.radio]
    assert len(first) == 4  # likert, two matrix rows, rating
    again = app(c=CID, t=tokens[0])  # a new session resumes on the randomized page
    assert [r.label for r in again.radio] == first


def test_a_campaign_closed_between_pages_stops_politely_and_keeps_no_progress(db_url, tokens):
    from surveys import campaigns
    from surveys.store import open_store

    at = fill_page1(past_consent(app(c=CID, t=tokens[0])))
    close(db_url, CID)
    no_exception(click_next(at))  # saving the page meets the closed campaign
    assert "This survey is closed" in texts(at)
    store = open_store(db_url)
    try:
        assert campaigns.load_progress(store, CID, tokens[0]) is None
    finally:
        store.dispose()


# --------------------------------------------------------------------------- issue 14: the respondent's page
def progress_text(at) -> str:
    return at.get("progress")[0].proto.text


def test_each_page_says_page_x_of_y_in_the_respondents_language(db_url, tokens):
    at = past_consent(app(c=CID, t=tokens[0]))
    assert progress_text(at) == "Page 1 of 3"
    fill_page1(at)
    click_next(at)
    assert progress_text(at) == "Page 2 of 3"
    at.selectbox(key=f"lang:{CID}").set_value("de").run()
    assert progress_text(at) == "Seite 2 von 3"


def test_a_resumed_survey_says_welcome_back_until_the_respondent_moves_on(db_url, tokens):
    at = fill_page1(past_consent(app(c=CID, t=tokens[1], lang="de")))
    assert "Willkommen zurück" not in texts(at)
    click_next(at)
    assert "Willkommen zurück" not in texts(at) and "Welcome back" not in texts(at)
    resumed = no_exception(app(c=CID, t=tokens[1]))
    assert "Willkommen zurück! Ihre bisherigen Antworten sind erhalten" in texts(resumed)
    fill_page2(resumed)
    click_next(resumed)
    assert "Willkommen zurück" not in texts(resumed)
    fresh = no_exception(app(c=CID, t=tokens[2]))
    assert "Welcome back" not in texts(fresh)


def _in_order(block):
    """The elements of a block in page order (containers walked depth first)."""
    for child in block.children.values():
        if getattr(child, "children", None):
            yield from _in_order(child)
        else:
            yield child


def test_the_buttons_come_after_the_page_content_next_at_the_right_end(db_url, tokens):
    at = past_consent(app(c=CID, t=tokens[0]))
    for step in range(2):  # the first page (nothing answered: the questions, the reminder, then the buttons) and the next
        if step:
            fill_page1(at)
        click_next(at)
        shown = [e for e in _in_order(at.main) if e.type not in ("html", "empty")]
        assert [getattr(e, "key", None) for e in shown[-2:]] == ["nav:back", "nav:next"], [e.type for e in shown]
        (nav,) = [b for b in _all_blocks(at.main) if "nav:next" in [getattr(e, "key", None) for e in b.children.values()]]
        proto = str(nav.proto)  # one row, Next at the right end
        assert "direction: HORIZONTAL" in proto and "justify: JUSTIFY_END" in proto, proto


def _all_blocks(block):
    yield block
    for child in block.children.values():
        if getattr(child, "children", None):
            yield from _all_blocks(child)


def test_an_open_link_keeps_its_random_session_key_in_the_url_and_a_reload_keeps_the_answers(db_url, monkeypatch):
    from surveys import campaigns
    from views.respond import SESSION_KEY

    monkeypatch.setenv("TANDEM_ALLOW_OPEN_EMPLOYEE_LINKS", "1")
    seed_campaign(db_url, ALL_TYPES, campaign_id=CID, mode="open")
    at = fill_page1(past_consent(app(c=CID)), open_link=True)
    session = at.query_params["s"]
    session = session[0] if isinstance(session, list) else session
    assert SESSION_KEY.fullmatch(session)
    click_next(at)
    at.radio(key=key("sat")).set_value(2).run()
    # the reload: a new browser session with the same URL
    reloaded = no_exception(app(c=CID, s=session))
    assert "Your work" in texts(reloaded) and "Welcome back" in texts(reloaded)
    reloaded.button(key="nav:back").click().run()
    assert reloaded.radio(key=key("role")).value == "manager"
    assert reloaded.selectbox(key=key("unit")).value == "south"
    # another respondent of the link gets another random key and none of these answers
    other = no_exception(app(c=CID))
    other_key = other.query_params["s"]
    other_key = other_key[0] if isinstance(other_key, list) else other_key
    assert SESSION_KEY.fullmatch(other_key) and other_key != session
    assert "About you" in texts(other) or other.checkbox(key=f"consent:{CID}")
    # a key of the wrong form is not taken: a fresh random one replaces it
    forged = no_exception(app(c=CID, s="../../etc"))
    forged_key = forged.query_params["s"]
    forged_key = forged_key[0] if isinstance(forged_key, list) else forged_key
    assert forged_key != "../../etc" and SESSION_KEY.fullmatch(forged_key)
    assert campaigns.new_session_key() != campaigns.new_session_key()


def test_an_invitation_link_gets_no_session_key_in_its_url(db_url, tokens):
    at = fill_page1(past_consent(app(c=CID, t=tokens[0])))
    click_next(at)
    assert "s" not in at.query_params
    with_key = no_exception(app(c=CID, t=tokens[1], s="A" * 32))  # an &s= never replaces the token
    assert "s" in with_key.query_params  # left as given, but unused:
    assert "Welcome back" not in texts(with_key) and with_key.checkbox(key=f"consent:{CID}")
