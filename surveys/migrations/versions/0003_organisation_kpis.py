"""The organisation by date, the units campaigns take from it, and business KPIs.

* ``org_versions``: one row per imported organisation version, in force from ``as_of``
  (the latest import wins among versions of the same date); ``org_units`` and
  ``org_managers`` hold its units and their managers' addresses (``surveys.org_store``).
* ``campaign_units``: the units a campaign took from the organisation in force when it
  was created (a snapshot, so a later organisation never changes an old campaign).
* ``kpi_definitions`` and ``kpi_values``: declared KPIs and their values per unit and
  period (``surveys.kpis``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "org_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("units", sa.Integer, nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_index("ix_org_versions_as_of", "org_versions", ["as_of", "id"])
    op.create_table(
        "org_units",
        sa.Column("org_version_id", sa.Integer, sa.ForeignKey("org_versions.id"), primary_key=True),
        sa.Column("unit_id", sa.String(200), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name", sa.String(1000), nullable=False),
        sa.Column("parent_id", sa.String(200), nullable=True),
        sa.Column("level", sa.String(100), nullable=False),
        sa.Column("attributes", sa.JSON, nullable=False),
    )
    op.create_table(
        "org_managers",
        sa.Column("org_version_id", sa.Integer, sa.ForeignKey("org_versions.id"), primary_key=True),
        sa.Column("unit_id", sa.String(200), primary_key=True),
        sa.Column("email", sa.String(320), primary_key=True),
    )
    op.create_index("ix_org_managers_email", "org_managers", ["email"])
    op.create_table(
        "campaign_units",
        sa.Column("campaign_id", sa.String(100), sa.ForeignKey("campaigns.id"), primary_key=True),
        sa.Column("org_version_id", sa.Integer, sa.ForeignKey("org_versions.id"), nullable=False),
        sa.Column("level", sa.String(100), nullable=True),
        sa.Column("units", sa.JSON, nullable=False),
    )
    op.create_table(
        "kpi_definitions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("higher_is_better", sa.Boolean, nullable=False),
        sa.Column("measure", sa.String(50), nullable=False),
        sa.Column("aggregation", sa.String(20), nullable=False),
        sa.Column("weight", sa.String(64), nullable=True),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.CheckConstraint("aggregation IN ('mean', 'sum')", name="ck_kpi_definitions_aggregation"),
    )
    op.create_table(
        "kpi_values",
        sa.Column("kpi_id", sa.String(64), sa.ForeignKey("kpi_definitions.id"), primary_key=True),
        sa.Column("unit_id", sa.String(200), primary_key=True),
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("imported_at", Timestamp, nullable=False),
    )
    op.create_index("ix_kpi_values_period", "kpi_values", ["period"])


def downgrade() -> None:
    op.drop_table("kpi_values")
    op.drop_table("kpi_definitions")
    op.drop_table("campaign_units")
    op.drop_table("org_managers")
    op.drop_table("org_units")
    op.drop_table("org_versions")
