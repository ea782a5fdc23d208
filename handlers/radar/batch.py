"""Group commit for landing-page visits: the visits that arrive within the same few
milliseconds are written in one INSERT, then handed to the worker as one follow-up job and
one heartbeat write-back job per batch; the live channel hears of them at most every
`LIVE_EVERY` per radar.

Each request still waits for its own rows to be committed before the page is answered, so a
visit the visitor has seen is never lost, and a forward (which needs the page's `from=` link)
always finds its parent's row.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from tortoise.transactions import in_transaction

from bot.deps import Deps
from bot.group_commit import GroupCommit
from bot.rows import insert_rows, insert_statement
from handlers.radar import people, visits
from handlers.radar.common import live_channel
from handlers.radar.router import router
from handlers.radar.visits import NewVisit
from storage.radar import Visit
from storage.sql import conn, write_together

log = logging.getLogger(__name__)
FOLLOWUP_JOB = "radar_followups"
FINALIZE_JOB = "radar_finalize_many"
LIVE_EVERY = 0.1  # seconds: a radar's visits committed within this are one live event


@dataclass(frozen=True)
class _Pending:
    visit: NewVisit
    measured: bool  # heartbeats expected (not a link radar)
    new_browser: bool = False  # a browser seen for the first time (see people.record)


class VisitBatcher:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._group: GroupCommit[_Pending, None] = GroupCommit(insert, self._announce)
        self.live = LiveTally(deps)

    async def record(self, visit: NewVisit, measured: bool, new_browser: bool = False) -> None:
        """Returns once the visit is committed."""
        await self._group.submit(_Pending(visit, measured, new_browser))

    async def _announce(self, batch: list[_Pending], _: list[None]) -> None:
        self.live.add(batch)
        await announce(self.deps, batch)


class LiveTally:
    """The console's live events: the visits committed within `LIVE_EVERY` of a radar's first
    one are published as one event with their count (one Redis round trip per radar and
    interval, not per batch). The event only tells the open consoles to refresh what they
    read from the database; one lost with the process loses nothing recorded."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._counts: Counter[int] = Counter()
        self._last: dict[int, datetime] = {}
        self._task: asyncio.Task[None] | None = None

    def add(self, batch: list[_Pending]) -> None:
        for p in batch:
            self._counts[p.visit.radar_id] += 1
            self._last[p.visit.radar_id] = p.visit.started_at
        if self._task is None:
            self._task = asyncio.create_task(self._publish_after(LIVE_EVERY))

    async def _publish_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.publish()

    async def publish(self) -> None:
        """Publish what was counted (now; also when the process stops)."""
        counts, last = self._counts, self._last
        self._counts, self._last, self._task = Counter(), {}, None
        if not counts:
            return
        try:
            async with self.deps.redis.pipeline(transaction=False) as pipe:
                for radar_id, count in counts.items():
                    event = {"type": "visit", "count": count, "at": last[radar_id].isoformat()}
                    pipe.publish(live_channel(radar_id), json.dumps(event))
                await pipe.execute()
        except Exception:
            log.warning("radar: live events for %d visits not published", sum(counts.values()))

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.publish()


async def insert(batch: list[_Pending]) -> list[None]:
    """The visits and the people they touch (handlers/radar/people), in one transaction:
    the summary never misses a committed visit."""
    rows = [p.visit.row() for p in batch]
    first = [r for r, p in zip(rows, batch, strict=True) if _alone(p)]
    others = [r for r, p in zip(rows, batch, strict=True) if not _alone(p)]
    if not others and not any(r["parent_visitor_id"] for r in first):
        # nothing to read back: the visits and their people's rows written in one go
        db = conn()
        await write_together(
            [insert_statement(Visit, rows, db), people.first_visits_statement(first, db)]
        )
        return [None] * len(batch)
    async with in_transaction() as tx:
        await insert_rows(Visit, rows, tx)
        await people.record_first(first, tx)
        await people.record(others, tx)
    return [None] * len(batch)


def _alone(p: _Pending) -> bool:
    """An anonymous browser's first visit is its person's only visit, and nobody can have
    come through the browser yet (its forward link is on the page this visit answers)."""
    return p.new_browser and not p.visit.external_userid


async def announce(deps: Deps, batch: list[_Pending]) -> None:
    """The worker's jobs; best effort, the visits are already recorded when Redis hiccups."""
    first = batch[0].visit.id
    try:
        identified = [p.visit.id for p in batch if p.visit.external_userid]
        if identified:
            await deps.queue.enqueue(FOLLOWUP_JOB, identified, job_id=f"radar:follow:{first}")
        measured = [p.visit.id for p in batch if p.measured]
        if measured:
            await deps.queue.enqueue(
                FINALIZE_JOB,
                measured,
                0,
                job_id=f"radar:fin:{first}:0",
                defer_by=visits.FINALIZE_AFTER,
            )
    except Exception:
        log.exception("radar: announcing %d visits (first %s) failed", len(batch), first)


@router.resource
async def visit_batcher(deps: Deps) -> AsyncIterator[VisitBatcher]:
    """One batcher per process (web, worker or demo), opened and closed with it."""
    found = VisitBatcher(deps)
    yield found
    await found.live.close()


def batcher(deps: Deps) -> VisitBatcher:
    """This process's batcher."""
    found: VisitBatcher = deps.resource(visit_batcher)
    return found
