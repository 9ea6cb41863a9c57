"""The database schema: every table of the store, as SQLAlchemy Core metadata.

:mod:`surveys.store` uses these tables (and re-exports them, ``db.responses``), and the
Alembic environment (``surveys/migrations/env.py``) compares migrations against
:data:`metadata`; the tests check that the migrated schema equals it. A change here needs
a new migration in ``surveys/migrations/versions/``.

Tables: :data:`instrument_versions`, :data:`campaigns`, :data:`invitations`,
:data:`progress`, :data:`responses` (respondents' data); :data:`export_audit` (who
downloaded raw data, :mod:`surveys.audit`) and :data:`signin_failures` (the password
brake of :mod:`surveys.auth`); :data:`org_versions`, :data:`org_units`, :data:`org_managers` (the
organisation by date, :mod:`surveys.org_store`), :data:`campaign_units` (the units a campaign
took from the organisation), :data:`kpi_definitions` and :data:`kpi_values` (business KPIs,
:mod:`surveys.kpis`); :data:`action_plans`, :data:`action_plan_actions` and
:data:`action_plan_changes` (action plans per unit and who changed them,
:mod:`surveys.action_plans`); :data:`published_results` (the Insight pages' results computed
ahead, :mod:`surveys.published`).
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["Timestamp", "action_plan_actions", "action_plan_changes", "action_plans", "campaign_units", "campaigns",
           "export_audit", "instrument_versions", "invitations", "kpi_definitions", "kpi_values", "metadata",
           "org_managers", "org_units", "org_versions", "progress", "published_results", "responses",
           "signin_failures"]

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


# --------------------------------------------------------------------------- organisation and KPIs

org_versions = sa.Table(
    "org_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("units", sa.Integer, nullable=False),
    sa.Column("source", sa.String(300), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Index("ix_org_versions_as_of", "as_of", "id"),
)

org_units = sa.Table(
    "org_units",
    metadata,
    sa.Column("org_version_id", sa.Integer, sa.ForeignKey("org_versions.id"), primary_key=True),
    sa.Column("unit_id", sa.String(200), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("name", sa.String(1000), nullable=False),
    sa.Column("parent_id", sa.String(200), nullable=True),
    sa.Column("level", sa.String(100), nullable=False),
    sa.Column("attributes", sa.JSON, nullable=False),
)

org_managers = sa.Table(
    "org_managers",
    metadata,
    sa.Column("org_version_id", sa.Integer, sa.ForeignKey("org_versions.id"), primary_key=True),
    sa.Column("unit_id", sa.String(200), primary_key=True),
    sa.Column("email", sa.String(320), primary_key=True),
    sa.Index("ix_org_managers_email", "email"),
)

campaign_units = sa.Table(
    "campaign_units",
    metadata,
    sa.Column("campaign_id", sa.String(100), sa.ForeignKey("campaigns.id"), primary_key=True),
    sa.Column("org_version_id", sa.Integer, sa.ForeignKey("org_versions.id"), nullable=False),
    sa.Column("level", sa.String(100), nullable=True),
    sa.Column("units", sa.JSON, nullable=False),
)

kpi_definitions = sa.Table(
    "kpi_definitions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("label", sa.String(200), nullable=False),
    sa.Column("higher_is_better", sa.Boolean, nullable=False),
    sa.Column("measure", sa.String(50), nullable=False),
    sa.Column("aggregation", sa.String(20), nullable=False),
    sa.Column("weight", sa.String(64), nullable=True),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("numerator", sa.String(64), nullable=True),
    sa.Column("denominator", sa.String(64), nullable=True),
    sa.CheckConstraint("aggregation IN ('mean', 'sum', 'ratio')", name="ck_kpi_definitions_aggregation"),
)

kpi_values = sa.Table(
    "kpi_values",
    metadata,
    sa.Column("kpi_id", sa.String(64), sa.ForeignKey("kpi_definitions.id"), primary_key=True),
    sa.Column("unit_id", sa.String(200), primary_key=True),
    sa.Column("period", sa.String(7), primary_key=True),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("imported_at", Timestamp, nullable=False),
    sa.Index("ix_kpi_values_period", "period"),
)


# --------------------------------------------------------------------------- action plans

action_plans = sa.Table(
    "action_plans",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("unit_id", sa.String(200), nullable=False),
    sa.Column("instrument_id", sa.String(200), nullable=False),
    sa.Column("driver", sa.String(64), nullable=False),
    sa.Column("driver_unit", sa.String(200), nullable=False),
    sa.Column("owner", sa.String(320), nullable=False),
    sa.Column("notes", sa.Text, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("created_by", sa.String(320), nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("updated_by", sa.String(320), nullable=False),
    sa.Index("ix_action_plans_unit", "unit_id"),
)

action_plan_actions = sa.Table(
    "action_plan_actions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("plan_id", sa.Integer, sa.ForeignKey("action_plans.id"), nullable=False),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("due", sa.Date, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("updated_by", sa.String(320), nullable=False),
    sa.CheckConstraint("status IN ('planned', 'in_progress', 'done', 'dropped')",
                       name="ck_action_plan_actions_status"),
    sa.Index("ix_action_plan_actions_plan", "plan_id"),
    sa.Index("ix_action_plan_actions_due", "status", "due"),
)

action_plan_changes = sa.Table(
    "action_plan_changes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("plan_id", sa.Integer, sa.ForeignKey("action_plans.id"), nullable=False),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("actor", sa.String(320), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("change", sa.String(40), nullable=False),
    sa.Column("detail", sa.String(500), nullable=False),
    sa.Index("ix_action_plan_changes_plan_at", "plan_id", "at"),
)


published_results = sa.Table(
    "published_results",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("campaigns", sa.String(2000), nullable=False),
    sa.Column("version", sa.String(4000), nullable=False),
    sa.Column("node", sa.String(200), nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.UniqueConstraint("version", "node", name="uq_published_results_version_node"),
    sa.Index("ix_published_results_campaigns", "campaigns"),
)
