"""The database schema: every table of the store, as SQLAlchemy Core metadata.

:mod:`surveys.store` uses these tables (and re-exports them, ``db.responses``), and the
Alembic environment (``surveys/migrations/env.py``) compares migrations against
:data:`metadata`; the tests check that the migrated schema equals it. A change here needs
a new migration in ``surveys/migrations/versions/``.

Tables: :data:`instrument_versions`, :data:`campaigns`, :data:`invitations`,
:data:`progress`, :data:`responses` (respondents' data); :data:`export_audit` (who
downloaded raw data, :mod:`surveys.audit`) and :data:`signin_failures` (the password
brake of :mod:`surveys.auth`).
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["Timestamp", "campaigns", "export_audit", "instrument_versions", "invitations", "metadata", "progress",
           "responses", "signin_failures"]

metadata = sa.MetaData()

Timestamp = sa.DateTime(timezone=True)

instrument_versions = sa.Table(
    "instrument_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("instrument_id", sa.String(200), nullable=False),
    sa.Column("version", sa.String(100), nullable=False),
    sa.Column("yaml", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", Timestamp, nullable=False),
)

campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("id", sa.String(100), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("instrument_version_id", sa.Integer, sa.ForeignKey("instrument_versions.id"), nullable=False),
    sa.Column("audience", sa.String(20), nullable=False),
    sa.Column("wave", sa.String(100), nullable=False),
    sa.Column("opens_at", Timestamp, nullable=True),
    sa.Column("closes_at", Timestamp, nullable=True),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("mode", sa.String(10), nullable=False),
    sa.Column("min_group_size", sa.Integer, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.CheckConstraint("status IN ('draft', 'open', 'closed')", name="ck_campaigns_status"),
    sa.CheckConstraint("mode IN ('open', 'invited')", name="ck_campaigns_mode"),
)

invitations = sa.Table(
    "invitations",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("campaign_id", sa.String(100), sa.ForeignKey("campaigns.id"), nullable=False),
    sa.Column("unit", sa.String(200), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.CheckConstraint("status IN ('issued', 'used')", name="ck_invitations_status"),
    sa.Index("ix_invitations_campaign_unit", "campaign_id", "unit"),
)

progress = sa.Table(
    "progress",
    metadata,
    sa.Column("campaign_id", sa.String(100), sa.ForeignKey("campaigns.id"), primary_key=True),
    sa.Column("key_id", sa.String(64), primary_key=True),
    sa.Column("sealed", sa.LargeBinary, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Index("ix_progress_updated_at", "updated_at"),
)

responses = sa.Table(
    "responses",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("campaign_id", sa.String(100), sa.ForeignKey("campaigns.id"), nullable=False),
    sa.Column("unit", sa.String(200), nullable=True),
    sa.Column("language", sa.String(20), nullable=False),
    sa.Column("started_at", Timestamp, nullable=True),
    sa.Column("submitted_at", Timestamp, nullable=False),
    sa.Column("answers", sa.JSON, nullable=False),
    sa.Index("ix_responses_campaign_unit", "campaign_id", "unit"),
)


export_audit = sa.Table(
    "export_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("actor", sa.String(320), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("campaign_id", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Index("ix_export_audit_campaign_at", "campaign_id", "at"),
)

signin_failures = sa.Table(
    "signin_failures",
    metadata,
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("first_at", Timestamp, nullable=False),
    sa.Column("last_at", Timestamp, nullable=False),
    sa.Index("ix_signin_failures_last_at", "last_at"),
)
