"""Concurrent submissions on SQLite and PostgreSQL: nothing lost, nothing locked, a token answers once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from surveys import campaigns as cp
from surveys import responses
from surveys import store as db
from surveys.loader import load_instrument

SURVEY = Path(__file__).parent / "store_fixtures" / "survey.yaml"
ANSWERS = {"role": "staff", "sat": 4, "ms_1": 5, "ms_2": 1, "enps": 9}


def _run_together(n: int, task) -> list[BaseException | None]:
    """Run ``task(i)`` in ``n`` threads released at the same moment; return each one's exception or None."""
    barrier = threading.Barrier(n)

    def one(i: int) -> BaseException | None:
        barrier.wait()
        try:
            task(i)
        except BaseException as exc:
            return exc
        return None

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


@pytest.fixture
def campaign(any_store):
    survey = load_instrument(SURVEY)
    cp.create_campaign(any_store, survey, campaign_id="load")
    cp.open_campaign(any_store, "load")
    return any_store


def test_200_concurrent_submissions_all_arrive(campaign):
    tokens = cp.invite(campaign, "load", unit="north", count=200)
    outcomes = _run_together(200, lambda i: cp.submit(campaign, "load", ANSWERS | {"enps": i % 11},
                                                      token=tokens[i]))
    failures = [repr(e) for e in outcomes if e is not None]
    assert failures == []
    assert responses.response_count(campaign, "load") == 200
    assert sorted(responses.responses_frame(campaign, "load")["enps"].value_counts().sort_index()) == sorted(
        [19] * 2 + [18] * 9)


def test_200_concurrent_open_link_submissions(campaign, monkeypatch):
    monkeypatch.setenv("TANDEM_ALLOW_OPEN_EMPLOYEE_LINKS", "1")  # the fixture survey is an employee survey
    cp.create_campaign(campaign, load_instrument(SURVEY), campaign_id="open", mode="open")
    cp.open_campaign(campaign, "open")
    outcomes = _run_together(200, lambda i: cp.submit(campaign, "open", ANSWERS | {"unit": "south"}))
    assert [repr(e) for e in outcomes if e is not None] == []
    assert responses.response_count(campaign, "open") == 200


def test_one_token_submitted_twice_at_the_same_time_answers_once(campaign):
    tokens = cp.invite(campaign, "load", unit="east", count=20)
    outcomes = _run_together(40, lambda i: cp.submit(campaign, "load", ANSWERS, token=tokens[i // 2]))
    for pair in zip(outcomes[0::2], outcomes[1::2], strict=True):
        assert sorted(type(e).__name__ for e in pair) == ["NoneType", "TokenUsed"]
    assert responses.response_count(campaign, "load") == 20


def test_transient_errors_are_retried_then_reported_as_store_error(sqlite_store, monkeypatch):
    """A database that stays locked gives a StoreError after MAX_ATTEMPTS, not a raw driver error."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    monkeypatch.setattr(db, "MAX_ATTEMPTS", 3)
    calls = []

    def locked(conn):
        calls.append(1)
        raise OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked"))

    with pytest.raises(db.StoreError, match="database is locked") as info:
        sqlite_store.run(locked)
    assert len(calls) == 3 and "tandem.db" in info.value.where

    calls.clear()

    def broken(conn):
        calls.append(1)
        raise OperationalError("SELECT ...", {}, sqlite3.OperationalError("no such table: x"))

    with pytest.raises(db.StoreError, match="no such table"):
        sqlite_store.run(broken)
    assert len(calls) == 1


def test_simultaneous_check_then_insert_is_settled_by_retry(any_store, monkeypatch):
    """Registering one instrument and saving one respondent's progress from many threads at once."""
    monkeypatch.setenv("TANDEM_ALLOW_OPEN_EMPLOYEE_LINKS", "1")  # the fixture survey is an employee survey
    survey = load_instrument(SURVEY)
    ids = []
    outcomes = _run_together(16, lambda i: ids.append(cp.register_instrument(any_store, survey)))
    assert [e for e in outcomes if e is not None] == [] and len(set(ids)) == 1
    cp.create_campaign(any_store, survey, campaign_id="cx", mode="open")
    outcomes = _run_together(16, lambda i: cp.save_progress(any_store, "cx", "same-session", {"n": i}))
    assert [repr(e) for e in outcomes if e is not None] == []
    assert cp.load_progress(any_store, "cx", "same-session")["n"] in range(16)
    outcomes = _run_together(8, lambda i: cp.create_campaign(any_store, survey, campaign_id="race"))
    assert sorted(type(e).__name__ for e in outcomes) == ["CampaignError"] * 7 + ["NoneType"]
