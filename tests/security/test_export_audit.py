"""The raw-export audit (surveys.audit) on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from surveys import audit
from surveys import store as db
from surveys.auth import Role


def test_exports_are_recorded_to_the_second_and_listed_newest_first(any_store):
    first = dt.datetime(2026, 3, 2, 9, 41, 7, 654321, tzinfo=dt.UTC)
    audit.record_export(any_store, actor="hr@example.org", role=Role.ADMIN, campaign_id="ee1", kind="raw-csv",
                        now=first)
    audit.record_export(any_store, actor="password:admin", role="admin", campaign_id="cx1", kind="raw-sav",
                        now=first + dt.timedelta(minutes=3))
    audit.record_export(any_store, actor="hr@example.org", role=Role.ADMIN, campaign_id="ee1", kind="raw-xlsx",
                        now=first + dt.timedelta(hours=1, seconds=5))
    log = audit.export_log(any_store)
    assert list(log.columns) == ["at", "actor", "role", "campaign", "kind"]
    assert log["kind"].tolist() == ["raw-xlsx", "raw-sav", "raw-csv"]
    assert log["at"].iloc[-1] == pd.Timestamp("2026-03-02 09:41:07", tz="UTC")  # the real time, to the second
    assert str(log["at"].dt.tz) == "UTC"
    one = audit.export_log(any_store, campaign_id="ee1")
    assert one["campaign"].tolist() == ["ee1", "ee1"] and one["actor"].tolist() == ["hr@example.org"] * 2
    assert audit.export_log(any_store, campaign_id="nothing").empty


def test_recording_uses_the_current_time_by_default(any_store):
    before = db.utcnow().replace(microsecond=0)
    audit.record_export(any_store, actor="a@example.org", role=Role.ADMIN, campaign_id="ee1", kind="raw-csv")
    at = audit.export_log(any_store)["at"].iloc[0].to_pydatetime()
    assert before <= at <= db.utcnow() and at.microsecond == 0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"actor": " "}, "must name who"),
    ({"role": "root"}, "unknown role"),
    ({"kind": "Raw CSV!"}, "not a usable export kind"),
])
def test_an_incomplete_record_is_refused(any_store, kwargs, message):
    record = {"actor": "a@example.org", "role": "admin", "campaign_id": "ee1", "kind": "raw-csv"} | kwargs
    with pytest.raises(audit.AuditError, match=message):
        audit.record_export(any_store, **record)
    assert audit.export_log(any_store).empty


def test_the_audit_survives_another_store_object(any_store_url):
    """Written by one app process, read by another."""
    first = db.open_store(any_store_url)
    audit.record_export(first, actor="a@example.org", role=Role.ANALYST, campaign_id="ee1", kind="safe-csv")
    first.dispose()
    second = db.open_store(any_store_url)
    try:
        assert audit.export_log(second)["role"].tolist() == ["analyst"]
    finally:
        second.dispose()
