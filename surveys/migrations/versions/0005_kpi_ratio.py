"""KPIs recomputed from components: ``aggregation: ratio`` with a numerator and a denominator.

* ``kpi_definitions.numerator``, ``kpi_definitions.denominator``: the ids of the two KPIs
  (aggregated by sum) whose rolled-up values a ratio KPI is recomputed from
  (:func:`surveys.kpis.rollup`); empty for ``mean`` and ``sum``.
* the check on ``aggregation`` allows ``ratio``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

CHECK = "ck_kpi_definitions_aggregation"


def upgrade() -> None:
    with op.batch_alter_table("kpi_definitions", recreate="auto") as batch:
        batch.add_column(sa.Column("numerator", sa.String(64), nullable=True))
        batch.add_column(sa.Column("denominator", sa.String(64), nullable=True))
        batch.drop_constraint(CHECK, type_="check")
        batch.create_check_constraint(CHECK, "aggregation IN ('mean', 'sum', 'ratio')")


def downgrade() -> None:
    op.execute("DELETE FROM kpi_definitions WHERE aggregation = 'ratio'")
    with op.batch_alter_table("kpi_definitions", recreate="auto") as batch:
        batch.drop_constraint(CHECK, type_="check")
        batch.create_check_constraint(CHECK, "aggregation IN ('mean', 'sum')")
        batch.drop_column("denominator")
        batch.drop_column("numerator")
