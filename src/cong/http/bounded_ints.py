"""Integer inputs bounded to what the database and the clock can hold.

SQLite and PostgreSQL store a signed 64-bit integer; Python's ints are unbounded, so an
id such as ``61248266899459866624`` would reach the driver and fail there (a 500). Every
integer a client sends to ``/api`` goes through one of these types: out of range is the
usual 400, and the bounds are in the OpenAPI document."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import Field

DB_INT_MAX = 2**63 - 1
UNIX_TIME_MAX = 253_402_300_799  # 9999-12-31T23:59:59Z, the last second datetime holds

RowId = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
"""A row id in a path (``/api/memories/{memory_id}``)."""

RowIdField = Annotated[int, Field(ge=1, le=DB_INT_MAX, strict=True)]
"""A row id in a JSON body."""

Offset = Annotated[int, Query(ge=0, le=DB_INT_MAX)]
"""How many rows of a listing to skip."""

UnixTimeQuery = Annotated[
    int | None, Query(ge=0, le=UNIX_TIME_MAX, description="a time, in Unix seconds")
]
