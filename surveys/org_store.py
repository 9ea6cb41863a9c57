"""The organisation in the store, versioned by date.

Each import is a **version in force from its as-of date**: the organisation in force on a
day is the version with the latest as-of date on or before that day (of two versions with
the same date, the one imported last: a corrected file replaces a wrong one from the same
date, and the wrong one stays on record). Importing content equal to the version already
in force on the as-of date changes nothing (same version id back), so running an import
twice is harmless.

API overview
------------
``import_organisation(store, org, *, as_of, source="") -> OrgImport``;
``org_at(store, day=None) -> Organisation | None`` (today by default; ``None`` before the
first version); ``version_at(store, day=None) -> OrgVersion | None``;
``org_version(store, version_id) -> Organisation``; ``list_versions(store) -> list[OrgVersion]``;
``units_during(store, start, end) -> set[str]`` (units of every version in force at some
day of the period: what KPI imports accept).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from surveys import store as db
from surveys.errors import TandemError
from surveys.organisation import Organisation, OrgUnit
from surveys.schema import org_managers, org_units, org_versions

__all__ = ["OrgImport", "OrgVersion", "import_organisation", "list_versions", "org_at", "org_version",
           "parse_day", "units_during", "version_at"]

#: Units inserted per statement.
INSERT_CHUNK = 5_000


@dataclass(frozen=True)
class OrgVersion:
    """One stored organisation version: ``id``, in force from ``as_of``, ``units``, content ``sha256``."""

    id: int
    as_of: dt.date
    sha256: str
    units: int
    source: str
    created_at: dt.datetime


@dataclass(frozen=True)
class OrgImport:
    """What an import did: the version in force from ``as_of`` and whether it is ``new``."""

    version: OrgVersion
    new: bool


def parse_day(value: str | dt.date | None, *, where: str = "--as-of") -> dt.date:
    """A calendar day from ``2026-07-01`` (or a date); today (UTC) for ``None``."""
    if value is None:
        return db.utcnow().date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise TandemError(f"'{str(value)[:40]}' is not a date", where=where,
                          fix="Write the date as YYYY-MM-DD, e.g. 2026-07-01.") from None


def _version_of(row: Any) -> OrgVersion:
    m = row._mapping
    return OrgVersion(m["id"], m["as_of"], m["sha256"], m["units"], m["source"], db.as_utc(m["created_at"]))


def _in_force(conn: Connection, day: dt.date) -> OrgVersion | None:
    v = org_versions
    row = conn.execute(sa.select(v).where(v.c.as_of <= day).order_by(v.c.as_of.desc(), v.c.id.desc())
                       .limit(1)).first()
    return _version_of(row) if row is not None else None


def import_organisation(store: db.Store, org: Organisation, *, as_of: str | dt.date,
                        source: str = "") -> OrgImport:
    """Store ``org`` as the version in force from ``as_of`` (one transaction; idempotent).

    Returns
    -------
    OrgImport
        The version now in force from ``as_of``; ``new`` is False when the content equals the
        version that was in force on that day already (nothing was written).
    """
    day = parse_day(as_of)

    def tx(conn: Connection) -> OrgImport:
        current = _in_force(conn, day)
        if current is not None and current.sha256 == org.sha256:
            return OrgImport(current, False)
        version_id = conn.execute(org_versions.insert().values(
            as_of=day, sha256=org.sha256, units=len(org), source=str(source)[:300],
            created_at=db.utcnow()).returning(org_versions.c.id)).scalar_one()
        units = [{"org_version_id": version_id, "unit_id": u.id, "position": i, "name": u.name,
                  "parent_id": u.parent, "level": u.level, "attributes": dict(u.attributes)}
                 for i, u in enumerate(org.units.values())]
        managers = [{"org_version_id": version_id, "unit_id": u.id, "email": email}
                    for u in org.units.values() for email in u.managers]
        for rows, table in ((units, org_units), (managers, org_managers)):
            for start in range(0, len(rows), INSERT_CHUNK):
                conn.execute(table.insert(), rows[start:start + INSERT_CHUNK])
        row = conn.execute(sa.select(org_versions).where(org_versions.c.id == version_id)).one()
        return OrgImport(_version_of(row), True)

    return store.run(tx)


def version_at(store: db.Store, day: str | dt.date | None = None) -> OrgVersion | None:
    """The version in force on ``day`` (default today), or ``None`` when none is yet."""
    when = parse_day(day)
    return store.run(lambda conn: _in_force(conn, when), write=False)


def list_versions(store: db.Store) -> list[OrgVersion]:
    """Every stored version, by as-of date then import order."""
    v = org_versions
    rows = store.run(lambda conn: conn.execute(sa.select(v).order_by(v.c.as_of, v.c.id)).all(), write=False)
    return [_version_of(r) for r in rows]


def org_version(store: db.Store, version_id: int) -> Organisation:
    """The organisation of one stored version (versions never change, so it is read once per process)."""
    return _cached(str(store.url), version_id, lambda: _load(store, version_id))


_CACHE: dict[tuple[str, int], Organisation] = {}


def _cached(url: str, version_id: int, load: Any) -> Organisation:
    key = (url, int(version_id))
    if key not in _CACHE:
        if len(_CACHE) >= 16:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = load()
    return _CACHE[key]


def _load(store: db.Store, version_id: int) -> Organisation:
    u, m = org_units, org_managers

    def tx(conn: Connection) -> tuple[list[Any], list[Any]]:
        units = conn.execute(sa.select(u).where(u.c.org_version_id == version_id).order_by(u.c.position)).all()
        managers = conn.execute(sa.select(m.c.unit_id, m.c.email).where(m.c.org_version_id == version_id)
                                .order_by(m.c.unit_id, m.c.email)).all()
        return units, managers

    units, managers = store.run(tx, write=False)
    if not units:
        raise TandemError(f"no organisation version {version_id}", where="organisation",
                          fix="List the versions with 'tandem org show'.")
    by_unit: dict[str, list[str]] = {}
    for unit_id, email in managers:
        by_unit.setdefault(unit_id, []).append(email)
    return Organisation(OrgUnit(r.unit_id, r.name, r.parent_id, r.level, tuple(by_unit.get(r.unit_id, ())),
                                dict(r.attributes or {})) for r in units)


def org_at(store: db.Store, day: str | dt.date | None = None) -> Organisation | None:
    """The organisation in force on ``day`` (default today); ``None`` before the first version."""
    version = version_at(store, day)
    return org_version(store, version.id) if version is not None else None


def units_during(store: db.Store, start: dt.date, end: dt.date) -> set[str]:
    """Ids of the units of every version in force on some day from ``start`` to ``end`` (inclusive)."""
    v, u = org_versions, org_units

    def tx(conn: Connection) -> list[int]:
        first = _in_force(conn, start)
        later: dict[dt.date, int] = {}
        for version_id, day in conn.execute(sa.select(v.c.id, v.c.as_of).where(v.c.as_of > start, v.c.as_of <= end)
                                            .order_by(v.c.id)).all():
            later[day] = version_id  # of two versions of one day, only the last imported was in force
        return [*([first.id] if first else []), *later.values()]

    ids = store.run(tx, write=False)
    if not ids:
        return set()
    return set(store.run(lambda conn: conn.execute(
        sa.select(u.c.unit_id).where(u.c.org_version_id.in_(ids)).distinct()).scalars().all(), write=False))

