"""Per-source daily summaries (entries, first index, first and last time per source and UTC
day), kept by every append, backfilled here from the stored entries.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from edgeaudit.store.summaries import REBUILD_SQL

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a new table: no batch rebuild of `entries`, so its append-only triggers are untouched
    op.create_table(
        "source_days",
        sa.Column("log_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("entries", sa.BigInteger(), nullable=False),
        sa.Column("first_idx", sa.BigInteger(), nullable=False),
        sa.Column("first_time", sa.String(40), nullable=False),
        sa.Column("last_time", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("log_id", "source", "day", name="pk_source_days"),
    )
    op.execute(REBUILD_SQL)


def downgrade() -> None:
    op.drop_table("source_days")
