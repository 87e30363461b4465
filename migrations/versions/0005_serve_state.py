"""The state several ``edgeaudit serve`` hosts share on a PostgreSQL store: page sessions,
rate-limit buckets and export jobs (with the finished packs, in chunks). Tables of their own,
updated and deleted freely: never the append-only evidence tables. Only on PostgreSQL; a
SQLite workspace keeps this state in ``serve/state.db`` next to its store.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("serve_export_chunks", "serve_exports", "serve_buckets", "serve_sessions")


def _postgres() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def upgrade() -> None:
    if not _postgres():
        return
    op.create_table(
        "serve_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),  # SHA-256 of the cookie value
        sa.Column("jti", sa.String(128), nullable=False),
        sa.Column("subject", sa.String(256), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("tenant", sa.String(128), nullable=True),
        sa.Column("token_expires", sa.BigInteger(), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("expires", sa.Float(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
    )
    op.create_index("ix_serve_sessions_expires", "serve_sessions", ["expires"])
    op.create_table(
        "serve_buckets",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("last", sa.Float(), nullable=False),
        sa.Column("granted", sa.Integer(), nullable=False),  # tokens the last take got
    )
    op.create_table(
        "serve_exports",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("tenant", sa.String(128), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_at", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.Column("owner", sa.String(300), nullable=True),  # host:pid:nonce of the builder
        sa.Column("heartbeat", sa.Float(), nullable=True),
        sa.Column("record", sa.Text(), nullable=False),  # the job as JSON
    )
    op.create_index("ix_serve_exports_status", "serve_exports", ["status", "requested_at"])
    op.create_table(
        "serve_export_chunks",
        sa.Column(
            "job_id",
            sa.String(32),
            sa.ForeignKey("serve_exports.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "seq", name="pk_serve_export_chunks"),
    )


def downgrade() -> None:
    if not _postgres():
        return
    for table in TABLES:
        op.drop_table(table)
