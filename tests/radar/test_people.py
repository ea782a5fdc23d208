"""The per-person summary agrees with a from-scratch aggregate of the raw visits, after a
random spread recorded through the landing page, heartbeats written back, and replays."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from aiohttp.test_utils import TestClient

from bot.deps import Deps
from bot.staff_ids import rename_staff
from handlers.radar import network, people, queries
from handlers.radar.followup import finalize_many
from handlers.radar.visits import add_beat, epoch
from storage.radar import Person, Visit
from tests.radar.support import make_radar, make_share, open_link, page_config
from tests.support import Clock

FIELDS = [f for f in Person._meta.db_fields if f != "id"]
STAFF = {"alice", "bob", "carol"}  # every sender: scoping to all of them reads the raw visits


async def _random_spread(client: TestClient, deps: Deps, clock: Clock, seed: int) -> int:
    rng = random.Random(seed)
    radar = await make_radar(deps)
    shares = [
        await make_share(deps, radar, "alice", "wm_ann"),
        await make_share(deps, radar, "bob", "wm_bo"),
        await make_share(deps, radar, "carol", ""),
    ]
    links = [f"/r/{s.token}" for s in shares]
    for _ in range(40):
        clock.advance(rng.randint(1, 4000))
        # an old browser opening again (a replay of the same person) or a new one
        status, html = await open_link(client, rng.choice(links), fresh=rng.random() < 0.6)
        assert status == 200
        links.append(page_config(html)["self"])
    ids = await Visit.all().values_list("id", flat=True)
    for visit in await Visit.all():
        if rng.random() < 0.7:
            secs, progress = rng.randint(0, 90), rng.randint(0, 100)
            await add_beat(
                deps, visit.id, epoch(visit.started_at), secs, progress, rng.randint(1, 4)
            )
    clock.advance(3600)
    for _ in range(2):  # the write-back job delivered twice
        assert await finalize_many(deps, [str(i) for i in ids], 99) == []
    return radar.id


def _plain(value: Any) -> Any:
    """Numbers as ints (PostgreSQL sums are Decimals), a UNION's rows in one order."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return sorted((_plain(v) for v in value), key=repr)
    return int(value) if isinstance(value, Decimal) else value


async def _both(fn: Any, staff: set[str] = STAFF) -> tuple[Any, Any]:
    """(from the summary, from the raw visits)."""
    return _plain(await fn(None)), _plain(await fn(set(staff)))


def _without(found: Any, key: str) -> Any:
    total, rows = found
    return total, [{k: v for k, v in r.items() if k != key} for r in rows]


async def _agree(rid: int, since: datetime) -> None:
    assert await Person.filter(radar_id=rid).count() == len(
        {v.external_userid or v.visitor_id for v in await Visit.filter(radar_id=rid)}
    )
    summary, raw = await _both(lambda u: queries.analytics(rid, u, since, 30, details=True))
    sums = summary.pop("sums")  # the whole radar's visit totals, read in the same pass
    assert raw.pop("sums") is None
    assert summary["level"] and summary == raw
    for u in (None, STAFF):  # the live refresh's levels-only pass counts the same
        live = await queries.analytics(rid, u, since, 30, details=False)
        assert _plain(live["level"]) == summary["level"]
    summary, raw = await _both(lambda u: queries.visit_totals(rid, u, since))
    assert 40 in [v for part in summary for v in part.values()] and summary == raw
    assert _plain(await queries.visit_totals(rid, None, since, sums=sums)) == raw
    summary, raw = await _both(lambda u: queries.customers(rid, u, {}, 0, 1000))
    brought = await network.brought(rid, [r["key"] for r in summary[1]])
    assert {r["key"]: r["brought"] for r in summary[1]} == brought
    assert _without(summary, "brought") == _without(raw, "total")
    ext = next(r["key"] for r in raw[1] if r["ext"])
    anon = next(r["key"] for r in raw[1] if not r["ext"])
    found = {"keys": {ext, "wm_nobody"}, "q": anon}  # a customer by name, a visitor by key
    summary, raw = await _both(lambda u: queries.customers(rid, u, found, 0, 1000))
    assert {r["key"] for r in raw[1]} == {ext, anon} and raw[0] == 2
    assert _without(summary, "brought") == _without(raw, "total")
    f = {"since": since}
    for offset in (0, 5, 10, 15):  # a page's rows and the total, with a filter
        summary, raw = await _both(lambda u, at=offset: queries.customers(rid, u, f, at, 5))
        assert _without(summary, "brought") == _without(raw, "total")
    summary, raw = await _both(lambda u: queries.export_rows(rid, u, {}, 1000))
    assert any(r["brought"] for r in raw) and summary == raw


async def test_summary_agrees_with_the_raw_visits(
    client: TestClient, deps: Deps, corp: None, clock: Clock
) -> None:
    for seed in (1, 2, 3):
        rid = await _random_spread(client, deps, clock, seed)
        since = deps.now() - timedelta(hours=6)
        await _agree(rid, since)
        visits = [people.fields_of(v) for v in await Visit.filter(radar_id=rid)]
        await people.record(visits)  # a visit batch's summary replayed
        await people.record(visits[:3])
        await _agree(rid, since)


async def test_recomputing_a_person_twice_changes_nothing(
    client: TestClient, deps: Deps, corp: None, clock: Clock
) -> None:
    rid = await _random_spread(client, deps, clock, 7)
    before = await Person.filter(radar_id=rid).order_by("person").values(*FIELDS)
    await people.rebuild(rid)
    await people.rebuild(rid)
    assert await Person.filter(radar_id=rid).order_by("person").values(*FIELDS) == before


async def test_visits_from_before_the_summary_are_backfilled(
    client: TestClient, deps: Deps, corp: None, clock: Clock
) -> None:
    rid = await _random_spread(client, deps, clock, 11)
    expected = await Person.filter(radar_id=rid).order_by("person").values(*FIELDS)
    await Person.filter(radar_id=rid).delete()  # as if recorded before the table existed
    await people.backfill()
    assert await Person.filter(radar_id=rid).order_by("person").values(*FIELDS) == expected
    await people.backfill()  # nothing missing any more: nothing changes
    assert await Person.filter(radar_id=rid).order_by("person").values(*FIELDS) == expected


async def test_a_staff_members_new_userid_moves_their_people(
    client: TestClient, deps: Deps, corp: None, clock: Clock
) -> None:
    rid = await _random_spread(client, deps, clock, 5)
    await rename_staff("alice", "alice2")
    staff = STAFF - {"alice"} | {"alice2"}
    summary, raw = await _both(lambda u: queries.export_rows(rid, u, {}, 1000), staff)
    assert "alice2" in {r["staff"] for r in raw} and summary == raw
    mine = {"staff": "alice2"}
    summary, raw = await _both(lambda u: queries.customers(rid, u, mine, 0, 1000), staff)
    assert _without(summary, "brought") == _without(raw, "total")


async def test_the_export_reads_the_summary_in_keyset_pages(
    client: TestClient, deps: Deps, corp: None, clock: Clock
) -> None:
    """Pages of three people give the same rows as one read, in the same order, also when
    people share a last visit time (the page boundary falls inside a tie) and with a limit."""
    rid = await _random_spread(client, deps, clock, 13)
    keys = sorted(await Person.filter(radar_id=rid).values_list("person", flat=True))
    latest = await Person.filter(radar_id=rid).order_by("-last_at").first()
    assert latest is not None
    tied = latest.last_at
    await Person.filter(radar_id=rid, person__in=keys[:7]).update(last_at=tied)
    whole = await queries.export_rows(rid, None, {}, 1000, chunk=1000)
    assert len(whole) == len(keys)
    chunks = [c async for c in queries.export_chunks(rid, None, {}, 1000, 3)]
    assert {len(c) for c in chunks[:-1]} == {3}
    assert [r for c in chunks for r in c] == whole
    assert await queries.export_rows(rid, None, {}, 8, chunk=3) == whole[:8]
    f = {"staff": "bob"}
    mine = await queries.export_rows(rid, None, f, 1000, chunk=2)
    assert mine == [r for r in whole if r["staff"] == "bob"] and mine


async def test_a_new_browsers_open_is_summarized_without_reading_visits_back(
    client: TestClient, deps: Deps, corp: None, clock: Clock, monkeypatch: Any
) -> None:
    """An anonymous browser's first open is its person's only visit: its summary row comes
    from the visit itself (no visit read back on the landing page's insert), and still equals
    a from-scratch recomputation, for plain opens, forwards, returning browsers and customers."""
    calls: list[list[str]] = []
    original = people._visits_of  # noqa: SLF001

    async def counted(db: Any, radar_id: int, pks: list[str]) -> Any:
        calls.append(pks)
        return await original(db, radar_id, pks)

    monkeypatch.setattr(people, "_visits_of", counted)
    radar = await make_radar(deps)
    share = await make_share(deps, radar, "carol", "")
    for _ in range(5):
        clock.advance(7)
        assert (await open_link(client, f"/r/{share.token}"))[0] == 200
    assert calls == []  # five new browsers, nobody read back
    rng = random.Random(5)
    shares = [share, await make_share(deps, radar, "alice", "wm_ann")]
    links = [f"/r/{s.token}" for s in shares]
    for _ in range(30):
        clock.advance(rng.randint(1, 50))
        status, html = await open_link(client, rng.choice(links), fresh=rng.random() < 0.7)
        assert status == 200
        links.append(page_config(html)["self"])
    assert calls  # forwards recompute the people they came through, returning browsers theirs
    order = ("person",)
    kept = await Person.filter(radar_id=radar.id).order_by(*order).values(*FIELDS)
    assert len(kept) == len(
        {v.external_userid or v.visitor_id for v in await Visit.filter(radar_id=radar.id)}
    )
    assert any(p["brought"] for p in kept) and any(p["visits"] > 1 for p in kept)
    await people.rebuild(radar.id)
    assert await Person.filter(radar_id=radar.id).order_by(*order).values(*FIELDS) == kept


async def test_a_first_visits_row_is_what_the_general_recomputation_makes(deps: Deps) -> None:
    """The row built directly for a new browser's only visit, column by column, is the one the
    recomputation from its visits makes (customer or not, any channel and level)."""
    from storage.sql import conn

    db = conn()
    at = datetime(2026, 3, 4, 5, 6, 7, 890_000).astimezone()
    visits = [
        {
            "id": f"v{n}",
            "radar_id": 3,
            "visitor_id": f"b{n}",
            "external_userid": ext,
            "parent_visitor_id": "",
            "level": level,
            "root_userid": "alice",
            "channel": channel,
            "started_at": when,
            "share_id": 1,
        }  # fmt: skip
        for n, (ext, level, channel, when) in enumerate(
            [("", 1, "single", at), ("wm_x", 2, "forward", at), ("", 3, "group", str(at))]
        )
    ]
    general = [
        people._summary(  # noqa: SLF001
            3, people.person_of(v), [{"duration_seconds": 0, "progress": 0, "max_page": 0, **v}],
            {}, db,
        )
        for v in visits
    ]  # fmt: skip
    assert people._first_rows(visits, db) == general  # noqa: SLF001
