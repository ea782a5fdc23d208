"""The inbox's group commit: a batch's job carries exactly the rows the batch created."""

from __future__ import annotations

import asyncio
import logging

from bot import inbox
from bot.inbox import inbox_key
from bot.inbox_batch import InboxBatcher
from bot.runtime import Runtime
from bot.settings import Settings
from jobs.worker import build_worker
from storage.core import InboxEvent, InboxStatus


def _xml(ext: str) -> str:
    return (
        "<xml><MsgType>event</MsgType><Event>probe</Event>"
        f"<ExternalUserID>{ext}</ExternalUserID></xml>"
    )


async def _store(batcher: InboxBatcher, ext: str) -> tuple[int, bool]:
    xml = _xml(ext)
    return await batcher.store(inbox_key(xml), "event/x", xml)


async def test_a_batch_led_by_a_redelivery_still_gets_its_new_rows_processed(
    settings: Settings,
) -> None:
    async with Runtime(settings, routers=[]) as rt:
        await rt.deps.redis.flushdb()
        batcher = InboxBatcher(rt.deps)
        first, created = await _store(batcher, "wmA")
        assert created
        # WeCom re-delivers A while B arrives: both share one commit, A first.
        (again, dup_created), (b_id, b_created) = await asyncio.gather(
            _store(batcher, "wmA"), _store(batcher, "wmB")
        )
        assert (again, dup_created, b_created) == (first, False, True)
        queued = [job.args[0] for job in await rt.pool.queued_jobs()]
        assert sorted(queued) == [[first], [b_id]]
        worker = build_worker(rt, burst=True, handle_signals=False)
        try:
            await worker.main()
        finally:
            await worker.close()
        statuses = await InboxEvent.all().order_by("id").values_list("status", flat=True)
        assert list(statuses) == [InboxStatus.DONE, InboxStatus.DONE]


class _Statements(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


async def test_a_batch_is_read_and_marked_done_set_wise(settings: Settings) -> None:
    """Twenty rows without handlers: a constant number of statements, not a few per row."""
    async with Runtime(settings, routers=[]) as rt:
        batcher = InboxBatcher(rt.deps)
        stored = await asyncio.gather(*(_store(batcher, f"wm{n}") for n in range(20)))
        ids = [row_id for row_id, _ in stored]
        statements = _Statements()
        db_log = logging.getLogger("tortoise.db_client")
        level = db_log.level
        db_log.setLevel(logging.DEBUG)
        db_log.addHandler(statements)
        try:
            assert await inbox.process_batch(rt.deps, ids) == 20
        finally:
            db_log.removeHandler(statements)
            db_log.setLevel(level)
        assert statements.count <= 4
        assert await InboxEvent.filter(status=InboxStatus.DONE).count() == 20
