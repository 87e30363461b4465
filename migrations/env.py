"""Alembic environment for the edgeaudit evidence store.

edgeaudit runs migrations programmatically (``edgeaudit db upgrade``); the caller passes an open
SQLAlchemy connection in ``config.attributes["connection"]``. SQLite uses batch mode for ALTER;
batch mode rebuilds tables and drops triggers, so every migration that touches an append-only
table re-creates its triggers (``migrations/triggers.py``) and the tests check they exist.
"""

from __future__ import annotations

from alembic import context

from edgeaudit.store.schema import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `edgeaudit db upgrade` (no connection given)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
