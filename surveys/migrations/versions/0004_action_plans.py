"""Action plans per unit: the driver they target, their actions and who changed them.

* ``action_plans``: one plan per row: the unit, the instrument and driver construct it
  targets, the unit whose ranked drivers offered it (the unit or an ancestor), the
  owner's e-mail address, notes, and when and by whom it was created and last changed.
* ``action_plan_actions``: the plan's actions with a due date and a status (planned,
  in_progress, done, dropped).
* ``action_plan_changes``: one row per change (who, in which role, when to the second,
  what), the audit trail of :mod:`surveys.action_plans`.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "action_plans",
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
    )
    op.create_index("ix_action_plans_unit", "action_plans", ["unit_id"])
    op.create_table(
        "action_plan_actions",
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
    )
    op.create_index("ix_action_plan_actions_plan", "action_plan_actions", ["plan_id"])
    op.create_index("ix_action_plan_actions_due", "action_plan_actions", ["status", "due"])
    op.create_table(
        "action_plan_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("plan_id", sa.Integer, sa.ForeignKey("action_plans.id"), nullable=False),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("change", sa.String(40), nullable=False),
        sa.Column("detail", sa.String(500), nullable=False),
    )
    op.create_index("ix_action_plan_changes_plan_at", "action_plan_changes", ["plan_id", "at"])


def downgrade() -> None:
    op.drop_table("action_plan_changes")
    op.drop_table("action_plan_actions")
    op.drop_table("action_plans")
