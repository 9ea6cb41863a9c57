"""Initial schema: instrument versions, campaigns, invitations, partials, responses.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "instrument_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("instrument_id", sa.String(200), nullable=False),
        sa.Column("version", sa.String(100), nullable=False),
        sa.Column("yaml", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_table(
        "campaigns",
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
    op.create_table(
        "invitations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("campaign_id", sa.String(100), sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("unit", sa.String(200), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.CheckConstraint("status IN ('issued', 'used')", name="ck_invitations_status"),
    )
    op.create_index("ix_invitations_campaign_unit", "invitations", ["campaign_id", "unit"])
    op.create_table(
        "partials",
        sa.Column("campaign_id", sa.String(100), sa.ForeignKey("campaigns.id"), primary_key=True),
        sa.Column("key_hash", sa.String(64), primary_key=True),
        sa.Column("page", sa.Integer, nullable=False),
        sa.Column("progress", sa.JSON, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    op.create_table(
        "responses",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("campaign_id", sa.String(100), sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("unit", sa.String(200), nullable=True),
        sa.Column("language", sa.String(20), nullable=False),
        sa.Column("started_at", Timestamp, nullable=True),
        sa.Column("submitted_at", Timestamp, nullable=False),
        sa.Column("answers", sa.JSON, nullable=False),
    )
    op.create_index("ix_responses_campaign_unit", "responses", ["campaign_id", "unit"])


def downgrade() -> None:
    op.drop_table("responses")
    op.drop_table("partials")
    op.drop_table("invitations")
    op.drop_table("campaigns")
    op.drop_table("instrument_versions")
