"""Group commit of visits: openings arriving together share one transaction and one job each
for follow-up and heartbeat write-back, and every visit is still recorded."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.deps import Deps
from handlers.radar import people
from handlers.radar.batch import FINALIZE_JOB, FOLLOWUP_JOB, batcher
from handlers.radar.followup import finalize_many
from handlers.radar.visits import NewVisit, add_beat, epoch
from storage.radar import Person, Visit
from storage.visitors import Visitor
from tests.radar.conftest import Clock
from tests.radar.support import make_radar, make_share


async def _open_many(client: TestClient, path: str, n: int) -> list[int]:
    async def one() -> int:
        async with client.session.get(client.make_url(path), allow_redirects=False) as resp:
            return resp.status

    return list(await asyncio.gather(*(one() for _ in range(n))))


def _jobs(deps: Deps, name: str) -> list[tuple[Any, ...]]:
    return [args for job, args, *_ in deps.queue.jobs if job == name]  # type: ignore[attr-defined]


async def test_concurrent_openings_are_all_recorded_in_batches(
    client: TestClient, deps: Deps, corp: None
) -> None:
    from aiohttp import DummyCookieJar

    client.session._cookie_jar = DummyCookieJar()  # noqa: SLF001 — every request a new visitor
    radar = await make_radar(deps)
    share = await make_share(deps, radar)
    statuses = await _open_many(client, f"/r/{share.token}", 60)
    assert statuses == [200] * 60
    assert await Visit.all().count() == 60
    assert await Visitor.all().count() == 0  # anonymous browsers need no row
    assert len(set(await Visit.all().values_list("visitor_id", flat=True))) == 60
    ids = set(await Visit.all().values_list("id", flat=True))
    finals = _jobs(deps, FINALIZE_JOB)
    follows = _jobs(deps, FOLLOWUP_JOB)
    assert {v for args in finals for v in args[0]} == ids  # every visit written back later
    identified = {v for args in follows for v in args[0]}
    assert len(identified) == 1  # only the first browser is the share's customer
    assert len(finals) < 60  # batched: fewer jobs than visits


async def test_failed_insert_fails_every_waiting_request(deps: Deps, corp: None) -> None:
    radar = await make_radar(deps)
    share = await make_share(deps, radar)
    visit = NewVisit("same", share.id, radar.id, "nobody", "", "", 1, "alice", "single", deps.now())
    twin = NewVisit("same", share.id, radar.id, "other", "", "", 1, "alice", "single", deps.now())
    results = await asyncio.gather(
        batcher(deps).record(visit, True),
        batcher(deps).record(twin, True),
        return_exceptions=True,
    )
    assert all(isinstance(r, Exception) for r in results)  # the primary key clashes
    assert await Visit.all().count() == 0
    assert deps.queue.jobs == []  # type: ignore[attr-defined]


async def test_finalize_many_returns_the_visits_still_open(
    client: TestClient, deps: Deps, corp: None, clock: Clock
) -> None:
    radar = await make_radar(deps)
    share = await make_share(deps, radar)
    for _ in range(3):
        client.session.cookie_jar.clear()
        assert (await client.get(f"/r/{share.token}")).status == 200
    visits = await Visit.all().order_by("id")
    clock.advance(90)
    await add_beat(deps, visits[0].id, epoch(visits[0].started_at), 80, 50, 2)
    still_open = await finalize_many(deps, [v.id for v in visits] + ["missing"], 0)
    assert still_open == [visits[0].id]
    closed = await Visit.filter(finalized=True).count()
    assert closed == 2


async def _summary(radar_id: int) -> list[dict[str, Any]]:
    fields = [f for f in Person._meta.db_fields if f != "id"]
    return list(await Person.filter(radar_id=radar_id).order_by("person").values(*fields))


async def _exact(radar_id: int) -> list[dict[str, Any]]:
    """The summary kept, checked against one recomputed from every visit."""
    kept = await _summary(radar_id)
    await people.rebuild(radar_id)
    assert await _summary(radar_id) == kept
    return kept


async def test_a_batch_of_new_browsers_is_all_or_nothing_and_a_retry_is_exact(
    deps: Deps, corp: None, monkeypatch: Any
) -> None:
    """New browsers' visits and their people go in one write: when it fails after the visits'
    INSERT, neither is kept, every waiting open fails, and the batch retried is summarized
    exactly."""
    radar = await make_radar(deps)
    share = await make_share(deps, radar, "carol", "")
    visits = [
        NewVisit(f"v{n}", share.id, radar.id, f"b{n}", "", "", 1, "carol", "group", deps.now())
        for n in range(3)
    ]
    broken = people.first_visits_statement

    def failing(rows: list[dict[str, Any]], db: Any) -> tuple[str, list[list[Any]]]:
        sql, values = broken(rows, db)
        return sql.replace("radar_person", "radar_person_gone"), values

    monkeypatch.setattr(people, "first_visits_statement", failing)
    record = batcher(deps).record
    results = await asyncio.gather(*(record(v, True, True) for v in visits), return_exceptions=True)
    assert all(isinstance(r, Exception) for r in results)
    assert await Visit.all().count() == 0 and await Person.all().count() == 0
    monkeypatch.setattr(people, "first_visits_statement", broken)
    await asyncio.gather(*(record(v, True, True) for v in visits))  # the same visits again
    kept = await _exact(radar.id)
    assert [(p["person"], p["visits"]) for p in kept] == [("b0", 1), ("b1", 1), ("b2", 1)]


async def test_two_visits_of_one_person_in_one_batch_are_summarized_exactly(
    deps: Deps, corp: None, clock: Clock
) -> None:
    radar = await make_radar(deps)
    share = await make_share(deps, radar, "carol", "")

    def visit(vid: str, browser: str, parent: str = "", level: int = 1) -> NewVisit:
        channel = "forward" if parent else "group"
        return NewVisit(
            vid, share.id, radar.id, browser, "", parent, level, "carol", channel, deps.now()
        )

    await batcher(deps).record(visit("v0", "a"), True, True)
    clock.advance(5)
    record = batcher(deps).record
    await asyncio.gather(
        record(visit("v1", "a"), True),  # browser a twice in the batch, and a new one ...
        record(visit("v2", "a"), True),
        record(visit("v3", "c", parent="a", level=2), True, True),  # ... forwarded from a
    )
    kept = {p["person"]: p for p in await _exact(radar.id)}
    assert kept["a"]["visits"] == 3 and kept["a"]["shared"] == 1 and kept["a"]["brought"] == 1
    assert kept["c"]["visits"] == 1 and kept["c"]["level"] == 2


async def test_new_browsers_and_their_visits_get_ids_in_time_order(
    client: TestClient, deps: Deps, corp: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anonymous browsers opened one after the other: their visitor ids, and their visits'
    ids, sort in the order they were made (the rows of one batch share their index pages)."""
    from aiohttp import DummyCookieJar

    from bot import ids

    ticks = iter(range(1_764_000_000_000, 1_764_000_001_000))
    monkeypatch.setattr(ids.time, "time_ns", lambda: next(ticks) * 1_000_000)
    client.session._cookie_jar = DummyCookieJar()  # noqa: SLF001 — every request a new visitor
    radar = await make_radar(deps)
    share = await make_share(deps, radar)
    made: list[tuple[str, str]] = []  # (visit id, visitor id) in the order of the opens
    for _ in range(6):
        assert await _open_many(client, f"/r/{share.token}", 1) == [200]
        seen = {m[0] for m in made}
        new = [r for r in await Visit.all().values_list("id", "visitor_id") if r[0] not in seen]
        assert len(new) == 1
        made.append(new[0])
    assert [m[0] for m in made] == sorted(m[0] for m in made)
    assert [m[1] for m in made] == sorted(m[1] for m in made)
