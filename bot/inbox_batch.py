"""Group commit for the callback inbox: callbacks arriving together are stored with one
multi-row INSERT … ON CONFLICT DO NOTHING RETURNING and enqueued as one arq job.

Each callback still waits for its own row to be committed before it is acknowledged
(durable before acknowledged); batching only shares the transaction and the Redis round
trips among the callbacks that arrived within the same few milliseconds.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime

from tortoise import connections

from bot.deps import Deps
from storage.core import InboxEvent

log = logging.getLogger(__name__)
BATCH_JOB = "process_inbox_batch"
COLUMNS = ("key", "kind", "xml", "received_at", "next_attempt_at", "status", "attempts", "replied")


@dataclass
class _Pending:
    key: str
    kind: str
    xml: str
    future: asyncio.Future[tuple[int, bool]] = field(repr=False)


class InboxBatcher:
    def __init__(self, deps: Deps, max_batch: int = 256, max_delay: float = 0.002) -> None:
        self.deps = deps
        self.max_batch = max_batch
        self.max_delay = max_delay
        self._pending: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def store(self, key: str, kind: str, xml: str) -> tuple[int, bool]:
        """(row id, created) once the row is committed."""
        loop = asyncio.get_running_loop()
        item = _Pending(key, kind, xml, loop.create_future())
        self._pending.append(item)
        if len(self._pending) >= self.max_batch:
            self._schedule(0)
        elif self._flusher is None:
            self._schedule(self.max_delay)
        return await item.future

    def _schedule(self, delay: float) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_after(delay))

    async def _flush_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        async with self._lock:  # one INSERT at a time; arrivals from now on form the next batch
            batch, self._pending = self._pending, []
            self._flusher = None
            if not batch:
                return
            try:
                ids, created = await insert_rows(batch, self.deps.now())
            except Exception as exc:
                for item in batch:
                    item.future.set_exception(exc)
                return
        # Off the lock: the next batch's INSERT need not wait for Redis. Acknowledged only
        # after the enqueue was attempted, so the worker sees the rows as soon as WeCom does.
        new = [ids[k] for k in dict.fromkeys(i.key for i in batch) if k in created]
        if new:
            await enqueue_batch(self.deps, new, batch[0].key)
        for item in batch:
            item.future.set_result((ids[item.key], item.key in created))


def _placeholders(dialect: str, rows: int, cols: int) -> str:
    if dialect == "postgres":
        return ",".join(
            "(" + ",".join(f"${r * cols + c + 1}" for c in range(cols)) + ")" for r in range(rows)
        )
    one = "(" + ",".join("?" * cols) + ")"
    return ",".join([one] * rows)


async def insert_rows(batch: list[_Pending], now: datetime) -> tuple[dict[str, int], set[str]]:
    conn = connections.get("default")
    dialect = conn.capabilities.dialect
    unique = {item.key: item for item in batch}  # the same event twice in one batch
    when = InboxEvent._meta.fields_map["received_at"].to_db_value(now, InboxEvent)
    values: list[object] = []
    for item in unique.values():
        values += [item.key, item.kind, item.xml, when, when, "pending", 0, False]
    table = InboxEvent._meta.db_table
    sql = (
        f"INSERT INTO {table} ({','.join(COLUMNS)}) VALUES "
        f"{_placeholders(dialect, len(unique), len(COLUMNS))} "
        "ON CONFLICT (key) DO NOTHING RETURNING id, key"
    )
    async with conn._in_transaction() as tx:  # noqa: SLF001 — tortoise's transaction API
        inserted = await tx.execute_query_dict(sql, values)  # execute_query drops RETURNING on PG
        ids = {row["key"]: row["id"] for row in inserted}
        created = set(ids)
        missing = [k for k in unique if k not in ids]
        if missing:
            for row in await InboxEvent.filter(key__in=missing).using_db(tx).values("id", "key"):
                ids[row["key"]] = row["id"]
    return ids, created


async def enqueue_batch(deps: Deps, ids: list[int], first_key: str) -> None:
    """Best effort: if Redis is down the rows stay pending and the requeue cron takes them."""
    try:
        await deps.queue.enqueue(BATCH_JOB, ids, job_id=f"inbox-batch:{first_key[:24]}")
    except Exception as exc:
        log.warning(
            "enqueue of %d inbox rows failed (%s); the requeue cron will retry", len(ids), exc
        )
