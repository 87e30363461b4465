"""Initial evidence store: logs, entries, tiles, checkpoints, append-only triggers.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from edgeaudit.store.triggers import create_append_only_triggers, drop_append_only_triggers

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "logs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("origin", sa.String(255), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("chain_head", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_logs"),
        sa.UniqueConstraint("origin", name="uq_logs_origin"),
    )
    op.create_table(
        "entries",
        sa.Column("log_id", sa.Integer(), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(), nullable=False),
        sa.Column("fp_key", sa.LargeBinary(), nullable=False),
        sa.Column("time", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(128), nullable=False),
        sa.Column("tenant", sa.String(128), nullable=True),
        sa.Column("source", sa.String(128), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        # No foreign key to logs: a per-row check costs ~20 % of an append on PostgreSQL, and
        # only EvidenceLog.append writes here, with the id of the log row it has locked.
        sa.PrimaryKeyConstraint("log_id", "idx", name="pk_entries"),
        sa.UniqueConstraint("log_id", "fp_key", name="uq_entries_fp_key"),
    )
    op.create_table(
        "tiles",
        sa.Column("log_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False, autoincrement=False),
        sa.Column("tidx", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["log_id"], ["logs.id"], name="fk_tiles_log_id_logs"),
        sa.PrimaryKeyConstraint("log_id", "level", "tidx", name="pk_tiles"),
    )
    op.create_table(
        "checkpoints",
        sa.Column("log_id", sa.Integer(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(["log_id"], ["logs.id"], name="fk_checkpoints_log_id_logs"),
        sa.PrimaryKeyConstraint("log_id", "tree_size", name="pk_checkpoints"),
    )
    create_append_only_triggers(op.get_bind())


def downgrade() -> None:
    drop_append_only_triggers(op.get_bind())
    op.drop_table("checkpoints")
    op.drop_table("tiles")
    op.drop_table("entries")
    op.drop_table("logs")
