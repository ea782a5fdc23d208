"""The callback inbox's group commit: callbacks arriving together are stored with one
multi-row INSERT … ON CONFLICT DO NOTHING RETURNING and enqueued as one arq job."""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from tortoise import connections

from bot.deps import Deps
from bot.group_commit import GroupCommit
from bot.inbox import BATCH_JOB
from bot.rows import placeholders
from storage.core import InboxEvent

log = logging.getLogger(__name__)
REMEMBERED_KEYS = 20_000  # recently committed keys, for WeCom's re-deliveries (~2 MB)
COLUMNS = ("key", "kind", "xml", "received_at", "next_attempt_at", "status", "attempts", "replied")


@dataclass(frozen=True)
class InboxItem:
    key: str
    kind: str
    xml: str


class InboxBatcher:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        # Arrivals while a commit runs go with the next one as soon as it ends (no wait). A
        # callback is answered once its row is committed: the job enqueue after it only wakes
        # the worker (the requeue cron takes rows whose wake-up was lost), so WeCom's answer
        # does not wait for a Redis round trip.
        self._group = GroupCommit(self._insert, self._enqueue, max_delay=0, answer_first=True)
        self._committed: OrderedDict[str, None] = OrderedDict()

    async def store(self, key: str, kind: str, xml: str) -> int | None:
        """The new row's id once it is committed (its job is enqueued just after); None for
        a re-delivery of an event already stored (its row is not looked up: nobody needs it).
        A re-delivery of an event this process committed is answered at once, with no
        statement: its row is durable (WeCom retries within seconds, the rows stay for days)."""
        if key in self._committed:
            return None
        return await self._group.submit(InboxItem(key, kind, xml))

    async def settled(self) -> None:
        """Every stored row committed and its job enqueue attempted."""
        await self._group.settled()

    async def _insert(self, items: list[InboxItem]) -> list[int | None]:
        created = await insert_rows(items, self.deps.now())
        for item in items:  # each key's row is committed now, by this batch or an earlier one
            self._committed[item.key] = None
        while len(self._committed) > REMEMBERED_KEYS:
            self._committed.popitem(last=False)
        results: list[int | None] = []
        for item in items:  # the same event twice in one batch: only the first is "created"
            results.append(created.pop(item.key, None))
        return results

    async def _enqueue(self, items: list[InboxItem], results: list[int | None]) -> None:
        new = [
            (row_id, item.key)
            for item, row_id in zip(items, results, strict=True)
            if row_id is not None
        ]
        if new:
            await enqueue_batch(self.deps, [row_id for row_id, _ in new], batch_job_id(new))


async def insert_rows(items: list[InboxItem], now: datetime) -> dict[str, int]:
    """The ids of the rows this call inserted, by key (the other keys were already stored).
    One statement, even when the batch holds re-deliveries."""
    conn = connections.get("default")
    unique = {item.key: item for item in items}
    when = InboxEvent._meta.fields_map["received_at"].to_db_value(now, InboxEvent)
    values: list[object] = []
    for item in unique.values():
        values += [item.key, item.kind, item.xml, when, when, "pending", 0, False]
    sql = (
        f"INSERT INTO {InboxEvent._meta.db_table} ({','.join(COLUMNS)}) VALUES "
        f"{placeholders(conn.capabilities.dialect, len(unique), len(COLUMNS))} "
        "ON CONFLICT (key) DO NOTHING RETURNING id, key"
    )
    # One statement is its own transaction: no BEGIN/COMMIT round trips on the hot path.
    inserted = await conn.execute_query_dict(sql, values)  # execute_query drops RETURNING on PG
    return {row["key"]: row["id"] for row in inserted}


def batch_job_id(rows: list[tuple[int, str]]) -> str:
    """Named by the rows this batch created (each row is created by exactly one batch), never
    by a re-delivered duplicate that an earlier batch's job already carries."""
    digest = hashlib.sha256("".join(key for _, key in rows).encode()).hexdigest()
    return f"inbox-batch:{digest[:32]}"


async def enqueue_batch(deps: Deps, ids: list[int], job_id: str) -> None:
    """Best effort: if Redis is down the rows stay pending and the requeue cron takes them."""
    try:
        await deps.queue.enqueue_new(BATCH_JOB, ids, job_id=job_id)
    except Exception as exc:
        log.warning(
            "enqueue of %d inbox rows failed (%s); the requeue cron will retry", len(ids), exc
        )
