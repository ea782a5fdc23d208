"""Raw SQL for the hot paths (aggregating over a million rows), portable to SQLite and
PostgreSQL: `?` placeholders are rewritten for asyncpg, datetimes are passed the way each
backend stores them.

Reports (recomputations, data pages) read through `report=True`: on SQLite that is a
read-only connection of their own (opened for the read), so a long read runs beside the
callbacks' writes under WAL instead of queueing them behind it on the one default connection.
A per-read connection costs about a millisecond, nothing beside a report, and leaves nothing
to close. Those reads run in threads of a lower CPU priority, so on a small machine a long
report takes the CPU the event loop leaves rather than slowing every callback.

While a report reads, SQLite cannot move the writes made meanwhile from the write-ahead log
into the database (the report's snapshot needs them apart). At 1,000 callbacks a second a
report of a few seconds leaves hundreds of MB in the log, and the first commit after it would
copy all of that back (the write connection checkpoints at a commit that leaves the log past
1,000 pages): measured up to 5.8 s during which every callback waited. So while reports read,
the write connection does not checkpoint; the last report to end copies the log back in its
low-priority thread (a PASSIVE checkpoint, which blocks nobody), then the writer checkpoints
again."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import re
import sqlite3
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiosqlite
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


def _params(db: BaseDBAsyncClient, params: Sequence[Any]) -> list[Any]:
    """Statement parameters as the database takes them: datetimes by `param`, enums by value."""
    return [
        param(db, p) if isinstance(p, datetime) else p.value if isinstance(p, Enum) else p
        for p in params
    ]


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


async def fetch(sql: str, params: Sequence[Any], *, report: bool = False) -> list[tuple[Any, ...]]:
    db = conn()
    fixed = _params(db, params)
    path = getattr(db, "filename", ":memory:")
    if report and is_sqlite(db) and path != ":memory:":
        return await _read_apart(path, sql, fixed)
    _, rows = await db.execute_query(_dialect_sql(db, sql), fixed)
    return [tuple(r) for r in rows]


def _read_only_uri(path: str) -> str:
    return f"file:{quote(str(Path(path).absolute()))}?mode=ro"


REPORT_NICE = 10
REPORT_MMAP_BYTES = 1 << 30


def _lower_priority() -> None:
    # Linux nice is per thread: only the report threads give way, not the event loop's.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), REPORT_NICE)


_REPORTS = ThreadPoolExecutor(2, "reports", initializer=_lower_priority)


def _lowest_priority() -> None:
    # SCHED_IDLE: the thread runs only on a core nothing else wants (nice 19 where the
    # policy is not available).
    try:
        os.sched_setscheduler(threading.get_native_id(), os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


# The worker's data tables: computed when the machine has a core to spare, however long that
# takes, so the web process's callbacks keep theirs.
_IDLE_REPORTS = ThreadPoolExecutor(1, "reports-idle", initializer=_lowest_priority)
_at_lowest = contextvars.ContextVar("reports_at_lowest_priority", default=False)


@contextlib.contextmanager
def lowest_priority() -> Iterator[None]:
    """Report reads inside run their statements at the lowest CPU priority (SQLite; on
    PostgreSQL the server runs them)."""
    token = _at_lowest.set(True)
    try:
        yield
    finally:
        _at_lowest.reset(token)


def _executor() -> ThreadPoolExecutor:
    return _IDLE_REPORTS if _at_lowest.get() else _REPORTS


# A lowest-priority report pauses as long as it ran, every `PACE_STEPS` of SQLite's virtual
# machine (a few ms): half the time it leaves the machine's shared caches and memory bandwidth
# to the callbacks' process. In bench.reports the callbacks' p99 during a recompute stayed
# within 1.3x idle paced, against up to 3x unpaced; the report takes twice as long.
PACE_STEPS = 100_000


def _pace(db: sqlite3.Connection) -> None:
    last = time.monotonic()

    def pause() -> int:
        nonlocal last
        time.sleep(time.monotonic() - last)
        last = time.monotonic()
        return 0

    db.set_progress_handler(pause, PACE_STEPS)


def _execute(
    path: str, sql: str, params: list[Any], as_dicts: bool, paced: bool = False
) -> sqlite3.Cursor:
    """The statement's heavy part (a GROUP BY finishes before the first row), in a report
    thread: SQLite runs it without holding the interpreter lock."""
    db = sqlite3.connect(_read_only_uri(path), uri=True, check_same_thread=False)
    if paced:
        _pace(db)
    # Pages read through a memory map instead of copied in by read(2) calls: a recomputation
    # over a million facts reads hundreds of MB of index pages (measured 2.6 -> 1.7 s of CPU).
    # The mapped pages are the operating system's file cache, shared, not this process's heap.
    db.execute(f"PRAGMA mmap_size = {REPORT_MMAP_BYTES}")
    if as_dicts:
        db.row_factory = sqlite3.Row
    return db.execute(sql, params)


def _rows(cursor: sqlite3.Cursor, as_dicts: bool) -> list[Any]:
    # Building the Python rows holds the interpreter lock: done at normal priority, so a
    # low-priority thread never holds the lock while the event loop waits for it.
    try:
        found = cursor.fetchall()
        return [dict(r) for r in found] if as_dicts else [tuple(r) for r in found]
    finally:
        cursor.connection.close()


# SQLite's default: the write connection checkpoints at a commit that leaves the log past
# this many pages.
AUTOCHECKPOINT_PAGES = 1000
_reports_reading = 0  # report reads in flight in this process
_writer_checkpoints = True  # what the write connection was last told


async def _tell_writer(checkpoints: bool) -> None:
    # Straight to aiosqlite's queue, not behind tortoise's lock: a report never waits for a
    # transaction to end. Statements there run in the order they were issued, so the last
    # flip issued is the one that stays.
    global _writer_checkpoints
    writer = getattr(conn(), "_connection", None)
    if _writer_checkpoints != checkpoints and writer is not None:
        _writer_checkpoints = checkpoints
        pages = AUTOCHECKPOINT_PAGES if checkpoints else 0
        await writer.execute_fetchall(f"PRAGMA wal_autocheckpoint = {pages}")


def _catch_up(path: str) -> None:
    """Copy the log back into the database, until what is left is what the writers added
    meanwhile; stop when another checkpointer or a reader holds it up. Only upkeep: when it
    cannot run (the database is gone, say), the write connection's own checkpoints do it."""
    try:
        db = sqlite3.connect(path, check_same_thread=False)
    except sqlite3.Error:
        return
    try:
        before = None
        for _ in range(10):
            busy, log, done = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if busy or done < log or (before is not None and log - before < AUTOCHECKPOINT_PAGES):
                return
            before = log
    except sqlite3.Error:
        return
    finally:
        db.close()


@contextlib.asynccontextmanager
async def _report_reading(path: str) -> AsyncIterator[None]:
    global _reports_reading
    _reports_reading += 1
    try:
        await _tell_writer(False)
        yield
    finally:
        _reports_reading -= 1
        if not _reports_reading:
            await asyncio.get_running_loop().run_in_executor(_REPORTS, _catch_up, path)
        if not _reports_reading:
            await _tell_writer(True)


async def _read_apart(path: str, sql: str, params: list[Any], as_dicts: bool = False) -> list[Any]:
    loop = asyncio.get_running_loop()
    async with _report_reading(path):
        paced = _at_lowest.get()
        cursor = await loop.run_in_executor(
            _executor(), _execute, path, sql, params, as_dicts, paced
        )
        return await asyncio.to_thread(_rows, cursor, as_dicts)


async def stream(
    sql: str, params: Sequence[Any], chunk: int
) -> AsyncGenerator[list[tuple[Any, ...]]]:
    """A report's rows in chunks from one query (one sort, rows never all in memory): a
    read-only connection's cursor on SQLite, a server-side cursor on PostgreSQL."""
    db = conn()
    fixed = _params(db, params)
    if is_sqlite(db):
        path = getattr(db, "filename", ":memory:")
        async with (
            _report_reading(path),
            aiosqlite.connect(_read_only_uri(path), uri=True) as ro,
            ro.execute(sql, fixed) as cursor,
        ):
            while rows := await cursor.fetchmany(chunk):
                yield [tuple(r) for r in rows]
        return
    async with db.acquire_connection() as con, con.transaction():
        batch: list[tuple[Any, ...]] = []
        async for record in con.cursor(_dialect_sql(db, sql), *fixed, prefetch=chunk):
            batch.append(tuple(record))
            if len(batch) == chunk:
                yield batch
                batch = []
        if batch:
            yield batch


async def _dicts_apart(path: str, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    return await _read_apart(path, sql, params, as_dicts=True)


# An aggregation over a million rows sorts and hashes more than PostgreSQL's default 4 MB of
# work memory and spills to disk; such a statement gets more, for itself only (SET LOCAL).
# JIT compilation costs more than it saves on these statements. On SQLite a heavy read runs on
# a read-only connection of its own, like a report.
HEAVY_SETTINGS = "SET LOCAL work_mem = '128MB'; SET LOCAL jit = off"


async def fetch_dicts(
    sql: str, params: Sequence[Any], *, heavy: bool = False
) -> list[dict[str, Any]]:
    db = conn()
    fixed = _params(db, params)
    path = getattr(db, "filename", ":memory:")
    if heavy and is_sqlite(db) and path != ":memory:":
        return await _dicts_apart(path, sql, fixed)
    if not heavy or is_sqlite(db):
        return list(await db.execute_query_dict(_dialect_sql(db, sql), fixed))
    async with in_transaction() as tx:
        await tx.execute_script(HEAVY_SETTINGS)
        return list(await tx.execute_query_dict(_dialect_sql(db, sql), fixed))


Rows = list[list[Any]]


async def write_together(statements: Sequence[tuple[str, Rows]]) -> None:
    """Each statement run for each of its rows, all in one transaction (the SQL in the
    database's own placeholders). On
    SQLite the transaction is one trip to the connection's thread, where each statement of an
    ordinary transaction (its BEGIN and COMMIT too) is a trip there and back; it takes the
    connection's lock as any tortoise transaction does."""
    db = conn()
    if not is_sqlite(db):
        async with in_transaction() as tx:
            for sql, rows in statements:
                await tx.execute_many(sql, rows)
        return
    async with db.acquire_connection() as connection:
        sqlite_conn = connection._conn
        # aiosqlite's one way to run a function on its thread (used by all its own calls)
        await connection._execute(_write_together, sqlite_conn, statements)


def _write_together(db: sqlite3.Connection, statements: Sequence[tuple[str, Rows]]) -> None:
    db.execute("BEGIN")
    try:
        for sql, rows in statements:
            db.executemany(sql, rows)
    except BaseException:
        db.rollback()
        raise
    db.commit()


def placeholders(n: int) -> str:
    return ",".join("?" * n) if n else "NULL"
