"""The database connections as storage.db sets them up."""

from __future__ import annotations

import asyncpg
import pytest
from tortoise import connections


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
