"""A database-only attacker: someone with a copy of the database (a backup) and nothing else.

The campaign is filled with invitations, submitted responses and in-progress answers
with distinctive free text; then, with raw SQL over every table and column, the test
tries what such an attacker would: equality of any column of any table with any column
of another, SHA-256/SHA-1/MD5 (and hex/base64 forms) of every value, substring search
for every identifying value and for the unfinished free text. Nothing may tie a
progress row or a response to an invitation, no unfinished answer may be readable, and
no stored time of respondents' data may be finer than the hour. Positive controls show
that the same detector finds the link of the old scheme (progress under sha256(token))
and plain text, so a pass is not a detector that finds nothing.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from surveys import audit
from surveys import campaigns as cp
from surveys import store as db
from surveys.auth import Role, SignInBrake
from surveys.loader import load_instrument, parse_instrument

SURVEY = Path(__file__).parents[1] / "store_fixtures" / "survey.yaml"
GOOD = {"role": "staff", "sat": 4, "bored": 2, "ms_1": 5, "ms_2": 1, "enps": 9, "perks": ["bike"],
        "priorities": ["team", "pay", "growth"], "started": "2020-03-01"}
UNFINISHED = [f"UNFINISHED-{n}-my manager Jo Bloggs shouts QX{n}Z" for n in range(7)]
#: Times set by staff as a schedule or recorded about staff, deliberately to the second.
STAFF_TIMES = {("campaigns", "opens_at"), ("campaigns", "closes_at"), ("export_audit", "at"),
               ("signin_failures", "first_at"), ("signin_failures", "last_at")}


def fill(store) -> dict:
    """Invitations in three units, five submitted, seven in progress (six invited, one open link)."""
    survey = load_instrument(SURVEY)
    cp.create_campaign(store, survey, campaign_id="ee1", wave="2026-1")
    cp.open_campaign(store, "ee1")
    customer = parse_instrument(survey.source_text.replace("audience: employee", "audience: customer"))
    cp.create_campaign(store, customer, campaign_id="cx1", mode="open")
    cp.open_campaign(store, "cx1")
    tokens = {unit: cp.invite(store, "ee1", unit=unit, count=6) for unit in ("north", "south", "east")}
    flat = [t for unit in tokens.values() for t in unit]
    submitted, in_progress = flat[:5], flat[5:11]
    for n, token in enumerate(submitted):
        cp.save_progress(store, "ee1", token, {"state": {"answers": {"comment": f"draft of {n}"}}}, page=1)
        cp.submit(store, "ee1", GOOD | {"comment": f"SUBMITTED-{n} all fine"}, token=token,
                  started_at=db.utcnow() - dt.timedelta(minutes=17))
    for text, token in zip(UNFINISHED, in_progress, strict=False):
        cp.save_progress(store, "ee1", token, {"state": {"step": "p2", "answers": {"comment": text, "sat": 2}},
                                              "started_at": db.utcnow().isoformat()}, page=2)
    session = cp.new_session_key()
    cp.save_progress(store, "cx1", session, {"state": {"answers": {"comment": UNFINISHED[6], "unit": "north"}}})
    audit.record_export(store, actor="hr@example.org", role=Role.ADMIN, campaign_id="ee1", kind="raw-csv")
    SignInBrake(store).attempt("203.0.113.50")
    return {"tokens": flat, "submitted": submitted, "in_progress": in_progress, "session": session}


def dump(store) -> dict[str, list[dict]]:
    """Every row of every table, by raw SQL (no model of ours involved)."""
    names = sa.inspect(store.engine).get_table_names()
    with store.read() as conn:
        return {name: [dict(r._mapping) for r in conn.exec_driver_sql(f'SELECT * FROM "{name}"')] for name in names}


def texts_of(value) -> list[str]:
    """The forms an attacker reads a stored value in: text, hex and base64 of bytes, JSON leaves."""
    if value is None:
        return []
    if isinstance(value, memoryview):
        value = bytes(value)
    if isinstance(value, bytes):
        return [value.hex(), base64.b64encode(value).decode(), value.decode("latin-1")]
    if isinstance(value, dt.datetime):
        return [value.isoformat(), str(value)]
    if isinstance(value, (dict, list)):
        leaves = []

        def walk(v):
            if isinstance(v, dict):
                for k, x in v.items():
                    leaves.append(str(k))
                    walk(x)
            elif isinstance(v, list):
                for x in v:
                    walk(x)
            elif v is not None:
                leaves.append(str(v))

        walk(value)
        return [json.dumps(value, ensure_ascii=False), *leaves]
    text = str(value)
    out = [text]
    if text.startswith(("{", "[")):
        try:
            out += texts_of(json.loads(text))[1:]
        except ValueError:
            pass
    return out


def derived(text: str) -> set[str]:
    """A value and what an attacker computes from it: hashes of the text and of its hex bytes."""
    forms = {text, text.lower(), text.upper()}
    raw = [text.encode("utf-8", "surrogatepass")]
    try:
        raw.append(bytes.fromhex(text))
    except ValueError:
        pass
    for data in raw:
        for name in ("sha256", "sha1", "md5"):
            digest = hashlib.new(name, data)
            forms |= {digest.hexdigest(), digest.hexdigest().upper(), base64.b64encode(digest.digest()).decode()}
    return forms


def identifying(rows: list[dict]) -> dict[str, set[str]]:
    """Per invitation: the values that belong to it alone (unique in their column), as text."""
    out: dict[str, set[str]] = {}
    columns = rows[0].keys() if rows else []
    for column in columns:
        counts: dict[str, int] = {}
        for row in rows:
            for text in texts_of(row[column])[:1]:
                counts[text] = counts.get(text, 0) + 1
        for row in rows:
            for text in texts_of(row[column])[:1]:
                if counts[text] == 1:
                    out.setdefault(str(row["id"]), set()).add(text)
    return out


def links(tables: dict[str, list[dict]]) -> list[str]:
    """Everything in a non-invitation table that points at one invitation."""
    found = []
    per_invitation = identifying(tables["invitations"])
    needles = {form: inv for inv, values in per_invitation.items() for v in values for form in derived(v)}
    long_needles = {n: inv for n, inv in needles.items() if len(n) >= 16}
    for table, rows in tables.items():
        if table == "invitations":
            continue
        for row in rows:
            for column, value in row.items():
                for text in texts_of(value):
                    if text in needles:  # equality of columns, also after hashing
                        found.append(f"{table}.{column} equals a form of invitation {needles[text]}")
                    for form in derived(text) - {text}:  # a hash of this cell is an invitation's value
                        if form in needles:
                            found.append(f"hash of {table}.{column} equals invitation {needles[form]}")
                    for needle, inv in long_needles.items():  # substring search
                        if needle in text and needle != text:
                            found.append(f"{table}.{column} contains a form of invitation {inv}")
    return found


def plaintext(tables: dict[str, list[dict]], markers) -> list[str]:
    found = []
    for table, rows in tables.items():
        for row in rows:
            for column, value in row.items():
                for text in texts_of(value):
                    found += [f"{table}.{column}: {m[:20]}" for m in markers if m in text or "QX" + m[-2:] in text]
    return found


def test_the_database_alone_links_no_progress_and_no_response_to_an_invitation(any_store):
    fill(any_store)
    tables = dump(any_store)
    assert len(tables["invitations"]) == 18 and len(tables["responses"]) == 5
    assert len(tables["progress"]) == 7  # six invited respondents and one open link, still answering
    assert links(tables) == []
    # the join that used to work, and every equality join between columns of the tables, in SQL
    names = sa.inspect(any_store.engine).get_table_names()
    columns = {t: [c["name"] for c in sa.inspect(any_store.engine).get_columns(t)] for t in names}
    text = "TEXT" if any_store.dialect == "sqlite" else "text"
    with any_store.read() as conn:
        for other in ("progress", "responses", "export_audit", "signin_failures"):
            for a in columns[other]:
                for b in columns["invitations"]:
                    if (a, b) in {("campaign_id", "campaign_id")} or b in ("unit", "status", "created_at"):
                        continue  # shared by whole groups of invitations, by design (checked by `links` above)
                    joined = conn.exec_driver_sql(
                        f'SELECT count(*) FROM "{other}" o JOIN invitations i '
                        f'ON CAST(o."{a}" AS {text}) = CAST(i."{b}" AS {text})').scalar_one()
                    assert joined == 0, f"{other}.{a} joins invitations.{b}"


def test_no_unfinished_answer_is_readable_from_the_database(any_store, tmp_path):
    fill(any_store)
    tables = dump(any_store)
    assert plaintext(tables, UNFINISHED) == []
    assert "SUBMITTED-0 all fine" in json.dumps([texts_of(r["answers"]) for r in tables["responses"]])  # by design
    for row in tables["progress"]:
        assert len(bytes(row["sealed"])) >= 1024


def test_the_sqlite_file_holds_no_unfinished_answer_and_no_draft_of_a_submitted_one(sqlite_store, tmp_path):
    fill(sqlite_store)
    with sqlite_store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    content = b"".join(p.read_bytes() for p in tmp_path.glob("tandem.db*"))
    for marker in UNFINISHED + [f"draft of {n}" for n in range(5)]:
        assert marker.encode() not in content


def test_no_stored_time_of_respondents_data_is_finer_than_the_hour(any_store):
    fill(any_store)
    tables = dump(any_store)
    inspector = sa.inspect(any_store.engine)
    checked = 0
    for table in tables:
        for column in inspector.get_columns(table):
            if not isinstance(column["type"], sa.DateTime) or (table, column["name"]) in STAFF_TIMES:
                continue
            for row in tables[table]:
                value = row[column["name"]]
                if value is None:
                    continue
                if isinstance(value, str):
                    value = dt.datetime.fromisoformat(value)
                checked += 1
                assert (value.minute, value.second, value.microsecond) == (0, 0, 0), (table, column["name"], value)
    assert checked >= 18 + 7 + 10  # invitations, progress, responses (started and submitted), campaigns ...


def test_the_detectors_find_the_old_scheme_and_plain_text(any_store):
    """Positive controls: progress stored the old way (sha256(token) key, plain JSON) is found."""
    filled = fill(any_store)
    tables = dump(any_store)
    token = filled["in_progress"][0]
    old_row = {"campaign_id": "ee1", "key_hash": cp.hash_token(token), "page": 2,
               "progress": {"comment": UNFINISHED[0]}, "updated_at": dt.datetime(2026, 1, 1, 10, 17)}
    tables["partials"] = [old_row]
    assert links(tables) and plaintext(tables, UNFINISHED)
    tables["partials"] = [{"key": hashlib.sha256(cp.hash_token(token).encode()).hexdigest()}]  # a hash of the hash
    assert links(tables)


@pytest.mark.parametrize("column", ["id", "token_hash"])
def test_responses_carry_nothing_of_their_invitation(any_store, column):
    filled = fill(any_store)
    tables = dump(any_store)
    values = {str(r[column]) for r in tables["invitations"]}
    for row in tables["responses"]:
        dumped = json.dumps({k: texts_of(v) for k, v in row.items()}, default=str)
        assert not any(v in dumped for v in values)
    assert {str(r["status"]) for r in tables["invitations"]} == {"issued", "used"}
    assert sum(r["status"] == "used" for r in tables["invitations"]) == len(filled["submitted"])
