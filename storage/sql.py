"""Raw SQL for the hot paths (aggregating over a million rows), portable to SQLite and
PostgreSQL: `?` placeholders are rewritten for asyncpg, datetimes are passed the way each
backend stores them and read back as aware UTC datetimes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction


def conn() -> BaseDBAsyncClient:
    found: BaseDBAsyncClient = connections.get("default")
    return found


def is_sqlite(db: BaseDBAsyncClient) -> bool:
    return db.capabilities.dialect == "sqlite"


def param(db: BaseDBAsyncClient, value: datetime) -> Any:
    """tortoise stores SQLite datetimes as `str(datetime)` in UTC; keep the same text so
    comparisons (which are textual there) order correctly."""
    utc = value.astimezone(UTC)
    return str(utc) if is_sqlite(db) else utc


def to_dt(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value  # type: ignore[no-any-return]


_QMARK = re.compile(r"\?")


def _dialect_sql(db: BaseDBAsyncClient, sql: str) -> str:
    if is_sqlite(db):
        return sql
    counter = iter(range(1, 10_000))
    return _QMARK.sub(lambda _: f"${next(counter)}", sql)


async def fetch(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    db = conn()
    fixed = [param(db, p) if isinstance(p, datetime) else p for p in params]
    _, rows = await db.execute_query(_dialect_sql(db, sql), fixed)
    return [tuple(r) for r in rows]


# An aggregation over a million rows sorts and hashes more than PostgreSQL's default 4 MB of
# work memory and spills to disk; such a statement gets more, for itself only (SET LOCAL).
# JIT compilation costs more than it saves on these statements.
HEAVY_SETTINGS = "SET LOCAL work_mem = '128MB'; SET LOCAL jit = off"


async def fetch_dicts(
    sql: str, params: Sequence[Any], *, heavy: bool = False
) -> list[dict[str, Any]]:
    db = conn()
    fixed = [param(db, p) if isinstance(p, datetime) else p for p in params]
    if not heavy or is_sqlite(db):
        return list(await db.execute_query_dict(_dialect_sql(db, sql), fixed))
    async with in_transaction() as tx:
        await tx.execute_script(HEAVY_SETTINGS)
        return list(await tx.execute_query_dict(_dialect_sql(db, sql), fixed))


def placeholders(n: int) -> str:
    return ",".join("?" * n) if n else "NULL"
