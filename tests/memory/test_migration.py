"""The memory migrations go down and up again on SQLite and PostgreSQL; the database
full-text index of memories is gone (search runs in process) and comes back, filled, on
a downgrade."""

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


def _tables(path: str) -> set[str]:
    engine = create_engine(f"sqlite:///{path}")
    names = set(inspect(engine).get_table_names())
    engine.dispose()
    return names


def test_the_database_full_text_index_is_gone_and_comes_back_filled(tmp_path: object) -> None:
    path = f"{tmp_path}/m.db"
    url = f"sqlite+aiosqlite:///{path}"
    migrate(url)
    assert "memory_fts" not in _tables(path)
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text(USER))
        connection.execute(text(MEMORY))
    engine.dispose()
    command.downgrade(alembic_config(url), "0010")
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        query = text("SELECT rowid FROM memory_fts WHERE memory_fts MATCH :q")
        assert list(connection.execute(query, {"q": '"hue"'}).all()) == [(1,)]
    engine.dispose()
    migrate(url)
    assert "memory_fts" not in _tables(path)


def test_the_memory_migration_goes_down_and_up(database_url: str) -> None:
    migrate(database_url)
    command.downgrade(alembic_config(database_url), "0008")
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[1]
        assert not _tables(path) & {"memories", "memory_fts", "conversations"}
    migrate(database_url)
