"""The database connections as storage.db sets them up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from tortoise import connections

from bot.rows import update_in
from storage.core import InboxEvent, InboxStatus
from tests.support import logged_statements

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


async def test_a_postgres_connection_goes_back_to_the_pool_without_a_reset_statement(
    db: None, db_url: str
) -> None:
    """asyncpg's pool by default sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN
    *; RESET ALL;` whenever a statement gives its connection back: a second round trip for
    every statement. The last statement the server saw on that connection is the service's."""
    if not db_url.startswith("postgres"):
        pytest.skip("SQLite has one connection and no pool")
    _, rows = await connections.get("default").execute_query("SELECT pg_backend_pid() AS pid")
    probe = await asyncpg.connect(db_url)
    try:
        last = await probe.fetchval(
            "SELECT query FROM pg_stat_activity WHERE pid = $1", rows[0]["pid"]
        )
    finally:
        await probe.close()
    assert last == "SELECT pg_backend_pid() AS pid"


async def test_rows_updated_by_a_long_id_list_in_one_statement(db: None) -> None:
    """`update_in`: a thousand ids (most matching nothing) in one statement and one parameter;
    the enum and the datetime it writes read back through the models as they were given."""
    rows = [
        await InboxEvent.create(key=f"k{n}", kind="event/x", xml="<xml/>", received_at=T0)
        for n in range(3)
    ]
    done_at = T0 + timedelta(seconds=5, microseconds=7)
    ids = [rows[0].id, rows[2].id, *range(10_000, 10_998)]
    with logged_statements() as statements:
        await update_in(
            InboxEvent, {"status": InboxStatus.DONE, "done_at": done_at, "attempts": 4}, "id", ids
        )
    assert len(statements.texts) == 1
    found = {e.key: e for e in await InboxEvent.all()}
    assert [found[k].status for k in ("k0", "k1", "k2")] == [
        InboxStatus.DONE,
        InboxStatus.PENDING,
        InboxStatus.DONE,
    ]
    assert found["k0"].done_at == done_at and found["k1"].done_at is None
    assert [found[k].attempts for k in ("k0", "k1", "k2")] == [4, 0, 4]
    # Later reads compare with the written text (SQLite orders datetimes as text).
    assert await InboxEvent.filter(done_at__gt=done_at - timedelta(microseconds=1)).count() == 2
