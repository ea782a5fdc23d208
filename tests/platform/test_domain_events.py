"""Durable domain events: published once per key, delivered once per subscriber, a failing
subscriber retried alone with backoff and dead after inbox.max_attempts, per-subject order,
stranded events found by the cron."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis.asyncio import Redis
from tortoise import connections

from bot import event_delivery
from bot.deps import Deps
from bot.domain_events import (
    FollowAdded,
    FollowEnded,
    GroupJoined,
    TagsMarked,
    publish,
    publish_many,
)
from bot.router import Router
from bot.settings import Settings
from storage.core import DomainEventRow, EventDelivery, EventStatus
from storage.sql import fetch_dicts
from tests.conftest import make_settings
from tests.support import Clock, FakeQueue, fake_deps, logged_statements

T0 = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)


class Probe:
    """A router whose subscribers record what they got and fail on demand."""

    def __init__(self) -> None:
        self.router = Router("probe")
        self.got: list[tuple[str, str, str]] = []
        self.fail: dict[str, int] = {}  # subscriber -> failures left

        @self.router.listen(FollowAdded)
        async def on_added(deps: Deps, event: FollowAdded) -> None:
            self._record("on_added", "added", event.external_userid)

        @self.router.listen(FollowEnded)
        async def on_ended(deps: Deps, event: FollowEnded) -> None:
            self._record("on_added", "ended", event.external_userid)

        @self.router.listen(FollowAdded)
        async def audit(deps: Deps, event: FollowAdded) -> None:
            self._record("audit", "added", event.external_userid)

    def _record(self, name: str, what: str, ext: str) -> None:
        if self.fail.get(name, 0) > 0:
            self.fail[name] -= 1
            raise RuntimeError(f"{name} is down")
        self.got.append((name, what, ext))


@pytest.fixture
def probe() -> Probe:
    return Probe()


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def deps(db: None, tmp_path: Path, db_url: str, redis: Redis, probe: Probe, clock: Clock) -> Deps:
    settings: Settings = make_settings(
        tmp_path, db_url, "redis://unused", inbox={"max_attempts": 3}
    )
    return fake_deps(settings, redis, [probe.router], object(), clock=clock)


def added(ext: str = "wm1") -> FollowAdded:
    return FollowAdded(userid="alice", external_userid=ext, at=T0)


def queued(deps: Deps) -> list[tuple[str, tuple[object, ...], str | None, float | None]]:
    jobs: list[tuple[str, tuple[object, ...], str | None, float | None]] = deps.queue.jobs  # type: ignore[attr-defined]
    return jobs


async def test_same_fact_published_twice_is_delivered_once(deps: Deps, probe: Probe) -> None:
    first = await publish(deps, added(), key="add:alice:wm1:1")
    again = await publish(deps, added(), key="add:alice:wm1:1")
    assert first.id == again.id and await DomainEventRow.all().count() == 1
    assert [j[0] for j in queued(deps)] == ["deliver_event"]  # the replay enqueued nothing
    assert await event_delivery.process(deps, first.id) is EventStatus.DONE
    assert await event_delivery.process(deps, first.id) is EventStatus.DONE  # arq ran it twice
    assert sorted(probe.got) == [("audit", "added", "wm1"), ("on_added", "added", "wm1")]


async def test_failing_subscriber_is_retried_alone(deps: Deps, probe: Probe, clock: Clock) -> None:
    probe.fail["on_added"] = 1
    row = await publish(deps, added(), key="k1")
    deps.queue.jobs.clear()  # type: ignore[attr-defined]
    assert await event_delivery.process(deps, row.id) is EventStatus.FAILED
    stored = await DomainEventRow.get(id=row.id)
    assert stored.attempts == 1 and "probe.on_added: RuntimeError" in (stored.last_error or "")
    assert stored.next_attempt_at is not None and stored.next_attempt_at > clock.now
    [(name, args, _, defer_by)] = queued(deps)
    assert (name, args) == ("deliver_event", (row.id,)) and defer_by and defer_by > 0
    delivered = await EventDelivery.filter(event_id=row.id).values_list("subscriber", flat=True)
    assert delivered == ["probe.audit"]
    assert await event_delivery.process(deps, row.id) is EventStatus.DONE
    assert probe.got == [("audit", "added", "wm1"), ("on_added", "added", "wm1")]  # audit once


async def test_dead_after_max_attempts_and_counted(deps: Deps, probe: Probe) -> None:
    probe.fail["audit"] = 99
    row = await publish(deps, added(), key="k1")
    statuses = [await event_delivery.process(deps, row.id) for _ in range(3)]
    assert statuses == [EventStatus.FAILED, EventStatus.FAILED, EventStatus.DEAD]
    assert await event_delivery.process(deps, row.id) is EventStatus.DEAD  # no more runs
    assert probe.got == [("on_added", "added", "wm1")]
    assert await event_delivery.counts() == {"pending": 0, "dead": 1}


async def test_a_subject_is_delivered_in_order(deps: Deps, probe: Probe) -> None:
    """The add fails once; the end (same customer) waits for it instead of overtaking it."""
    probe.fail["on_added"] = 1
    add = await publish(deps, added(), key="add")
    end = await publish(deps, FollowEnded(userid="alice", external_userid="wm1", at=T0), key="e")
    other = await publish(deps, FollowEnded(userid="bob", external_userid="wm2", at=T0), key="o")
    assert await event_delivery.process(deps, add.id) is EventStatus.FAILED
    assert await event_delivery.process(deps, end.id) is EventStatus.PENDING  # waits
    assert (await DomainEventRow.get(id=end.id)).attempts == 0  # waiting uses no attempt
    assert await event_delivery.process(deps, other.id) is EventStatus.DONE  # not held up
    assert await event_delivery.process(deps, add.id) is EventStatus.DONE
    assert await event_delivery.process(deps, end.id) is EventStatus.DONE
    mine = [g for g in probe.got if g[0] == "on_added" and g[2] == "wm1"]
    assert mine == [("on_added", "added", "wm1"), ("on_added", "ended", "wm1")]


async def test_stranded_event_is_requeued_by_the_cron(
    deps: Deps, probe: Probe, clock: Clock
) -> None:
    class DownQueue(FakeQueue):
        async def enqueue(self, name: str, *args: object, **kw: object) -> bool:
            raise ConnectionError("redis is down")

    down = fake_deps(deps.settings, deps.redis, [probe.router], object(), queue=DownQueue())
    object.__setattr__(down, "clock", clock)
    row = await publish(down, added(), key="k1")  # stored although Redis is down
    assert (await DomainEventRow.get(id=row.id)).status is EventStatus.PENDING
    assert await event_delivery.requeue_stranded(deps) == 0  # not stranded yet
    clock.advance(deps.settings.inbox.stranded_after_seconds + 1)
    assert await event_delivery.requeue_stranded(deps) == 1
    assert [j[1] for j in queued(deps)] == [(row.id,)]


async def test_event_without_subscribers_is_done_at_once(deps: Deps) -> None:
    tags = TagsMarked(
        userid="alice", external_userid="wm1", at=T0, add=["t1"], remove=[], by="client"
    )
    row = await publish(deps, tags, key="k1")
    assert (await DomainEventRow.get(id=row.id)).status is EventStatus.DONE
    assert queued(deps) == []
    assert tags.subject() == "customer:wm1" and TagsMarked.kind == "TagsMarked"


async def test_many_published_together_are_delivered_by_one_job_in_order(
    deps: Deps, probe: Probe
) -> None:
    """A batch's events: one INSERT, one job; a replayed key is not published again; within
    the job a customer's end still waits for their add when the add's subscriber fails."""
    await publish(deps, added("wm0"), key="before")
    deps.queue.jobs.clear()  # type: ignore[attr-defined]
    probe.fail["on_added"] = 1  # the first add's on_added fails once
    ended = FollowEnded(userid="alice", external_userid="wm1", at=T0)
    items = [
        (added("wm1"), "add1"),
        (ended, "end1"),
        (added("wm2"), "add2"),
        (added("wm0"), "before"),  # already published
    ]
    ids = await publish_many(deps, items)
    assert len(ids) == 3 and await DomainEventRow.all().count() == 4
    [(name, (job_ids,), _, _)] = queued(deps)
    assert name == "deliver_events" and job_ids == sorted(ids)
    deps.queue.jobs.clear()  # type: ignore[attr-defined]
    assert await event_delivery.process_many(deps, job_ids) == 1  # wm2's add
    statuses = dict(await DomainEventRow.filter(id__in=ids).values_list("key", "status"))
    assert statuses == {
        "FollowAdded:add1": EventStatus.FAILED,
        "FollowEnded:end1": EventStatus.PENDING,  # held back behind the add, no attempt used
        "FollowAdded:add2": EventStatus.DONE,
    }
    # The failed add is retried alone (audit had it), the end waits for it and looks again.
    assert sorted(name for name, *_ in queued(deps)) == ["deliver_event", "deliver_event"]
    assert await event_delivery.process_many(deps, job_ids) == 2
    mine = [g for g in probe.got if g[0] == "on_added" and g[2] == "wm1"]
    assert mine == [("on_added", "added", "wm1"), ("on_added", "ended", "wm1")]
    assert [g for g in probe.got if g[0] == "audit"].count(("audit", "added", "wm1")) == 1
    assert await event_delivery.process_many(deps, job_ids) == 0  # a replayed job: nothing


async def test_an_earlier_open_event_outside_the_job_holds_its_subject_back(
    deps: Deps, probe: Probe
) -> None:
    first = await publish(deps, added("wm1"), key="first")  # not delivered yet
    ids = await publish_many(
        deps, [(FollowEnded(userid="alice", external_userid="wm1", at=T0), "e")]
    )
    assert await event_delivery.process_many(deps, ids) == 0
    assert await event_delivery.process(deps, first.id) is EventStatus.DONE
    assert await event_delivery.process_many(deps, ids) == 1


async def _deliver_counted(deps: Deps, count: int, first: int) -> int:
    ids = await publish_many(
        deps, [(added(f"wm{n}"), f"k{n}") for n in range(first, first + count)]
    )
    with logged_statements() as statements:
        assert await event_delivery.process_many(deps, ids) == count
    return statements.count


async def test_delivering_many_costs_the_same_statements_whatever_their_number(
    deps: Deps, probe: Probe
) -> None:
    small, large = await _deliver_counted(deps, 3, 0), await _deliver_counted(deps, 30, 100)
    assert small == large <= 2, (small, large)  # one read, one UPDATE
    assert len(probe.got) == 2 * 33
    assert await EventDelivery.all().count() == 0  # a done event needs no ledger


class BatchProbe:
    """A feature with batch subscribers: each call recorded as the list it got; an event of
    a customer in `bad` makes any call holding it fail."""

    def __init__(self) -> None:
        self.router = Router("batched")
        self.calls: list[list[tuple[str, str]]] = []
        self.bad: set[str] = set()

        @self.router.listen_batch(FollowAdded)
        async def on_added(deps: Deps, events: list[FollowAdded]) -> None:
            self._record([("added", e.external_userid) for e in events])

        @self.router.listen_batch(FollowEnded)
        async def on_ended(deps: Deps, events: list[FollowEnded]) -> None:
            self._record([("ended", e.external_userid) for e in events])

    def _record(self, got: list[tuple[str, str]]) -> None:
        if self.bad & {ext for _, ext in got}:
            raise RuntimeError("a bad customer")
        self.calls.append(got)


@pytest.fixture
def batched(deps: Deps) -> tuple[Deps, BatchProbe]:
    probe = BatchProbe()
    return fake_deps(deps.settings, deps.redis, [probe.router], object(), clock=deps.clock), probe


async def test_a_batch_subscriber_gets_the_jobs_events_in_one_call(
    batched: tuple[Deps, BatchProbe],
) -> None:
    deps, probe = batched
    ids = await publish_many(deps, [(added(f"wm{n}"), f"k{n}") for n in range(5)])
    assert await event_delivery.process_many(deps, ids) == 5
    assert probe.calls == [[("added", f"wm{n}") for n in range(5)]]
    assert await event_delivery.process_many(deps, ids) == 0  # a replayed job: no call
    one = await publish(deps, added("wm9"), key="k9")
    assert await event_delivery.process(deps, one.id) is EventStatus.DONE  # a list of one
    assert probe.calls[-1] == [("added", "wm9")]


async def test_a_batch_keeps_a_subjects_order_across_a_features_subscribers(
    batched: tuple[Deps, BatchProbe],
) -> None:
    deps, probe = batched
    items = [
        (added("wm1"), "a1"),
        (added("wm2"), "a2"),
        (FollowEnded(userid="alice", external_userid="wm1", at=T0), "e1"),
        (FollowAdded(userid="bob", external_userid="wm1", at=T0), "a3"),
    ]
    ids = await publish_many(deps, items)
    assert await event_delivery.process_many(deps, ids) == 4
    assert probe.calls == [
        [("added", "wm1"), ("added", "wm2")],
        [("ended", "wm1")],
        [("added", "wm1")],
    ]


async def test_a_failing_batch_is_delivered_event_by_event(
    batched: tuple[Deps, BatchProbe],
) -> None:
    """One bad event fails alone (retried alone); the others are delivered; a later event
    of the bad event's customer waits for it."""
    deps, probe = batched
    probe.bad = {"wm2"}
    items = [
        (added("wm1"), "a1"),
        (added("wm2"), "a2"),
        (added("wm3"), "a3"),
        (FollowEnded(userid="alice", external_userid="wm2", at=T0), "e2"),
    ]
    ids = await publish_many(deps, items)
    assert await event_delivery.process_many(deps, ids) == 2
    assert probe.calls == [[("added", "wm1")], [("added", "wm3")]]
    statuses = dict(await DomainEventRow.filter(id__in=ids).values_list("key", "status"))
    assert statuses == {
        "FollowAdded:a1": EventStatus.DONE,
        "FollowAdded:a2": EventStatus.FAILED,
        "FollowAdded:a3": EventStatus.DONE,
        "FollowEnded:e2": EventStatus.PENDING,  # waits for the failed add, no attempt used
    }
    probe.bad = set()
    assert await event_delivery.process_many(deps, ids) == 2
    assert probe.calls[2:] == [[("added", "wm2")], [("ended", "wm2")]]


async def test_a_set_keeps_ledger_rows_only_for_the_events_it_leaves_open(
    deps: Deps, probe: Probe
) -> None:
    """A done event's subscribers all had it: the set writes no ledger row for it. An event
    left open keeps the subscribers that finished, so its retry runs only the missing one."""
    probe.fail["on_added"] = 1
    ids = await publish_many(deps, [(added(f"wm{n}"), f"k{n}") for n in range(3)])
    assert await event_delivery.process_many(deps, ids) == 2
    ledger = await EventDelivery.all().values_list("event_id", "subscriber")
    assert ledger == [(ids[0], "probe.audit")]
    assert await event_delivery.process(deps, ids[0]) is EventStatus.DONE
    assert probe.got.count(("audit", "added", "wm0")) == 1


async def test_the_set_read_finds_a_subjects_open_events_by_their_partial_index(
    deps: Deps,
) -> None:
    """The subjects' earlier open events are looked up in the partial index of open events,
    not through the status index (whose open entries the planner misjudged on PostgreSQL:
    130-260 ms a set of 500)."""
    await publish_many(deps, [(added(f"wm{n}"), f"k{n}") for n in range(3)])
    sql, values = event_delivery.read_statement([1, 2, 3])
    if connections.get("default").capabilities.dialect == "postgres":
        rows = await fetch_dicts("EXPLAIN " + sql, values)
        plan = "\n".join(str(r["QUERY PLAN"]) for r in rows)
    else:
        rows = await fetch_dicts("EXPLAIN QUERY PLAN " + sql, values)
        plan = "\n".join(str(r["detail"]) for r in rows)
    assert "idx_domain_event_open_subject" in plan, plan
    assert "idx_domain_even_status" not in plan, plan


async def test_ledger_rows_inserted_without_models_keep_the_rows_already_there(
    deps: Deps,
) -> None:
    """`insert_new`: several statements (chunks), a row already stored and a row twice in
    one call are each kept once, the stored row untouched; times converted by their field."""
    from bot.rows import insert_new

    ids = await publish_many(deps, [(added(f"wm{n}"), f"k{n}") for n in range(3)])
    await EventDelivery.create(event_id=ids[0], subscriber="probe.audit", delivered_at=T0)
    later = T0.replace(hour=5)
    rows = [(i, name, later) for i in ids for name in ("probe.audit", "probe.on_added")]
    await insert_new(
        EventDelivery, ("event_id", "subscriber", "delivered_at"), [*rows, rows[-1]], chunk=4
    )
    stored = await EventDelivery.all().order_by("event_id", "subscriber")
    assert [(d.event_id, d.subscriber) for d in stored] == [(i, n) for i, n, _ in rows]
    assert [d.delivered_at for d in stored] == [T0] + [later] * 5


async def test_bulk_writes_keep_one_statement_text_whatever_their_row_count(
    deps: Deps,
) -> None:
    """On PostgreSQL the worker's bulk writes (`upsert_rows`, `publish_many`) send one array a
    column, so the driver prepares each statement once instead of once per row count (a
    prepare is a round trip and a parse on the server)."""
    from bot.rows import insert_new

    conn = connections.get("default")
    if conn.capabilities.dialect != "postgres":
        pytest.skip("SQLite has no arrays: its statements list their rows")
    with logged_statements() as statements:
        for first, count in ((0, 2), (10, 7)):
            keys = [(added(f"wm{n}"), f"k{n}") for n in range(first, first + count)]
            ids = await publish_many(deps, keys)
            await insert_new(
                EventDelivery,
                ("event_id", "subscriber", "delivered_at"),
                [(i, "probe.audit", T0) for i in ids],
            )
    inserts = [t for t in statements.texts if t.startswith("INSERT")]
    assert len(inserts) == 4 and len(set(inserts)) == 2, inserts
    assert await EventDelivery.all().count() == 9


async def test_delivery_jobs_running_at_once_are_joined_into_one_set(
    batched: tuple[Deps, BatchProbe],
) -> None:
    """Jobs started together in one worker share one set: one call of a batch subscriber with
    their events in publish order; each job is answered with its own events done."""
    deps, probe = batched
    first = await publish_many(deps, [(added(f"wm{n}"), f"k{n}") for n in range(3)])
    second = await publish_many(deps, [(added(f"wm{n}"), f"k{n}") for n in range(3, 5)])
    counts = await asyncio.gather(
        event_delivery.process_many(deps, second), event_delivery.process_many(deps, first)
    )
    assert counts == [2, 3]
    assert probe.calls == [[("added", f"wm{n}") for n in range(5)]]


async def test_a_set_failing_as_a_whole_is_delivered_one_event_at_a_time(
    deps: Deps, probe: Probe, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The set's read fails (the database, say): each event is delivered alone, in order; an
    event failing alone too fails its own job only, and is left open for a retry."""
    items = [
        (added("wm1"), "a1"),
        (FollowEnded(userid="alice", external_userid="wm1", at=T0), "e1"),
        (added("wm2"), "a2"),
    ]
    ids = await publish_many(deps, items)
    other = await publish_many(deps, [(added("wm3"), "a3")])

    async def broken(event_ids: list[int]) -> object:
        raise RuntimeError("the database is away")

    monkeypatch.setattr(event_delivery, "_read_set", broken)
    single = event_delivery.process

    async def process(deps: Deps, event_id: int) -> EventStatus | None:
        if event_id == other[0]:
            raise RuntimeError("still away")
        return await single(deps, event_id)

    monkeypatch.setattr(event_delivery, "process", process)
    results = await asyncio.gather(
        event_delivery.process_many(deps, ids),
        event_delivery.process_many(deps, other),
        return_exceptions=True,
    )
    assert results[0] == 3
    assert isinstance(results[1], RuntimeError)
    assert [g for g in probe.got if g[0] == "on_added"] == [
        ("on_added", "added", "wm1"),
        ("on_added", "ended", "wm1"),
        ("on_added", "added", "wm2"),
    ]
    statuses = await DomainEventRow.filter(id__in=[*ids, *other]).values_list("status", flat=True)
    assert sorted(statuses) == [EventStatus.DONE] * 3 + [EventStatus.PENDING]


async def test_two_workers_delivering_the_same_events_record_each_delivery_once(
    deps: Deps, probe: Probe
) -> None:
    """Two processes (their own joined sets) on the same job: every event done, at most one
    ledger row per subscriber and event (the ledger's unique key; subscribers are
    idempotent)."""
    ids = await publish_many(deps, [(added(f"wm{n}"), f"k{n}") for n in range(4)])
    other = fake_deps(deps.settings, deps.redis, [probe.router], object(), clock=deps.clock)
    counts = await asyncio.gather(
        event_delivery.process_many(deps, ids), event_delivery.process_many(other, ids)
    )
    assert sum(counts) >= 4
    assert await EventDelivery.all().count() <= 2 * 4
    assert set(await DomainEventRow.filter(id__in=ids).values_list("status", flat=True)) == {
        EventStatus.DONE
    }


def test_every_subscriber_of_what_an_add_publishes_takes_a_set_at_once() -> None:
    """FollowAdded and GroupJoined come in thousands in a burst: each feature's subscriber
    takes a delivery set's events in one call (its lookups once per set, not per event)."""
    from handlers import FEATURE_ROUTERS

    subs = [
        s
        for router in FEATURE_ROUTERS
        for s in router.subscriptions
        if s.kind in (FollowAdded.kind, GroupJoined.kind)
    ]
    assert len(subs) >= 7
    assert [s.name for s in subs if not s.batch] == []


def test_a_subscription_registered_later_is_found() -> None:
    """The dispatcher keeps its subscribers per kind, and starts over when a router gains one."""
    from bot.dispatcher import Dispatcher

    router = Router("late")

    @router.listen(FollowAdded)
    async def first(deps: Deps, event: FollowAdded) -> None: ...

    dispatcher = Dispatcher([router])
    assert [s.name for s in dispatcher.subscribers("FollowAdded")] == ["late.first"]

    @router.listen(FollowAdded)
    async def second(deps: Deps, event: FollowAdded) -> None: ...

    assert [s.name for s in dispatcher.subscribers("FollowAdded")] == ["late.first", "late.second"]
    assert [s.name for s in dispatcher.subscribers()] == ["late.first", "late.second"]
