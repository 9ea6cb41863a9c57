"""The respondent's way through an instrument (surveys.form), without Streamlit."""

from __future__ import annotations

from pathlib import Path

import pytest

from surveys.form import CONSENT, THANKS, Form, FormError, FormState, resolve_language, seed_for, ui_text
from surveys.loader import load_instrument

ALL_TYPES = Path(__file__).parent / "app_fixtures" / "all_types.yaml"
EMPLOYEE = Path(__file__).parent.parent / "instruments" / "employee_experience.yaml"


@pytest.fixture(scope="module")
def inst():
    return load_instrument(ALL_TYPES)


def _ids(questions):
    return [q.id for q in questions]


PAGE1 = {"unit": "north", "role": "staff"}
PAGE2 = {"sat": 4, "ms_1": 5, "ms_2": 3, "enps": 8}


def test_consent_comes_first_and_must_be_given(inst):
    form = Form(inst, seed_key="k")
    state = form.start()
    assert state.step == CONSENT and form.progress(state) == 0
    refused = form.next(state, {CONSENT: False})
    assert refused.state.step == CONSENT and CONSENT in refused.problems
    moved = form.next(state, {CONSENT: True})
    assert moved.state.step == "p_basics" and moved.state.consented and not moved.problems


def test_show_if_hides_and_drops_hidden_answers(inst):
    form = Form(inst, seed_key="k")
    assert "team_size" not in _ids(form.visible_questions("p_basics", {"role": "staff"}))
    assert "team_size" in _ids(form.visible_questions("p_basics", {"role": "manager"}))
    state = FormState(step="p_basics", answers={"role": "manager", "team_size": 7}, language="en")
    kept = form.merge(state, {"role": "staff"})
    assert kept == {"role": "staff"}  # team_size's condition no longer holds


def test_required_answers_block_next_with_messages_at_the_questions(inst):
    form = Form(inst, seed_key="k")
    state = FormState(step="p_basics", language="en", consented=True)
    move = form.next(state, {"role": "manager"})
    assert move.state.step == "p_basics" and not move.submit
    assert {"unit", "team_size"} <= set(move.problems)
    assert "role" not in move.problems
    assert move.state.answers["role"] == "manager"  # what was given is kept


def test_invalid_answers_are_refused(inst):
    form = Form(inst, seed_key="k")
    state = FormState(step="p_basics", language="en", consented=True)
    move = form.next(state, {**PAGE1, "role": "manager", "team_size": 9999})
    assert set(move.problems) == {"team_size"}
    move = form.next(state, {**PAGE1, "role": "ceo"})
    assert "role" in move.problems


def test_next_back_and_submit_keep_answers(inst):
    form = Form(inst, seed_key="k")
    state = FormState(step="p_basics", language="en", consented=True)
    state = form.next(state, PAGE1).state
    assert state.step == "p_scales"
    back = form.back(state, {"sat": 2})  # an incomplete page may be left backwards
    assert back.step == "p_basics" and back.answers["sat"] == 2 and back.answers["unit"] == "north"
    assert form.back(back, {}).step == CONSENT
    state = form.next(form.next(back, {}).state, PAGE2).state
    assert state.step == "p_more"
    final = form.next(state, {"comment": "ok"})
    assert final.submit and not final.problems
    assert final.state.answers == {**PAGE1, **PAGE2, "comment": "ok"}
    done = form.finish(final.state)
    assert done.finished and form.progress(done) == 1.0


def test_progress_grows_page_by_page(inst):
    form = Form(inst, seed_key="k")
    steps = [CONSENT, "p_basics", "p_scales", "p_more"]
    fractions = [form.progress(FormState(step=s, answers=PAGE1)) for s in steps]
    assert fractions == [0, 0.25, 0.5, 0.75]


def test_randomized_order_is_stable_per_respondent_and_differs_between_them(inst):
    orders = {tuple(_ids(Form(inst, seed_key=f"r{i}").visible_questions("p_scales", {}))) for i in range(40)}
    assert len(orders) == 6  # all 3! orders occur over 40 respondents
    one = Form(inst, seed_key="token-hash-1")
    assert _ids(one.visible_questions("p_scales", {})) == _ids(one.visible_questions("p_scales", {"sat": 1}))
    assert seed_for("a", "p") == seed_for("a", "p") != seed_for("a", "q")
    # pages without randomize keep the instrument's order
    assert _ids(one.visible_questions("p_more", {})) == ["perks", "shift", "priorities", "comment"]


def test_state_round_trips_through_json_and_restore_checks_the_page(inst):
    form = Form(inst, seed_key="k")
    state = FormState(step="p_scales", answers={"unit": "north", "perks": ["gym"]}, language="de", consented=True)
    assert form.restore(state.to_dict()) == state
    with pytest.raises(FormError, match="does not have"):
        form.restore({**state.to_dict(), "step": "gone"})


def test_language_resolution(inst):
    assert resolve_language(inst, "DE") == "de"
    assert resolve_language(inst, "de-CH") == "de"
    assert resolve_language(inst, "fr") == "en"
    assert resolve_language(inst, None) == "en"
    assert Form(inst, seed_key="k").start(language="de").language == "de"
    assert ui_text("next", "de") == "Weiter" and ui_text("next", "fr") == "Next"


@pytest.mark.parametrize("source", ["list", "invitation"])
def test_an_invited_respondents_unit_comes_from_the_invitation(source):
    from surveys.loader import parse_instrument

    text = ALL_TYPES.read_text().replace("        required: true\n      - id: role",
                                         f"        source: {source}\n        required: true\n      - id: role", 1)
    inst = parse_instrument(text, source="invitation-unit")
    invited = Form(inst, seed_key="k", invitation_unit="south")
    state = invited.start()
    assert state.answers == {"unit": "south"}
    assert "unit" not in _ids(invited.visible_questions("p_basics", state.answers))
    assert "unit" in _ids(Form(inst, seed_key="k").visible_questions("p_basics", {}))  # an open link asks


def test_shipped_employee_instrument_walks_to_submit():
    inst = load_instrument(EMPLOYEE)
    form = Form(inst, seed_key="k")
    state = form.next(form.start(), {CONSENT: True}).state
    seen = []
    for _ in range(len(inst.pages)):
        seen.append(state.step)
        answers = {}
        for q in form.visible_questions(state.step, state.answers):
            if q.type == "matrix":
                answers.update({row.id: 3 for row in q.rows})
            elif q.type == "likert":
                answers[q.id] = 4
            elif q.type == "rating":
                answers[q.id] = 7
            elif q.type in ("single_choice", "dropdown"):
                answers[q.id] = q.options[0].value
            elif q.type == "unit":
                answers[q.id] = inst.units[0].id
        move = form.next(state, answers)
        assert not move.problems, move.problems
        if move.submit:
            break
        state = move.state
    assert move.submit and seen == [p.id for p in inst.pages]
    assert THANKS == form.finish(move.state).step


def test_messages_disappear_once_the_answer_is_fixed(inst):
    form = Form(inst, seed_key="k")
    problems = form.next(FormState(step="p_basics", language="en"), {"role": "manager"}).problems
    assert set(problems) == {"unit", "team_size"}
    still = form.open_problems("p_basics", {"role": "manager", "unit": "north"}, problems, language="de")
    assert still == {"team_size": "Diese Frage braucht eine Antwort."}
    assert form.open_problems("p_basics", {"role": "staff", "unit": "north"}, problems) == {}  # hidden now
