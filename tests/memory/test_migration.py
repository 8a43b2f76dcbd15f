"""The memory migration goes down and up again on SQLite and PostgreSQL, and on SQLite
its full-text index follows the memories table (insert, edit, delete)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, inspect, text

from cong.storage.database import alembic_config, migrate

USER = (
    "INSERT INTO users (id, name, role, enabled, created_at, balance, credit_limit) "
    "VALUES (1, 'u', 'user', 1, '2026-01-01', 0, 0)"
)
MEMORY = (
    "INSERT INTO memories (user_id, text, kind, pinned, created_at, updated_at) "
    "VALUES (1, 'Tôi sống ở Huế', 'explicit', 0, '2026-01-01', '2026-01-01')"
)


def _matches(connection: object, word: str) -> list[object]:
    query = text("SELECT rowid FROM memory_fts WHERE memory_fts MATCH :q")
    return list(connection.execute(query, {"q": f'"{word}"'}).all())  # type: ignore[attr-defined]


def test_the_full_text_index_follows_memories_on_sqlite(tmp_path: object) -> None:
    path = f"{tmp_path}/m.db"
    migrate(f"sqlite+aiosqlite:///{path}")
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text(USER))
        connection.execute(text(MEMORY))
        # Accents are folded: typed without them, Vietnamese still matches.
        assert _matches(connection, "hue") == [(1,)]
        connection.execute(text("UPDATE memories SET text = 'Tôi sống ở Hà Nội' WHERE id = 1"))
        assert _matches(connection, "hue") == [] and _matches(connection, "nội") == [(1,)]
        connection.execute(text("DELETE FROM memories WHERE id = 1"))
        assert _matches(connection, "noi") == []
    engine.dispose()


def test_the_memory_migration_goes_down_and_up(database_url: str) -> None:
    migrate(database_url)
    command.downgrade(alembic_config(database_url), "0008")
    if database_url.startswith("sqlite"):
        engine = create_engine(database_url.replace("sqlite+aiosqlite", "sqlite"))
        names = set(inspect(engine).get_table_names())
        engine.dispose()
        assert not names & {"memories", "memory_fts", "conversations", "conversation_messages"}
    migrate(database_url)
