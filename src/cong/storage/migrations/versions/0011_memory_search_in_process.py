"""memory search in process: the database full-text indexes of memories go (the
in-process index of ``memory/user_index.py`` replaced them on SQLite and PostgreSQL);
each memory records the owner's revision it was written at, and the owner's deletes are
counted, so that index reads only what changed

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TRIGGERS = ("memories_fts_insert", "memories_fts_delete", "memories_fts_update")
SQLITE_FTS = [
    "CREATE VIRTUAL TABLE memory_fts USING fts5(text, content='memories', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN "
    "INSERT INTO memory_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN "
    "INSERT INTO memory_fts(memory_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER memories_fts_update AFTER UPDATE OF text ON memories BEGIN "
    "INSERT INTO memory_fts(memory_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO memory_fts(rowid, text) VALUES (new.id, new.text); END",
    "INSERT INTO memory_fts(memory_fts) VALUES ('rebuild')",
]
POSTGRES_FTS = "CREATE INDEX ix_memories_fts ON memories USING gin (to_tsvector('simple', text))"


def upgrade() -> None:
    with op.batch_alter_table("memories") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
        batch.create_index("ix_memories_user_revision", ["user_id", "revision"])
    with op.batch_alter_table("memory_revisions") as batch:
        batch.add_column(sa.Column("deletions", sa.Integer(), nullable=False, server_default="0"))
    if op.get_bind().dialect.name == "sqlite":
        for name in TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS memory_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_memories_fts")


def downgrade() -> None:
    with op.batch_alter_table("memory_revisions") as batch:
        batch.drop_column("deletions")
    with op.batch_alter_table("memories") as batch:
        batch.drop_index("ix_memories_user_revision")
        batch.drop_column("revision")
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)
    else:
        op.execute(POSTGRES_FTS)
