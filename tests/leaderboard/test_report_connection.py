"""Reports read beside the writers on SQLite: a recomputation does not queue behind the
default connection (which the callbacks' writes use)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
from pathlib import Path

import pytest

import storage.sql as storage_sql
from handlers.leaderboard import counting, results, sql
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


async def test_a_pages_data_version_is_read_while_the_default_connection_is_busy(
    corp: None,
) -> None:
    """A data page asks for the current version every 2 s while its table is computed; the
    version counts the active relations (36-57 ms at 800,000), so it is read apart too."""
    activity = await make_activity()
    db = sql.conn()
    if not sql.is_sqlite(db):
        return
    async with db._lock:  # type: ignore[attr-defined]  # a long write holds the connection
        found = await asyncio.wait_for(results.version(activity), 60)
    assert found.startswith(results.settings_key(activity))


async def test_writes_made_during_a_report_are_copied_back_by_the_report(
    corp: None, tmp_path: Path
) -> None:
    """A long report keeps SQLite from moving the writes made meanwhile out of the log; the
    report copies them back itself when it is done instead of leaving that to the next commit
    on the write connection (which every callback would then wait for)."""
    db = sql.conn()
    if not sql.is_sqlite(db):
        return
    report = sql.stream("SELECT userid FROM staff", [], 1)
    assert len(await anext(report)) == 1  # the report's read is open
    assert await db.execute_query_dict("PRAGMA wal_autocheckpoint") == [{"wal_autocheckpoint": 0}]
    # Some 8 MB written while the report reads: past the size at which commits checkpoint.
    await db.execute_script(
        "CREATE TABLE pad (x BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1"
        " FROM n WHERE i < 2000) INSERT INTO pad SELECT randomblob(4000) FROM n"
    )
    assert len([row async for chunk in report for row in chunk]) == 3
    # The database file alone (without its log) holds what was written during the report.
    alone = tmp_path / "alone.sqlite3"
    shutil.copyfile(db.filename, alone)  # type: ignore[attr-defined]
    with contextlib.closing(sqlite3.connect(alone)) as copy:
        assert copy.execute("SELECT COUNT(*) FROM pad").fetchone() == (2000,)
    assert await db.execute_query_dict("PRAGMA wal_autocheckpoint") == [
        {"wal_autocheckpoint": storage_sql.AUTOCHECKPOINT_PAGES}
    ]


async def test_a_report_read_answers_what_the_database_does(corp: None) -> None:
    query = (
        "SELECT s.userid, '', t.name, s.avatar FROM staff s JOIN staff t ON t.userid <> ?"
        " ORDER BY s.userid, t.userid"
    )
    apart = await sql.fetch(query, ["bob"], report=True)
    assert len(apart) == 12 and apart == await sql.fetch(query, ["bob"])
    if sql.is_sqlite(sql.conn()):
        with pytest.raises(sqlite3.OperationalError, match="no such table"):
            await sql.fetch("SELECT * FROM nowhere", [], report=True)


def test_a_report_ended_after_its_database_went_away_does_not_fail(tmp_path: Path) -> None:
    # An Excel export abandoned half-way ends when its generator is collected, maybe later.
    storage_sql._catch_up(str(tmp_path / "gone" / "gone.sqlite3"))


async def test_an_export_broken_off_ends_its_report_read_at_once(corp: None) -> None:
    """The 按客户 Excel's rows stop coming (the download was cancelled): the report read under
    them ends with them, so the write connection checkpoints again without waiting for the
    garbage collector (which may come after the database is closed)."""
    from handlers.leaderboard import report_customers

    activity = await make_activity()
    await set_members(activity.id, ["alice"], [])
    for n in range(3):
        await add("alice", f"c{n}", n)
    db = sql.conn()
    if not sql.is_sqlite(db):
        return
    rows = report_customers.stream(activity, "")
    assert await anext(rows)
    assert storage_sql._reports_reading == 1
    await rows.aclose()
    assert storage_sql._reports_reading == 0
    assert await db.execute_query_dict("PRAGMA wal_autocheckpoint") == [
        {"wal_autocheckpoint": storage_sql.AUTOCHECKPOINT_PAGES}
    ]


async def test_a_lowest_priority_read_pauses_as_long_as_it_runs(
    corp: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's data tables and rebuilds read at half pace on SQLite: every few ms of
    work the statement sleeps as long, so the web process keeps the machine's shared caches
    (in bench.reports the callbacks' p99 ratio went from 0.87-3.02 to 0.77-1.27)."""
    db = sql.conn()
    if not sql.is_sqlite(db):
        return  # PostgreSQL runs the statement in its own server process
    slept: list[float] = []
    monkeypatch.setattr(storage_sql.time, "sleep", slept.append)
    count = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000)"
        " SELECT COUNT(*) FROM n"
    )
    assert await sql.fetch(count, [], report=True) == [(200000,)]
    assert slept == []
    with sql.lowest_priority():
        assert await sql.fetch(count, [], report=True) == [(200000,)]
    assert len(slept) >= 2 and all(s >= 0 for s in slept)
