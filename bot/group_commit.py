"""Group commit: writes that arrive within the same few milliseconds share one transaction.

Each submitter still waits until its own item is committed, so nothing is acknowledged before
it is durable; batching only shares the transaction and the Redis round trips. The `after` step
(a job enqueue, a live event) is attempted before the submitters are answered, or — with
`answer_first` — just after, when it is only a wake-up that a cron repeats if it is lost. Used
by the callback inbox and by features that record public-page hits the same way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    def __init__(
        self,
        commit: Callable[[list[T]], Awaitable[list[R]]],
        after: Callable[[list[T], list[R]], Awaitable[None]] | None = None,
        *,
        max_batch: int = 256,
        max_delay: float = 0.002,
        answer_first: bool = False,
    ) -> None:
        """`commit(items)` writes the batch in one transaction and returns one result per
        item; `after(items, results)` runs outside the lock (best effort, must not raise),
        before the submitters are answered unless `answer_first`."""
        self._commit = commit
        self._after = after
        self._answer_first = answer_first
        self._running: set[asyncio.Task[None]] = set()
        self.max_batch = max_batch
        self.max_delay = max_delay
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if len(self._pending) >= self.max_batch or not self._lock.locked():
            # Nothing committing: go at once (callers of this same tick still join). While a
            # commit runs, arrivals gather for the next one anyway.
            self._schedule(0)
        elif self._flusher is None:
            self._schedule(self.max_delay)
        return await future

    def _schedule(self, delay: float) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_after(delay))
            self._running.add(self._flusher)
            self._flusher.add_done_callback(self._running.discard)

    async def settled(self) -> None:
        """Wait until every submitted item is committed and its `after` step attempted (for
        shutdown: answered callers may still have their wake-up in flight)."""
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def _flush_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        async with self._lock:  # one transaction at a time; arrivals from now on: next batch
            batch, self._pending = self._pending, []
            self._flusher = None
            if not batch:
                return
            items = [item for item, _ in batch]
            try:
                results = await self._commit(items)
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                return
        if self._answer_first:
            self._answer(batch, results)
        if self._after is not None:  # off the lock: the next INSERT need not wait for Redis
            try:
                await self._after(items, results)
            except Exception:  # the items are committed: their callers must still be answered
                log.exception(
                    "group commit: the step after a commit of %d items failed", len(items)
                )
        self._answer(batch, results)

    @staticmethod
    def _answer(batch: list[tuple[T, asyncio.Future[R]]], results: list[R]) -> None:
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
