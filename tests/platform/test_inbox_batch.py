"""The inbox's group commit: a batch's job carries exactly the rows the batch created."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from redis.asyncio.connection import AbstractConnection
from tortoise import connections

from bot import inbox
from bot.deps import Deps
from bot.domain_events import DELIVER_MANY_JOB, FollowAdded, publish_many
from bot.events import Event
from bot.inbox import inbox_key
from bot.inbox_batch import InboxBatcher
from bot.router import Router
from bot.runtime import Runtime
from bot.settings import Settings
from jobs.worker import InboxDrain, build_worker, process_inbox_batch
from storage.core import DomainEventRow, EventStatus, HandlerRun, InboxEvent, InboxStatus
from tests.support import logged_statements


def _xml(ext: str) -> str:
    return (
        "<xml><MsgType>event</MsgType><Event>probe</Event>"
        f"<ExternalUserID>{ext}</ExternalUserID></xml>"
    )


async def _store(batcher: InboxBatcher, ext: str) -> int | None:
    xml = _xml(ext)
    return await batcher.store(inbox_key(xml), "event/x", xml)


async def test_a_batch_led_by_a_redelivery_still_gets_its_new_rows_processed(
    settings: Settings,
) -> None:
    async with Runtime(settings, routers=[]) as rt:
        await rt.deps.redis.flushdb()
        batcher = InboxBatcher(rt.deps)
        first = await _store(batcher, "wmA")
        assert first is not None
        # WeCom re-delivers A while B arrives: both share one commit, A first.
        again, b_id = await asyncio.gather(_store(batcher, "wmA"), _store(batcher, "wmB"))
        assert again is None and b_id is not None
        await batcher.settled()
        queued = [job.args[0] for job in await rt.pool.queued_jobs()]
        assert sorted(queued) == [[first], [b_id]]
        worker = build_worker(rt, burst=True, handle_signals=False)
        try:
            await worker.main()
        finally:
            await worker.close()
        statuses = await InboxEvent.all().order_by("id").values_list("status", flat=True)
        assert list(statuses) == [InboxStatus.DONE, InboxStatus.DONE]


async def test_a_batch_is_read_and_marked_done_set_wise(settings: Settings) -> None:
    """Twenty rows without handlers: a constant number of statements, not a few per row."""
    async with Runtime(settings, routers=[]) as rt:
        batcher = InboxBatcher(rt.deps)
        stored = await asyncio.gather(*(_store(batcher, f"wm{n}") for n in range(20)))
        ids = [row_id for row_id in stored if row_id is not None]
        with logged_statements() as statements:
            assert await inbox.process_batch(rt.deps, ids) == 20
        assert statements.count <= 4
        assert await InboxEvent.filter(status=InboxStatus.DONE).count() == 20


async def test_a_batch_of_redeliveries_is_one_statement_and_one_redis_round_trip(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The acknowledgement path's cost per commit: the INSERT alone (a re-delivered event's
    row is not read back) and the job enqueue in a single Redis round trip."""
    async with Runtime(settings, routers=[]) as rt:
        await rt.deps.redis.flushdb()
        batcher = InboxBatcher(rt.deps)
        first = await asyncio.gather(*(_store(batcher, f"wm{n}") for n in range(4)))
        assert None not in first
        await batcher.settled()
        sends = 0
        real_send = AbstractConnection.send_packed_command

        async def counting_send(self: AbstractConnection, *args: Any, **kwargs: Any) -> None:
            nonlocal sends
            sends += 1
            await real_send(self, *args, **kwargs)

        monkeypatch.setattr(AbstractConnection, "send_packed_command", counting_send)
        other = InboxBatcher(rt.deps)  # another process: it did not store the first four
        with logged_statements() as statements:
            # Three re-deliveries and two new events arriving together: one commit.
            again = await asyncio.gather(
                *(_store(other, f"wm{n}") for n in (0, 1, 2)),
                _store(other, "wmNew1"),
                _store(other, "wmNew2"),
            )
            await other.settled()
        assert again[:3] == [None, None, None] and None not in again[3:]
        assert statements.count == 1
        assert sends == 1
        queued = sorted(job.args[0] for job in await rt.pool.queued_jobs())
        assert again[3:] in queued


async def test_a_callback_is_answered_once_committed_not_after_its_wake_up(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The row is durable at the commit: the job enqueue that wakes the worker goes out after
    the answer, so a slow Redis does not hold WeCom's callback (a lost wake-up is the requeue
    cron's). Shutdown waits for the wake-ups still in flight."""
    async with Runtime(settings, routers=[]) as rt:
        await rt.deps.redis.flushdb()
        batcher = InboxBatcher(rt.deps)
        redis_slow, enqueuing = asyncio.Event(), asyncio.Event()
        real = rt.deps.queue.enqueue_new

        async def slow_enqueue(*args: Any, **kwargs: Any) -> Any:
            enqueuing.set()
            await redis_slow.wait()
            return await real(*args, **kwargs)

        monkeypatch.setattr(rt.deps.queue, "enqueue_new", slow_enqueue)
        row_id = await asyncio.wait_for(_store(batcher, "wmFast"), 60)
        assert row_id is not None
        assert await InboxEvent.filter(id=row_id, status=InboxStatus.PENDING).exists()
        await enqueuing.wait()
        settled = asyncio.create_task(batcher.settled())
        await asyncio.sleep(0)
        assert not settled.done()  # the wake-up is still in flight
        redis_slow.set()
        await asyncio.wait_for(settled, 60)
        assert [job.args[0] for job in await rt.pool.queued_jobs()] == [[row_id]]


async def test_a_redelivery_of_an_event_this_process_stored_costs_no_statement(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answered from the keys this process committed: no INSERT, no Redis. An event whose
    commit failed is not among them, so its re-delivery goes to the database again."""
    async with Runtime(settings, routers=[]) as rt:
        await rt.deps.redis.flushdb()
        batcher = InboxBatcher(rt.deps)
        first = await _store(batcher, "wmOnce")
        assert first is not None
        await batcher.settled()
        with logged_statements() as statements:
            assert await _store(batcher, "wmOnce") is None
            assert await _store(batcher, "wmOnce") is None
        assert statements.count == 0
        assert [job.args[0] for job in await rt.pool.queued_jobs()] == [[first]]

        failing = InboxBatcher(rt.deps)
        await InboxEvent.filter(id=first).delete()  # so that a commit of wmOnce would insert
        db = connections.get("default")
        real = db.execute_query_dict
        calls = 0

        async def broken(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("database away")
            return await real(*args, **kwargs)

        monkeypatch.setattr(db, "execute_query_dict", broken)
        with pytest.raises(RuntimeError):
            await _store(failing, "wmOnce")
        assert await _store(failing, "wmOnce") is not None  # stored by its re-delivery
        assert await InboxEvent.filter(key=inbox_key(_xml("wmOnce"))).count() == 1


def _batch_router(
    calls: list[list[str]], bad: str = "", entered: asyncio.Event | None = None
) -> Router:
    router = Router("probe")

    @router.event_batch("probe")
    async def on_probes(deps: Any, events: list[Event]) -> None:
        calls.append([str(e.raw.get("ExternalUserID")) for e in events])
        if entered is not None:
            entered.set()
        if any(e.raw.get("ExternalUserID") == bad for e in events):
            raise RuntimeError("a bad event")

    return router


async def test_a_batch_handler_gets_the_batch_and_a_bad_event_fails_alone(
    settings: Settings,
) -> None:
    calls: list[list[str]] = []
    async with Runtime(settings, routers=[_batch_router(calls, bad="wm2")]) as rt:
        batcher = InboxBatcher(rt.deps)
        stored = await asyncio.gather(*(_store(batcher, f"wm{n}") for n in range(4)))
        ids = [row_id for row_id in stored if row_id is not None]
        assert await inbox.process_batch(rt.deps, ids) == 3
        # Once for the four together, then each alone to find the bad one.
        assert calls == [["wm0", "wm1", "wm2", "wm3"], ["wm0"], ["wm1"], ["wm2"], ["wm3"]]
        statuses = await InboxEvent.all().order_by("id").values_list("status", flat=True)
        failed = InboxStatus.FAILED
        assert list(statuses) == [InboxStatus.DONE, InboxStatus.DONE, failed, InboxStatus.DONE]
        runs = await HandlerRun.all().values_list("inbox_id", flat=True)
        assert sorted(runs) == sorted([ids[0], ids[1], ids[3]])
        # The retry of the failed row runs the handler for it alone, once more.
        assert await inbox.process(rt.deps, ids[2]) is InboxStatus.FAILED
        assert calls[-1] == ["wm2"]


async def test_batch_jobs_starting_together_are_handled_as_one_set(settings: Settings) -> None:
    calls: list[list[str]] = []
    entered = asyncio.Event()
    async with Runtime(settings, routers=[_batch_router(calls, entered=entered)]) as rt:
        batcher = InboxBatcher(rt.deps)
        ids = [await _store(batcher, f"wm{n}") for n in range(4)]  # four commits
        ctx: dict[str, Any] = {"deps": rt.deps}
        # Jobs starting together (arq starts up to max_jobs at once) are handled as one set,
        # each job still answered with its own rows; the ones that start while a set runs
        # make a second set in flight beside it, with the rows the first did not take.
        first = asyncio.gather(*(process_inbox_batch(ctx, [i]) for i in ids[:2]))
        await entered.wait()
        late = [await _store(batcher, f"wm{n}") for n in range(4, 6)]
        later = asyncio.gather(*(process_inbox_batch(ctx, [i]) for i in [*ids[2:], *late]))
        # The first set also took the rows still pending behind it (their jobs were queued,
        # and find them done): one set for the rows stored before it started, one for the
        # rows stored during it.
        assert await first == [1] * 2 and await later == [0, 0, 1, 1]
        assert calls == [["wm0", "wm1", "wm2", "wm3"], ["wm4", "wm5"]]
        assert await InboxEvent.filter(status=InboxStatus.DONE).count() == 6


async def test_a_set_takes_the_pending_rows_behind_it_and_two_workers_split_them(
    settings: Settings,
) -> None:
    calls: list[list[str]] = []
    async with Runtime(settings, routers=[_batch_router(calls)]) as rt:
        batcher = InboxBatcher(rt.deps)
        ids = [await _store(batcher, f"wm{n}") for n in range(8)]
        one: dict[str, Any] = {"deps": rt.deps}
        other: dict[str, Any] = {"deps": rt.deps}  # a second worker process
        InboxDrain.SET_ROWS, saved = 3, InboxDrain.SET_ROWS
        try:
            # A worker behind: its job's row and the pending rows after it, up to the set size.
            assert await process_inbox_batch(one, [ids[0]]) == 1
            assert calls == [["wm0", "wm1", "wm2"]]
            # The rows it pulled are claimed: another worker pulls the ones after them.
            assert await process_inbox_batch(other, [ids[3]]) == 1
            assert calls[-1] == ["wm3", "wm4", "wm5"]
            # A job whose rows were taken by a set finds them done; its set still takes the
            # pending rows after the last ones this worker pulled.
            assert await process_inbox_batch(other, [ids[1]]) == 0
            assert calls[-1] == ["wm6", "wm7"]
            assert await process_inbox_batch(one, [ids[6]]) == 0
        finally:
            InboxDrain.SET_ROWS = saved
        assert len(calls) == 3
        assert await InboxEvent.filter(status=InboxStatus.DONE).count() == 8
        assert await HandlerRun.all().count() == 8


async def test_stranded_pending_rows_are_requeued_as_batch_jobs(settings: Settings) -> None:
    calls: list[list[str]] = []
    settings = settings.model_copy(
        update={"inbox": settings.inbox.model_copy(update={"stranded_after_seconds": 0.001})}
    )
    async with Runtime(settings, routers=[_batch_router(calls)]) as rt:
        batcher = InboxBatcher(rt.deps)
        ids = [await _store(batcher, f"wr{n}") for n in range(inbox.REQUEUE_BATCH + 5)]
        await batcher.settled()
        await rt.redis.flushdb()  # their jobs were lost with Redis
        await asyncio.sleep(0.01)
        assert await inbox.requeue_stranded(rt.deps) == len(ids)
        # A second run while those jobs are queued adds none.
        assert await inbox.requeue_stranded(rt.deps) == 0
        queued = await rt.redis.zrange("arq:queue", 0, -1)
        assert len(queued) == 2 and all(j.startswith(b"inbox-requeue:") for j in queued)
        worker = build_worker(rt, burst=True, handle_signals=False)
        try:
            await worker.main()
        finally:
            await worker.close()
        # Processed set-wise, not one by one.
        assert len(calls) <= 2 and sum(len(c) for c in calls) == len(ids)
        assert await InboxEvent.filter(status=InboxStatus.DONE).count() == len(ids)


async def test_the_jobs_of_one_worker_share_its_drain(settings: Settings) -> None:
    calls: list[list[str]] = []
    async with Runtime(settings, routers=[_batch_router(calls)]) as rt:
        batcher = InboxBatcher(rt.deps)
        for n in range(6):  # six commits, six jobs
            await _store(batcher, f"wj{n}")
        await batcher.settled()
        worker = build_worker(rt, burst=True, handle_signals=False)
        drains: set[int] = set()
        submit = InboxDrain.submit

        async def recording(self: InboxDrain, row_ids: list[int]) -> int:
            drains.add(id(self))
            return await submit(self, row_ids)

        InboxDrain.submit = recording  # type: ignore[method-assign]
        try:
            await worker.main()
        finally:
            InboxDrain.submit = submit  # type: ignore[method-assign]
            await worker.close()
        # arq hands each job a copy of the worker's ctx: the drain (its sets, its cursor and
        # leases) must still be the worker's one.
        assert len(drains) == 1
        assert sorted(sum(calls, [])) == [f"wj{n}" for n in range(6)]
        assert await InboxEvent.filter(status=InboxStatus.DONE).count() == 6


async def test_a_set_delivers_the_domain_events_it_published_without_a_job(
    settings: Settings,
) -> None:
    """The events a set's handlers publish are delivered by the worker right after the set: a
    delivery job would wait behind every inbox job queued before it (a whole burst's)."""
    got: list[str] = []
    router = Router("probe")

    @router.event_batch("probe")
    async def on_probes(deps: Deps, events: list[Event]) -> None:
        at = datetime(2025, 3, 1, tzinfo=UTC)
        await publish_many(
            deps,
            [
                (FollowAdded(userid="alice", external_userid=ext, at=at), ext)
                for ext in (str(e.raw.get("ExternalUserID")) for e in events)
            ],
        )

    @router.listen_batch(FollowAdded)
    async def on_added(deps: Deps, events: list[FollowAdded]) -> None:
        got.extend(e.external_userid for e in events)

    async with Runtime(settings, routers=[router]) as rt:
        await rt.deps.redis.flushdb()
        batcher = InboxBatcher(rt.deps)
        ids = [await _store(batcher, f"wm{n}") for n in range(3)]
        await batcher.settled()
        ctx: dict[str, Any] = {"deps": rt.deps}
        assert await process_inbox_batch(ctx, [i for i in ids if i is not None]) == 3
        assert got == ["wm0", "wm1", "wm2"]
        statuses = await DomainEventRow.all().values_list("status", flat=True)
        assert list(statuses) == [EventStatus.DONE] * 3
        queued = {job.function for job in await rt.pool.queued_jobs()}
        assert DELIVER_MANY_JOB not in queued, queued
