"""Alembic migrations of the Tandem schema, run programmatically when a store opens.

:func:`upgrade` brings a database to the newest revision inside one write transaction
(``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL), so several app
processes starting at once against an empty database do not race each other.
New revisions go to ``versions/`` (``alembic revision`` with ``script_location`` set to
this directory, or by hand following ``0001_initial.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config

__all__ = ["alembic_config", "upgrade"]

HERE = Path(__file__).resolve().parent

#: Key of the PostgreSQL advisory lock taken while migrating (any fixed 64-bit number).
_LOCK_KEY = 7_374_656_401


def alembic_config(connection: Any = None) -> Config:
    """An Alembic configuration for this directory (no ``alembic.ini`` needed)."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["connection"] = connection
    return config


def upgrade(store: Any, revision: str = "head") -> None:
    """Migrate ``store`` (a :class:`surveys.store.Store`) to ``revision``."""
    with store.write() as conn:
        if store.dialect == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})")
        command.upgrade(alembic_config(conn), revision)
