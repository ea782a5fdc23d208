"""The analytics page at scale reads each person of a viral radar once: its counts come from
one pass over the per-person summary, and its two top-ten rankings from indexes read in
order (no sort of every person). Checked on the database's own plan of the statement."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from handlers.radar import queries
from handlers.radar.admin import visits_per_radar
from storage.sql import _dialect_sql, conn, is_sqlite, param


async def _plan(sql: str, params: list[Any]) -> list[str]:
    db = conn()
    fixed = [param(db, p) if isinstance(p, datetime) else p for p in params]
    if is_sqlite(db):
        rows = await db.execute_query_dict("EXPLAIN QUERY PLAN " + sql, fixed)
        return [str(r["detail"]) for r in rows]
    async with db._in_transaction() as tx:  # planner settings for this statement only
        # a test database is small: make scans and sorts look as costly as on a big one
        await tx.execute_script("SET LOCAL enable_seqscan = off; SET LOCAL enable_sort = off")
        rows = await tx.execute_query_dict("EXPLAIN " + _dialect_sql(db, sql), fixed)
    return [str(r["QUERY PLAN"]) for r in rows]


async def _ranking_indexes() -> set[str]:
    """The names of the summary's indexes on (radar, visits, …) and (radar, duration, …)."""
    db = conn()
    if is_sqlite(db):
        sql = "SELECT name, sql AS def FROM sqlite_master WHERE tbl_name = 'radar_person'"
    else:
        sql = "SELECT indexname AS name, indexdef AS def FROM pg_indexes"
        sql += " WHERE tablename = 'radar_person'"
    rows = await db.execute_query_dict(sql)
    return {
        str(r["name"])
        for r in rows
        if r["def"]
        and ("visits" in str(r["def"]) or "duration" in str(r["def"]))
        and "root_userid" not in str(r["def"])  # the analytics pass's covering index
    }


def _reads(plan: list[str]) -> list[str]:
    if is_sqlite(conn()):
        return [line for line in plan if "radar_person" in line]
    return [line for line in plan if " on radar_person" in line]


async def test_one_pass_over_the_people_and_rankings_from_indexes(deps: Any) -> None:
    since = datetime(2025, 1, 1, tzinfo=UTC)
    sql, params = queries.analytics_statement(queries.Scope(1, None), since, 10, details=True)
    plan = await _plan(sql, params)
    reads = _reads(plan)
    indexes = await _ranking_indexes()
    ranked = [r for r in reads if any(f" {name} " in f"{r} " for name in indexes)]
    assert len(ranked) >= 2, plan  # each ranking walks its own index
    assert len(reads) == 3, plan  # and one more read of the summary for every count
    if is_sqlite(conn()):
        assert not [line for line in plan if "FOR ORDER BY" in line], plan
    else:
        assert not [line for line in plan if "Sort Key" in line and "DESC" in line], plan
    sql, params = queries.analytics_statement(queries.Scope(1, None), since, 10, details=False)
    assert len(_reads(await _plan(sql, params))) == 1  # the live refresh: one pass


async def test_sqlite_reads_the_people_pass_from_an_index_without_sorting(deps: Any) -> None:
    """SQLite has no hash aggregate: the pass over every person of the radar (the analytics
    page and the live refresh) walks an index holding all its columns in its GROUP BY's
    order, instead of reading the rows and sorting them (8-12x a COUNT(*) of a million
    visits against 2.5-3x)."""
    if not is_sqlite(conn()):
        pytest.skip("SQLite's plan (PostgreSQL hashes the groups)")
    since = datetime(2025, 1, 1, tzinfo=UTC)
    for details in (True, False):
        sql, params = queries.analytics_statement(queries.Scope(1, None), since, 10, details)
        plan = await _plan(sql, params)
        passes = [r for r in _reads(plan) if "COVERING INDEX" in r]
        assert len(passes) == 1, plan
        assert not [line for line in plan if "TEMP B-TREE" in line], plan


async def test_the_console_list_counts_visits_from_an_index_alone(deps: Any) -> None:
    """On SQLite (PostgreSQL's choice between the index alone and the rows depends on its
    vacuum state, not on the statement)."""
    if not is_sqlite(conn()):
        pytest.skip("SQLite's plan")
    plan = await _plan(visits_per_radar(2), [1, 2])
    reads = [line for line in plan if "radar_visit" in line]
    assert reads and all("COVERING INDEX" in line for line in reads), plan


async def test_visits_per_staff_member_one_index_range_each(deps: Any) -> None:
    """The whole radar's visits per staff member at the root: every member of this radar
    (not another radar's), each counted over its own range of the (radar, root_userid) index
    found by seeking from the one before, never a pass comparing every visit with the last."""
    from storage.radar import Visit

    at = datetime(2025, 1, 1, tzinfo=UTC)
    spread = {(1, "alice"): 3, (1, "bob"): 1, (1, "zed"): 2, (2, "carol"): 2, (2, "alice"): 1}
    n = 0
    for (radar_id, userid), count in spread.items():
        for _ in range(count):
            n += 1
            await Visit.create(
                id=f"v{n}", share_id=1, radar_id=radar_id, visitor_id=f"b{n}",
                root_userid=userid, started_at=at,
            )  # fmt: skip
    _, staff = await queries.whole_counts(1, at, per_staff=True)
    assert staff == {"alice": 3, "bob": 1, "zed": 2}
    assert (await queries.whole_counts(2, at, per_staff=True))[1] == {"alice": 1, "carol": 2}
    assert (await queries.whole_counts(3, at, per_staff=True))[1] == {}
    if is_sqlite(conn()):
        plan = await _plan(queries.STAFF_VISITS, [1, 1, 1])
        reads = [line for line in plan if "radar_visit" in line]
        assert reads and all("root_userid" in line for line in reads[1:]), plan
        assert all("COVERING INDEX" in line for line in reads), plan
        assert not [line for line in plan if "GROUP BY" in line], plan
