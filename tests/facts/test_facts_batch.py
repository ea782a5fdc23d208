"""Adds handled set-wise over an inbox batch: the same facts, relations, first adds, tags,
timeline and domain events as one by one, in a number of statements that does not grow with
the batch."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from bot import inbox, welcome
from bot.deps import Deps
from bot.domain_events import FollowAdded
from bot.events import Event, ExternalContactEvent
from bot.router import Router
from bot.settings import Settings
from handlers.facts.base import from_ts
from handlers.facts.store import record_add, record_end
from storage.core import DomainEventRow, HandlerRun, InboxEvent, InboxStatus, WelcomeLog
from storage.facts import (
    Customer,
    FactSource,
    FollowEvent,
    FollowRelation,
    FollowTag,
    TimelineEntry,
)
from tests.facts.fakes import T0, FakeWeCom, contact_event, make_deps, run_jobs
from tests.support import logged_statements

TABLES = (Customer, FollowEvent, FollowRelation, FollowTag, TimelineEntry, DomainEventRow)


def _corp(wecom: FakeWeCom) -> None:
    for n in range(1, 8):
        ext = f"wmB{n}"
        if n != 4:  # wmB4: WeCom no longer answers for them (84061)
            wecom.contacts[ext] = {"external_userid": ext, "name": f"客户{n}", "type": 1}
    tags = [{"tag_id": "etVIP", "type": 1}, {"tag_id": "etOld", "type": 1}]
    wecom.follows["wmB1"] = [
        {"userid": "alice", "createtime": T0, "add_way": 1, "remark": "老客户", "tags": tags},
        {"userid": "bob", "createtime": T0 + 30, "add_way": 3, "description": "转介绍"},
    ]
    wecom.follows["wmB2"] = [
        {"userid": "carol", "createtime": T0 + 10, "add_way": 1},
        {"userid": "dave", "createtime": T0 + 5, "add_way": 2},
    ]
    wecom.follows["wmB3"] = [{"userid": "alice", "createtime": T0 + 40, "add_way": 1}]
    wecom.follows["wmB5"] = [{"userid": "erin", "createtime": T0, "add_way": 1}]
    wecom.follows["wmB6"] = [{"userid": "erin", "createtime": T0 + 20, "add_way": 1}]
    wecom.follows["wmB7"] = [{"userid": "frank", "createtime": T0, "add_way": 1}]


def _adds() -> list[Event]:
    add = "add_external_contact"
    again = contact_event(add, "alice", "wmB1", T0)
    return [
        again,
        contact_event(add, "bob", "wmB1", T0 + 30),  # later: the first add stays alice's
        contact_event(add, "carol", "wmB2", T0 + 10),
        contact_event(add, "dave", "wmB2", T0 + 5),  # earlier, later in the batch: dave first
        contact_event(add, "alice", "wmB3", T0),
        contact_event(add, "alice", "wmB3", T0 + 40),  # the same pair twice (re-added)
        again,  # WeCom's retry of the same add
        contact_event(add, "alice", "wmB4", T0 + 50, State="poster"),
        contact_event(add, "erin", "wmB5", T0 + 2),  # the add a sync already found
        contact_event(add, "erin", "wmB6", T0 + 20),  # its end was processed first
        contact_event(add, "frank", "wmB7", T0 + 60),  # someone else added them earlier
    ]


async def _before(deps: Deps) -> None:
    await record_add(
        deps, userid="erin", external_userid="wmB5", at=from_ts(T0), source=FactSource.SYNC
    )
    await record_end(
        deps,
        userid="alice",
        external_userid="wmB3",
        at=from_ts(T0 + 20),
        reason="deleted_by_customer",
    )
    await record_end(
        deps, userid="erin", external_userid="wmB6", at=from_ts(T0 + 25), reason="deleted_by_staff"
    )
    await record_add(deps, userid="zoe", external_userid="wmB7", at=from_ts(T0 - 3600))


async def _snapshot() -> dict[str, list[tuple[Any, ...]]]:
    skip = {"id", "updated_at", "published_at", "next_attempt_at"}
    found: dict[str, list[tuple[Any, ...]]] = {}
    for model in TABLES:
        names = [f for f in model._meta.db_fields if f not in skip]
        rows = await model.all().values_list(*names)
        found[model.__name__] = sorted((tuple(str(v) for v in row) for row in rows), key=str)
    return found


async def _clear() -> None:
    for model in TABLES:
        await model.all().delete()


async def test_a_batch_of_adds_gives_what_one_by_one_gives(deps: Deps, wecom: FakeWeCom) -> None:
    _corp(wecom)
    route = deps.dispatcher.batch_routes(_adds()[0])
    assert route is not None and len(route) == 1
    await _before(deps)
    for event in _adds():  # one by one, as a lone row is processed
        outcomes = await deps.dispatcher.dispatch_event(deps, event)
        assert [o.error for o in outcomes] == [None]
    alone = await _snapshot()
    await _clear()
    await _before(deps)
    reads = len(wecom.calls)
    outcomes = await deps.dispatcher.dispatch_batch(deps, route[0], _adds())
    assert [o.error for o in outcomes] == [None] * len(_adds())
    assert wecom.calls[reads:].count("get_external_contact") == 7  # once per customer
    together = await _snapshot()
    assert together == alone
    # What the one-by-one run is known to get right, so the comparison means something.
    first = dict(await Customer.all().values_list("external_userid", "first_added_by"))
    assert first == {
        "wmB1": "alice",
        "wmB2": "dave",
        "wmB3": "alice",
        "wmB4": "alice",
        "wmB5": "erin",
        "wmB6": "erin",
        "wmB7": "zoe",
    }
    assert await FollowEvent.filter(kind="add", external_userid="wmB3").count() == 2
    assert await FollowEvent.filter(kind="add", external_userid="wmB1").count() == 2
    assert await FollowEvent.filter(kind="add", external_userid="wmB5").count() == 1
    relation = await FollowRelation.get(userid="alice", external_userid="wmB1")
    assert relation.remark == "老客户"
    assert not (await FollowRelation.get(userid="erin", external_userid="wmB6")).active
    tags = await FollowTag.filter(external_userid="wmB1").values_list("tag_id", flat=True)
    assert sorted(tags) == ["etOld", "etVIP"]
    # Two from before; ten adds in the batch less the retry and the one the sync had found.
    assert await DomainEventRow.filter(kind="FollowAdded").count() == 11


async def _process(deps: Deps, wecom: FakeWeCom, first: int, count: int) -> int:
    """Store `count` adds of new customers as inbox rows (the web's welcome lane deciding
    each, as it does when it stores them), process them as one batch; the statements that
    took."""
    ids = []
    for n in range(first, first + count):
        ext = f"wmS{n}"
        wecom.contacts[ext] = {"external_userid": ext, "name": f"客户{n}", "type": 1}
        wecom.follows[ext] = [{"userid": "alice", "createtime": T0, "add_way": 1}]
        event = contact_event("add_external_contact", "alice", ext, T0 + n)
        xml = "".join(f"<{k}>{v}</{k}>" for k, v in event.raw.items())
        row, _ = await inbox.store(f"<xml>{xml}</xml>", event, deps.now())
        assert isinstance(event, ExternalContactEvent)
        await welcome.arbitrate(deps, event)
        ids.append(row.id)
    with logged_statements() as statements:
        assert await inbox.process_batch(deps, ids) == count
    return statements.count


async def test_a_batch_of_adds_costs_the_same_statements_whatever_its_size(
    db: None, settings: Settings, redis: Redis, wecom: FakeWeCom
) -> None:
    listener = Router("listener")
    heard: list[str] = []

    @listener.listen(FollowAdded)
    async def on_added(deps: Deps, event: FollowAdded) -> None:
        heard.append(event.external_userid)

    deps = make_deps(settings, redis, wecom, extra=[listener])
    small = await _process(deps, wecom, 0, 5)
    large = await _process(deps, wecom, 100, 40)
    assert large == small, (small, large)
    assert small <= 17, small
    assert await InboxEvent.filter(status=InboxStatus.DONE).count() == 45
    assert await FollowRelation.filter(active=True).count() == 45
    assert await TimelineEntry.filter(kind="added").count() == 45
    # One delivery job for the batch's domain events.
    jobs = deps.queue.take()  # type: ignore[attr-defined]
    assert [name for name, _ in jobs] == ["deliver_events", "deliver_events"]
    assert sorted(len(args[0]) for _, args in jobs) == [5, 40]
    deps.queue.jobs = [(name, args, None, None) for name, args in jobs]  # type: ignore[attr-defined]
    await run_jobs(deps)
    assert sorted(heard) == sorted(
        [f"wmS{n}" for n in range(5)] + [f"wmS{n}" for n in range(100, 140)]
    )


async def _store_adds(deps: Deps, wecom: FakeWeCom, exts: list[str]) -> list[int]:
    """Inbox rows for adds no welcome lane decided (the web process went down after storing
    them)."""
    ids = []
    for n, ext in enumerate(exts):
        wecom.contacts[ext] = {"external_userid": ext, "name": ext, "type": 1}
        wecom.follows[ext] = [{"userid": "alice", "createtime": T0, "add_way": 1}]
        event = contact_event("add_external_contact", "alice", ext, T0 + n)
        xml = "".join(f"<{k}>{v}</{k}>" for k, v in event.raw.items())
        row, _ = await inbox.store(f"<xml>{xml}</xml>", event, deps.now())
        ids.append(row.id)
    return ids


async def test_the_worker_decides_a_sets_undecided_welcomes_together(
    db: None, settings: Settings, redis: Redis, wecom: FakeWeCom, monkeypatch: Any
) -> None:
    deps = make_deps(settings, redis, wecom)
    groups: list[int] = []
    arbitrate_many = welcome.arbitrate_many

    async def recording(deps: Deps, events: list[ExternalContactEvent]) -> list[bool]:
        groups.append(len(events))
        return await arbitrate_many(deps, events)

    monkeypatch.setattr(welcome, "arbitrate_many", recording)
    ids = await _store_adds(deps, wecom, [f"wmW{n}" for n in range(4)])
    assert await inbox.process_batch(deps, ids) == 4
    assert groups == [4]
    assert await WelcomeLog.all().count() == 4
    runs = await HandlerRun.filter(handler=inbox.WELCOME_RUN).count()
    assert runs == 4


async def test_a_set_whose_welcomes_fail_together_decides_them_one_by_one(
    db: None, settings: Settings, redis: Redis, wecom: FakeWeCom, monkeypatch: Any
) -> None:
    deps = make_deps(settings, redis, wecom)
    arbitrate_many = welcome.arbitrate_many

    async def failing(deps: Deps, events: list[ExternalContactEvent]) -> list[bool]:
        if len(events) > 1 or events[0].external_user_id == "wmF2":
            raise RuntimeError("the claim failed")
        return await arbitrate_many(deps, events)

    monkeypatch.setattr(welcome, "arbitrate_many", failing)
    ids = await _store_adds(deps, wecom, [f"wmF{n}" for n in range(4)])
    # Every add's facts are recorded; only the add whose welcome fails alone is retried.
    assert await inbox.process_batch(deps, ids) == 3
    statuses = await InboxEvent.filter(id__in=ids).order_by("id").values_list("status", flat=True)
    assert list(statuses) == [InboxStatus.DONE] * 2 + [InboxStatus.FAILED, InboxStatus.DONE]
    assert await WelcomeLog.all().count() == 3
    assert await FollowRelation.filter(active=True).count() == 4
    monkeypatch.setattr(welcome, "arbitrate_many", arbitrate_many)
    assert await inbox.process(deps, ids[2]) is InboxStatus.DONE
    assert await WelcomeLog.all().count() == 4


async def test_facts_inserted_with_returning_are_the_models_a_read_gives(deps: Deps) -> None:
    """`insert_new_returning`: over several statements, only the rows it wrote come back (a
    key stored before is kept out and not returned), each the model a SELECT would build."""
    from bot.rows import insert_new_returning
    from handlers.facts.store import FACT_COLUMNS

    await record_add(deps, userid="alice", external_userid="wm0", at=T0, key="add:0")
    rows = [
        (f"add:{n}", "alice", f"wm{n}", "add", from_ts(1_700_000_000 + n), n, "s", "", "sync")
        for n in range(5)
    ]
    written = await insert_new_returning(FollowEvent, FACT_COLUMNS, rows, chunk=2)
    assert [e.key for e in written] == [f"add:{n}" for n in range(1, 5)]
    for fact in written:
        stored = await FollowEvent.get(key=fact.key)
        assert (fact.id, fact.at, fact.add_way, fact.source) == (
            stored.id,
            stored.at,
            stored.add_way,
            stored.source,
        )
    assert written[0].at == from_ts(1_700_000_001) and written[0].at.tzinfo is not None


async def test_rows_read_by_a_long_key_list_in_one_statement(deps: Deps) -> None:
    """`select_in`: a list of a thousand keys (most matching nothing) is one statement with
    one parameter, and gives the matching rows' columns."""
    from bot.rows import select_in

    await FollowTag.bulk_create(
        [
            FollowTag(userid="alice", external_userid=f"wm{n}", tag_id="etVIP", added_at=T0)
            for n in (3, 700)
        ]
    )
    exts = {f"wm{n}" for n in range(1000)}
    columns = ("userid", "external_userid", "tag_id")
    with logged_statements() as statements:
        found = await select_in(FollowTag, columns, "external_userid", exts)
    assert sorted(found) == [("alice", "wm3", "etVIP"), ("alice", "wm700", "etVIP")]
    assert len(statements.texts) == 1
    assert await select_in(FollowTag, columns, "external_userid", set()) == []


async def test_models_read_by_a_long_key_list_are_those_a_query_builds(deps: Deps) -> None:
    """`models_in`: one statement for a thousand keys; each model has every field as the
    query builder's read gives it (datetimes aware, enums, booleans)."""
    from bot.rows import models_in

    for n in (3, 700):
        at = from_ts(T0 + n)
        await record_add(deps, userid="alice", external_userid=f"wm{n}", at=at, key=f"add:{n}")
    end_at = from_ts(T0 + 900)
    await record_end(
        deps, userid="alice", external_userid="wm3", at=end_at, reason="deleted_by_staff"
    )
    exts = [f"wm{n}" for n in range(1000)]
    with logged_statements() as statements:
        found = await models_in(FollowEvent, "external_userid", exts)
    assert len(statements.texts) == 1
    built = await FollowEvent.filter(external_userid__in=exts)
    fields = list(FollowEvent._meta.fields_map)
    assert sorted((tuple(getattr(e, f) for f in fields) for e in found), key=str) == sorted(
        (tuple(getattr(e, f) for f in fields) for e in built), key=str
    )
    assert len(found) == 3 and all(e.at.tzinfo is not None for e in found)
