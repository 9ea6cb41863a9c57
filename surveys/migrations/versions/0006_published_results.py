"""Results computed ahead for the Insight pages.

* ``published_results``: one row per campaign set, data version and organisation node
  (``""``: everything): the compressed JSON of what the pages show for that node
  (:mod:`surveys.published`, written by ``tandem analyze publish``). ``campaigns`` is the
  sorted campaign ids, so a new version replaces the old one's rows.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "published_results",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("campaigns", sa.String(2000), nullable=False),
        sa.Column("version", sa.String(4000), nullable=False),
        sa.Column("node", sa.String(200), nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("version", "node", name="uq_published_results_version_node"),
    )
    op.create_index("ix_published_results_campaigns", "published_results", ["campaigns"])


def downgrade() -> None:
    op.drop_index("ix_published_results_campaigns", table_name="published_results")
    op.drop_table("published_results")
