"""Entry indices and checkpoint sizes cannot be negative.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

SQLite applies this with Alembic's batch mode, which rebuilds the table and drops its triggers:
the append-only triggers are re-created at the end (tests check they exist).
"""

from __future__ import annotations

from alembic import op

from edgeaudit.store.triggers import create_append_only_triggers

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("entries") as batch:
        batch.create_check_constraint("ck_entries_idx_nonnegative", "idx >= 0")
    with op.batch_alter_table("checkpoints") as batch:
        batch.create_check_constraint("ck_checkpoints_size_nonnegative", "tree_size >= 0")
    create_append_only_triggers(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("checkpoints") as batch:
        batch.drop_constraint("ck_checkpoints_size_nonnegative", type_="check")
    with op.batch_alter_table("entries") as batch:
        batch.drop_constraint("ck_entries_idx_nonnegative", type_="check")
    create_append_only_triggers(op.get_bind())
