"""The per-person summary of a radar (radar_person), kept beside the visits so the analytics
read one row per person instead of aggregating a million visits.

A row is never adjusted: whenever a visit is recorded or written back, every person it
touches (its own, and the people owning the browser it was forwarded from) is recomputed
from all of their visits and upserted by (radar, person). Replays and retries therefore
converge on the same row, and the rows live in the database only (nothing in Redis).

On PostgreSQL concurrent writers serialize per person on a transaction advisory lock taken
after the visits are written: whichever recomputes last sees every committed visit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from bot.deps import Deps
from handlers.radar.router import router
from storage.sql import conn, is_sqlite, param, placeholders, to_dt

log = logging.getLogger(__name__)
Key = tuple[int, str]  # (radar id, person)
PK = "CASE WHEN external_userid <> '' THEN external_userid ELSE visitor_id END"
COLUMNS = (
    "radar_id", "person", "ext", "root_userid", "level", "visits", "duration", "best", "max_page",
    "last_at", "last_duration", "last_channel", "measured", "measured_duration",
    "measured_progress", "shared", "brought",
)  # fmt: skip
_VISIT = (
    "radar_id, external_userid, visitor_id, level, root_userid, started_at, id,"
    " duration_seconds, progress, max_page, channel"
)
KEY_FIELDS = ("radar_id", "external_userid", "visitor_id", "parent_visitor_id")
CHUNK = 400  # people per recomputation (keeps every IN list well under SQLite's limits)


def person_of(visit: dict[str, Any]) -> str:
    return str(visit["external_userid"] or visit["visitor_id"])


def _sql(db: BaseDBAsyncClient, sql: str) -> str:
    if is_sqlite(db):
        return sql
    counter = iter(range(1, 100_000))
    return "".join(f"${next(counter)}" if c == "?" else c for c in sql)


async def _query(db: BaseDBAsyncClient, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    return list(await db.execute_query_dict(_sql(db, sql), list(params)))


async def touched(db: BaseDBAsyncClient, visits: Iterable[dict[str, Any]]) -> set[Key]:
    """The people a set of visits changes: their own, and the owners of the browsers they
    were forwarded from (whose `shared` and `brought` change)."""
    keys: set[Key] = set()
    parents: set[tuple[int, str]] = set()
    for v in visits:
        keys.add((int(v["radar_id"]), person_of(v)))
        if v.get("parent_visitor_id"):
            parents.add((int(v["radar_id"]), str(v["parent_visitor_id"])))
    for radar_id in {r for r, _ in parents}:
        vids = sorted(vid for r, vid in parents if r == radar_id)
        rows = await _query(
            db,
            f"SELECT DISTINCT {PK} AS pk FROM radar_visit"
            f" WHERE radar_id = ? AND visitor_id IN ({placeholders(len(vids))})",
            [radar_id, *vids],
        )
        keys |= {(radar_id, str(r["pk"])) for r in rows}
    return keys


async def record_first(visits: list[dict[str, Any]], db: BaseDBAsyncClient) -> None:
    """The people of visits that are known to be their person's only visit, with no visit
    through their browser yet (an anonymous browser's first open): each summary is computed
    from the visit alone, without reading any visit back, and upserted like any other (the
    people they were forwarded from are recomputed as usual)."""
    if not visits:
        return
    await _upsert(db, _first_rows(visits, db))
    parents = [v for v in visits if v.get("parent_visitor_id")]
    if parents:
        keys = await touched(db, parents)
        await refresh(db, keys - {(int(v["radar_id"]), person_of(v)) for v in visits})


async def refresh(db: BaseDBAsyncClient, keys: set[Key]) -> None:
    """Recompute `keys` from their visits and upsert them (inside the caller's transaction)."""
    ordered = sorted(keys)
    if not is_sqlite(db):
        for radar_id, pk in ordered:  # sorted: two writers never wait on each other in a loop
            await _query(
                db, "SELECT pg_advisory_xact_lock(hashtext(?))", [f"radar:{radar_id}:{pk}"]
            )
    for start in range(0, len(ordered), CHUNK):
        await _refresh_chunk(db, ordered[start : start + CHUNK])


async def _refresh_chunk(db: BaseDBAsyncClient, keys: list[Key]) -> None:
    rows: list[list[Any]] = []
    for radar_id in sorted({r for r, _ in keys}):
        pks = sorted(pk for r, pk in keys if r == radar_id)
        visits = await _visits_of(db, radar_id, pks)
        children = await _children_of(db, radar_id, visits)
        for pk in pks:
            mine = visits.get(pk)
            if mine:
                rows.append(_summary(radar_id, pk, mine, children, db))
    await _upsert(db, rows)


async def _upsert(db: BaseDBAsyncClient, rows: list[list[Any]]) -> None:
    if rows:
        await db.execute_many(_UPSERT if is_sqlite(db) else _sql(db, _UPSERT), rows)


_UPSERT = (
    f"INSERT INTO radar_person ({', '.join(COLUMNS)}) VALUES ({placeholders(len(COLUMNS))})"
    " ON CONFLICT (radar_id, person) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[2:])
)


def first_visits_statement(
    visits: list[dict[str, Any]], db: BaseDBAsyncClient
) -> tuple[str, list[list[Any]]]:
    """The upsert of `record_first` for visits forwarded from nobody (nothing to read back),
    to run beside the visits' INSERT."""
    assert not any(v.get("parent_visitor_id") for v in visits)
    return (_UPSERT if is_sqlite(db) else _sql(db, _UPSERT)), _first_rows(visits, db)


def _first_rows(visits: list[dict[str, Any]], db: BaseDBAsyncClient) -> list[list[Any]]:
    """What `_summary` makes of a person's only visit, just recorded (no heartbeat yet,
    nobody through their browser), built directly: it runs for every new browser's open."""
    return [
        [
            int(v["radar_id"]),
            person_of(v),
            str(v["external_userid"]),
            str(v["root_userid"]),
            int(v["level"]),
            1,
            0,
            0,
            0,
            param(db, to_dt(v["started_at"]) or datetime.min.replace(tzinfo=UTC)),
            0,
            str(v["channel"]),
            0,
            0,
            0,
            0,
            0,
        ]  # fmt: skip
        for v in visits
    ]


async def _visits_of(
    db: BaseDBAsyncClient, radar_id: int, pks: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """Every visit of these people, by person (matched column by column so the
    (radar, customer) and (radar, visitor) indexes serve it)."""
    marks = placeholders(len(pks))
    found = await _query(
        db,
        f"""SELECT {_VISIT} FROM radar_visit WHERE radar_id = ? AND external_userid IN ({marks})
        UNION ALL SELECT {_VISIT} FROM radar_visit
        WHERE radar_id = ? AND external_userid = '' AND visitor_id IN ({marks})""",
        [radar_id, *pks, radar_id, *pks],
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for v in found:
        out.setdefault(person_of(v), []).append(v)
    return out


async def _children_of(
    db: BaseDBAsyncClient, radar_id: int, visits: dict[str, list[dict[str, Any]]]
) -> dict[str, set[str]]:
    """For each browser of these people, the people whose visits came through it."""
    vids = sorted({str(v["visitor_id"]) for rows in visits.values() for v in rows})
    if not vids:
        return {}
    found = await _query(
        db,
        f"""SELECT DISTINCT parent_visitor_id AS via, {PK} AS pk FROM radar_visit
        WHERE radar_id = ? AND parent_visitor_id IN ({placeholders(len(vids))})""",
        [radar_id, *vids],
    )
    out: dict[str, set[str]] = {}
    for r in found:
        out.setdefault(str(r["via"]), set()).add(str(r["pk"]))
    return out


def _summary(
    radar_id: int,
    pk: str,
    visits: list[dict[str, Any]],
    children: dict[str, set[str]],
    db: BaseDBAsyncClient,
) -> list[Any]:
    at = {id(v): to_dt(v["started_at"]) or datetime.min.replace(tzinfo=UTC) for v in visits}
    last = max(visits, key=lambda v: (at[id(v)], str(v["id"])))
    measured = [v for v in visits if v["duration_seconds"] > 0 or v["progress"] > 0]
    came: set[str] = set()
    forwarded = False
    for vid in {str(v["visitor_id"]) for v in visits}:
        forwarded |= vid in children
        came |= children.get(vid, set())
    values = {
        "radar_id": radar_id,
        "person": pk,
        "ext": max(str(v["external_userid"]) for v in visits),
        "root_userid": min(str(v["root_userid"]) for v in visits),
        "level": min(int(v["level"]) for v in visits),
        "visits": len(visits),
        "duration": sum(int(v["duration_seconds"]) for v in visits),
        "best": max(int(v["progress"]) for v in visits),
        "max_page": max(int(v["max_page"]) for v in visits),
        "last_at": param(db, at[id(last)]),
        "last_duration": int(last["duration_seconds"]),
        "last_channel": str(last["channel"]),
        "measured": len(measured),
        "measured_duration": sum(int(v["duration_seconds"]) for v in measured),
        "measured_progress": sum(int(v["progress"]) for v in measured),
        "shared": int(forwarded),
        "brought": len(came - {pk}),
    }
    return [values[c] for c in COLUMNS]


def fields_of(visit: Any) -> dict[str, Any]:
    """What `record` needs of a Visit model instance."""
    return {f: getattr(visit, f) for f in KEY_FIELDS}


async def record(visits: Iterable[dict[str, Any]], db: BaseDBAsyncClient | None = None) -> None:
    """Bring the people these visits touch up to date (in `db`'s transaction when given)."""
    rows = list(visits)
    if not rows:
        return
    if db is not None:
        await refresh(db, await touched(db, rows))
        return
    async with in_transaction() as tx:
        await refresh(tx, await touched(tx, rows))


async def rebuild(radar_id: int) -> int:
    """Recompute every person of a radar (visits written without the batcher: imports,
    the benchmark's generated spread). Returns how many people."""
    db = conn()
    found = await _query(
        db, f"SELECT DISTINCT {PK} AS pk FROM radar_visit WHERE radar_id = ?", [radar_id]
    )
    keys = sorted((radar_id, str(r["pk"])) for r in found)
    for start in range(0, len(keys), CHUNK * 5):
        async with in_transaction() as tx:
            await refresh(tx, set(keys[start : start + CHUNK * 5]))
    return len(keys)


async def backfill() -> None:
    """Radars with visits from before the summary existed get their people computed."""
    db = conn()
    found = await _query(
        db,
        """SELECT r.id FROM radar r WHERE EXISTS (SELECT 1 FROM radar_visit v WHERE v.radar_id = r.id)
        AND NOT EXISTS (SELECT 1 FROM radar_person p WHERE p.radar_id = r.id)""",
        [],
    )
    for r in found:
        n = await rebuild(int(r["id"]))
        log.info("radar %s: %d people summarized from its visits", r["id"], n)


@router.resource
async def summary_backfill(deps: Deps) -> AsyncIterator[asyncio.Task[None]]:
    """Runs beside the process (idempotent: every process may run it)."""

    async def run() -> None:
        try:
            await backfill()
        except Exception:
            log.exception("radar: summarizing older visits failed (retried at the next start)")

    task = asyncio.create_task(run())
    yield task
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
