"""Alembic environment: runs on the connection handed over by :func:`surveys.migrations.upgrade`."""

from __future__ import annotations

from alembic import context

from surveys.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the programmatic path is supported
    raise RuntimeError("run migrations through surveys.migrations.upgrade(store)")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
