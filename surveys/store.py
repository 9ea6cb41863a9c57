"""Durable storage of instruments, campaigns, invitations, partial progress and responses.

SQLAlchemy 2 Core on SQLite (default, a file ``data/tandem.db``) or PostgreSQL (psycopg 3,
``postgresql+psycopg://user:password@host:5432/db``); the URL comes from
``TANDEM_DATABASE_URL``. The schema is created and migrated with Alembic
(``surveys/migrations/``) each time a store is opened, so a fresh database or an old
one is always at the current schema.

API overview
------------
``open_store(url=None) -> Store``
    Connect (default URL as above), migrate, return the store. Raises :class:`StoreError`
    (URL shown without its password, and how to fix) when the database cannot be reached.
``Store.write() -> context manager of a Connection``
    One write transaction (``BEGIN IMMEDIATE`` on SQLite: a writer takes the write lock
    at the start, so concurrent writers queue on ``busy_timeout`` instead of failing with
    "database is locked" half-way).
``Store.read() -> context manager of a Connection``
    A read transaction.
``Store.run(fn, *, write=True)``
    ``fn(connection)`` inside a transaction, retried on busy/serialization/deadlock
    errors; the services in :mod:`surveys.campaigns` go through it.
``Store.dispose()``
    Close the connection pool.
Tables: :data:`instrument_versions`, :data:`campaigns`, :data:`invitations`,
:data:`progress`, :data:`responses` (respondents' data); :data:`export_audit` (who
downloaded raw data, :mod:`surveys.audit`) and :data:`signin_failures` (the password
brake of :mod:`surveys.auth`) (see :data:`metadata`).

Anonymity by design
-------------------
A row of ``responses`` has no invitation id, no token and no token hash: its id is a
random UUID and its times are truncated to the hour (:func:`coarse_time`), so neither
the order of rows nor a timestamp ties it to an invitation, to a line of a web server's
access log or to the moment an invitation was marked used. ``invitations`` keep only the
SHA-256 of a token and a status (``issued``/``used``), no time of use. Partial progress
(:data:`progress`) is kept under a key derived from the token with HMAC-SHA256 under its
own purpose label (never the invitation's hash, and not computable from anything in the
database) and sealed with AES-256-GCM under a second key derived from the token, so a
copy of the database shows neither whose progress a row is nor what it says; it is
deleted in the transaction that stores the response, when the campaign closes and
after ``TANDEM_PROGRESS_RETENTION_DAYS`` (:func:`surveys.campaigns.purge_progress`).
Marking an invitation used rewrites all invitation rows of its unit
(``surveys.campaigns._use_invitation``), so neither PostgreSQL's physical row order nor
the transaction id ``xmin`` of the rows lists used invitations in the order responses
arrived. What this does not protect against: someone with administrator access to the
database *server* who reads its internals (the SQLite and PostgreSQL write-ahead logs
keep recent changes in commit order; PostgreSQL keeps deleted partial progress in dead
row versions until VACUUM). SQLite runs with ``secure_delete`` so deleted partial
progress is overwritten in the file. See the README, "Collecting responses".
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from surveys.errors import TandemError
from surveys.schema import (  # re-exported: callers write ``db.responses``
    campaigns,
    export_audit,
    instrument_versions,
    invitations,
    metadata,
    progress,
    responses,
    signin_failures,
)

__all__ = [
    "DEFAULT_URL",
    "Store",
    "StoreError",
    "campaigns",
    "coarse_time",
    "export_audit",
    "instrument_versions",
    "invitations",
    "metadata",
    "open_store",
    "progress",
    "responses",
    "safe_url",
    "signin_failures",
    "utcnow",
]

#: Default database: an SQLite file under ``data/`` (relative to the working directory).
DEFAULT_URL = "sqlite:///data/tandem.db"

#: SQLite waits this long (milliseconds) for the write lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 60_000

#: Attempts of one transaction on busy/serialization/deadlock errors.
MAX_ATTEMPTS = 8

T = TypeVar("T")


class StoreError(TandemError):
    """The database cannot be opened, migrated or written."""


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


def coarse_time(moment: dt.datetime) -> dt.datetime:
    """``moment`` in UTC truncated to the hour: how response times are stored.

    A precise submit time could be matched with a web server's access log (which shows
    the token in the link) or with the order invitations were used; an hour mixes a
    respondent with everyone else who answered in that hour.
    """
    return as_utc(moment).replace(minute=0, second=0, microsecond=0)


def as_utc(moment: dt.datetime) -> dt.datetime:
    """A datetime in UTC; naive values (as SQLite returns them) are taken as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


# --------------------------------------------------------------------------- store


def safe_url(url: str | URL) -> str:
    """The URL as text with its password hidden (for messages and logs)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unreadable URL>"


class Store:
    """An open database: an engine plus transactions with retry (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.url = engine.url
        self.dialect = engine.dialect.name
        # SQLite has one writer at a time: writers of this process queue on a lock
        # (first come, first served, no polling) instead of on SQLite's busy handler,
        # which sleeps in growing steps; other processes still wait on busy_timeout.
        self._write_lock = threading.Lock() if self.dialect == "sqlite" else contextlib.nullcontext()

    def __repr__(self) -> str:
        return f"Store({safe_url(self.url)!r})"

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite), committed on exit."""
        with self._write_lock, self._connect() as conn:
            if self.dialect == "sqlite":
                conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """One read transaction (a consistent snapshot on SQLite WAL and PostgreSQL)."""
        with self._connect() as conn, conn.begin():
            yield conn

    def run(self, fn: Callable[[Connection], T], *, write: bool = True) -> T:
        """``fn(connection)`` in one transaction, retried on transient conflicts.

        Busy SQLite databases, PostgreSQL serialization failures, deadlocks and unique
        violations between simultaneous check-then-insert transactions are retried up to
        :data:`MAX_ATTEMPTS` times with jittered exponential back-off;
        :class:`~surveys.errors.TandemError` raised by ``fn`` rolls back and propagates.
        """
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with self.write() if write else self.read() as conn:
                    return fn(conn)
            except DBAPIError as exc:
                if attempt == MAX_ATTEMPTS or not _transient(exc):
                    raise self._error(exc) from exc
                time.sleep(min(0.02 * 2**attempt, 1.0) * random.random())
        raise AssertionError("unreachable")  # pragma: no cover

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def _connect(self) -> Connection:
        try:
            return self.engine.connect()
        except DBAPIError as exc:
            raise self._error(exc, "cannot connect to the database") from exc

    def _error(self, exc: DBAPIError, what: str = "the database refused the operation") -> StoreError:
        connecting = what.startswith("cannot connect") or (isinstance(exc, OperationalError) and _transient(exc))
        return StoreError(
            f"{what}: {_first_line(exc.orig)}",
            where=safe_url(self.url),
            fix=_fix_for(self.url) if connecting else (
                "Nothing was saved by this operation. If it happens again, report it with this message."),
        )


def _first_line(exc: BaseException | None) -> str:
    text = str(exc or "").strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _transient(exc: DBAPIError) -> bool:
    """Is this a conflict worth retrying (busy, locked, serialization failure, deadlock)?"""
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(getattr(orig, "diag", None), "sqlstate", None)
    if sqlstate in ("40001", "40P01", "55P03", "23505"):
        # serialization failure, deadlock, lock not available, and a unique violation from
        # two transactions inserting the same key at once (the retry sees the other's row)
        return True
    message = str(orig).lower()
    return isinstance(exc, OperationalError) and ("locked" in message or "busy" in message)


def _fix_for(url: URL) -> str:
    if url.get_backend_name() == "sqlite":
        return ("Check that the directory of the SQLite file exists and is writable, or set "
                "TANDEM_DATABASE_URL to another location (sqlite:///path/to/tandem.db).")
    return ("Check that the PostgreSQL server is running and reachable, that the user, password and "
            "database in TANDEM_DATABASE_URL are right (postgresql+psycopg://user:password@host:5432/db), "
            "or unset TANDEM_DATABASE_URL to use the local SQLite file data/tandem.db.")


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        pool_size=8,
        max_overflow=24,
        pool_timeout=120,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if database != ":memory:":
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA secure_delete = ON")  # deleted partial progress is overwritten, not left in free pages
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _engine(url: URL) -> Engine:
    backend = url.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url)
    if backend == "postgresql":
        if url.get_driver_name() != "psycopg":
            url = url.set(drivername="postgresql+psycopg")
        return sa.create_engine(url, pool_size=10, max_overflow=40, pool_timeout=120, pool_pre_ping=True)
    raise StoreError(
        f"unsupported database '{backend}'",
        where=safe_url(url),
        fix="Use sqlite:///path/to/tandem.db or postgresql+psycopg://user:password@host:5432/db.",
    )


def open_store(url: str | None = None, *, migrate: bool = True) -> Store:
    """Open (and migrate) the database at ``url``.

    Parameters
    ----------
    url
        SQLAlchemy URL; default ``TANDEM_DATABASE_URL`` or :data:`DEFAULT_URL`.
        ``postgresql://`` URLs are switched to the psycopg 3 driver.
    migrate
        Bring the schema to the newest Alembic revision (default).

    Raises
    ------
    StoreError
        The URL cannot be read, the server does not answer or the migration failed.
    """
    text = url or os.environ.get("TANDEM_DATABASE_URL") or DEFAULT_URL
    try:
        parsed = make_url(text)
    except ArgumentError:
        raise StoreError(
            "the database URL cannot be read",
            where=f"TANDEM_DATABASE_URL={safe_url(text)}",
            fix="Use sqlite:///path/to/tandem.db or postgresql+psycopg://user:password@host:5432/db.",
        ) from None
    store = Store(_engine(parsed))
    if migrate:
        from surveys.migrations import upgrade  # alembic is only needed here

        try:
            upgrade(store)
        except DBAPIError as exc:
            store.dispose()
            raise store._error(exc) from exc
    return store
