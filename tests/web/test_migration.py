"""The web tables and columns exist after migrating, exactly as the models declare them,
and the migration goes down again."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from cong.storage import billing_tables, memory_tables, usage_tables, web_tables  # noqa: F401
from cong.storage.database import alembic_config, migrate
from cong.storage.tables import Base


def _differences(path: Path) -> list[object]:
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    # The full-text index of memories (FTS5 tables) is made by the migration alone.
    return [d for d in diffs if "memory_fts" not in str(d)]


def test_models_match_the_migrations_and_downgrade_works(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    migrate(url)
    assert _differences(tmp_path / "m.db") == []
    command.downgrade(alembic_config(url), "0003")
    names = {str(d) for d in _differences(tmp_path / "m.db")}
    assert any("web_sessions" in n for n in names) and any("password_hash" in n for n in names)
