"""Collector state: the quarantine of unparseable records and per-source resume offsets.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("log_id", sa.Integer(), nullable=False),
        sa.Column("source_kind", sa.String(64), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("location", sa.String(1024), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("raw_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(["log_id"], ["logs.id"], name="fk_quarantine_log_id_logs"),
        sa.PrimaryKeyConstraint("id", name="pk_quarantine"),
        sa.UniqueConstraint(
            "log_id", "source_kind", "location", "raw_sha256", name="uq_quarantine_record"
        ),
    )
    op.create_table(
        "source_offsets",
        sa.Column("log_id", sa.Integer(), nullable=False),
        sa.Column("source_kind", sa.String(64), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("byte_offset", sa.BigInteger(), nullable=False),
        sa.Column("head_sha256", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(["log_id"], ["logs.id"], name="fk_source_offsets_log_id_logs"),
        sa.PrimaryKeyConstraint("log_id", "source_kind", "path", name="pk_source_offsets"),
    )


def downgrade() -> None:
    op.drop_table("source_offsets")
    op.drop_table("quarantine")
