"""Reports read beside the writers on SQLite: a recomputation does not queue behind the
default connection (which the callbacks' writes use)."""

from __future__ import annotations

import asyncio

from handlers.leaderboard import counting, sql
from handlers.leaderboard.activities import set_members
from tests.leaderboard.conftest import add, make_activity


async def test_recompute_runs_while_the_default_connection_is_busy(corp: None) -> None:
    activity = await make_activity()
    await set_members(activity.id, ["alice"], [])
    await add("alice", "c1", 1)
    people = await counting.participant_ids(activity.id)  # the ORM part, before the lock
    db = sql.conn()
    if not sql.is_sqlite(db):
        return  # PostgreSQL serves reads from its pool
    lock = db._lock  # type: ignore[attr-defined]
    async with lock:  # a long write holds the one default connection
        totals = await asyncio.wait_for(counting._totals(activity, report=True), 60)
    assert people == ["alice"] and totals["alice"][0] == 1
