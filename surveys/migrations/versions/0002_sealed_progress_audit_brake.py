"""Sealed progress, the export audit and the sign-in brake.

* ``partials`` is dropped and replaced by ``progress``. The old table kept a
  respondent's in-progress answers in plain JSON under sha256(token), which is the
  invitation's ``token_hash``: one join tied unfinished answers (free text included) to
  an invitation. The new table keeps them under an HMAC of the token under its own
  purpose label, sealed with AES-256-GCM under a key derived from the token
  (``surveys.campaigns``). Old rows cannot be re-keyed or sealed without the tokens,
  which the database never had: **in-progress answers saved before this upgrade are
  discarded** (respondents who had started begin their survey again; submitted
  responses are untouched).
* ``export_audit``: one row per raw-data download (``surveys.audit``), to the second.
* ``signin_failures``: failed staff passwords per client (a keyed hash of its address),
  so the sign-in brake holds across sessions, cache clears, restarts and processes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.drop_table("partials")
    op.create_table(
        "progress",
        sa.Column("campaign_id", sa.String(100), sa.ForeignKey("campaigns.id"), primary_key=True),
        sa.Column("key_id", sa.String(64), primary_key=True),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    op.create_index("ix_progress_updated_at", "progress", ["updated_at"])
    op.create_table(
        "export_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("campaign_id", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
    )
    op.create_index("ix_export_audit_campaign_at", "export_audit", ["campaign_id", "at"])
    op.create_table(
        "signin_failures",
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("first_at", Timestamp, nullable=False),
        sa.Column("last_at", Timestamp, nullable=False),
    )
    op.create_index("ix_signin_failures_last_at", "signin_failures", ["last_at"])


def downgrade() -> None:
    op.drop_table("signin_failures")
    op.drop_table("export_audit")
    op.drop_table("progress")
    op.create_table(  # empty: sealed progress cannot be turned back into the old plain form
        "partials",
        sa.Column("campaign_id", sa.String(100), sa.ForeignKey("campaigns.id"), primary_key=True),
        sa.Column("key_hash", sa.String(64), primary_key=True),
        sa.Column("page", sa.Integer, nullable=False),
        sa.Column("progress", sa.JSON, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
