"""Radar analytics aggregated in SQL (SQLite and PostgreSQL): a viral radar has a million
visits, and none of them is loaded into the process.

A person is the identified customer when the visit knew them, else the browser's visitor id,
so one customer on two phones counts once. A person "brought" another when a visit of the
other came through a link forwarded by one of the person's browsers. Scope: staff and
department admins see only the visits under their own sends (`root_userid`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from storage.sql import fetch_dicts, placeholders, to_dt

PK = "CASE WHEN external_userid <> '' THEN external_userid ELSE visitor_id END"
VPK = "CASE WHEN v.external_userid <> '' THEN v.external_userid ELSE v.visitor_id END"


class Scope:
    """The WHERE clause for one radar's visits the person may see, with its parameters."""

    def __init__(self, radar_id: int, userids: set[str] | None, alias: str = "") -> None:
        col = f"{alias}." if alias else ""
        self.sql = f"{col}radar_id = ?"
        self.params: list[Any] = [radar_id]
        if userids is not None:
            self.sql += f" AND {col}root_userid IN ({placeholders(len(userids))})"
            self.params += sorted(userids)


def _with(radar_id: int, userids: set[str] | None) -> tuple[str, list[Any]]:
    """CTEs: `people` (one row per person) and `brought` (new people each one brought)."""
    plain = Scope(radar_id, userids)
    v = Scope(radar_id, userids, "v")
    sql = f"""
    WITH people AS (
      SELECT {PK} AS pk, MIN(level) AS level, COUNT(*) AS visits,
             SUM(duration_seconds) AS duration, MAX(progress) AS best, MAX(max_page) AS max_page,
             MAX(started_at) AS last_at, MAX(external_userid) AS ext, MIN(root_userid) AS staff
      FROM radar_visit WHERE {plain.sql} GROUP BY {PK}
    ), sharers AS (
      SELECT visitor_id, MAX(external_userid) AS ext FROM radar_visit
      WHERE {plain.sql} AND visitor_id IN (
        SELECT parent_visitor_id FROM radar_visit WHERE {plain.sql} AND parent_visitor_id <> '')
      GROUP BY visitor_id
    ), edges AS (
      SELECT DISTINCT CASE WHEN s.ext <> '' THEN s.ext ELSE s.visitor_id END AS parent,
             {VPK} AS child
      FROM radar_visit v JOIN sharers s ON s.visitor_id = v.parent_visitor_id
      WHERE {v.sql}
    ), brought AS (
      SELECT parent AS pk, COUNT(*) AS n FROM edges WHERE parent <> child GROUP BY parent
    )"""
    return sql, plain.params * 3 + v.params


async def _query(
    radar_id: int, userids: set[str] | None, select: str, extra: Sequence[Any] = ()
) -> list[dict[str, Any]]:
    head, params = _with(radar_id, userids)
    return await fetch_dicts(head + select, [*params, *extra])


def _rate(part: int, whole: int) -> float:
    return round(part * 100 / whole, 1) if whole else 0.0


async def visit_totals(radar_id: int, userids: set[str] | None, since: datetime) -> dict[str, Any]:
    """One pass over the visits: counts, today's, and the averages of measured visits."""
    scope = Scope(radar_id, userids)
    measured = "(duration_seconds > 0 OR progress > 0)"
    sql = f"""SELECT COUNT(*) AS visits,
      SUM(CASE WHEN started_at >= ? THEN 1 ELSE 0 END) AS today,
      SUM(CASE WHEN {measured} THEN 1 ELSE 0 END) AS measured,
      SUM(CASE WHEN {measured} THEN duration_seconds ELSE 0 END) AS duration,
      SUM(CASE WHEN {measured} THEN progress ELSE 0 END) AS progress
      FROM radar_visit WHERE {scope.sql}"""
    (row,) = await fetch_dicts(sql, [since, *scope.params])
    n = int(row["measured"] or 0)
    return {
        "visits": int(row["visits"] or 0),
        "visits_today": int(row["today"] or 0),
        "avg_duration": round(int(row["duration"] or 0) / n, 1) if n else 0,
        "avg_progress": round(int(row["progress"] or 0) / n, 1) if n else 0,
    }


async def by_level(
    radar_id: int, userids: set[str] | None, since: datetime, seconds: int
) -> list[dict[str, Any]]:
    """Per level: people, people today, sharers, people who viewed over `seconds`, and
    identified people — everything the overview, levels table and funnel need, in one query."""
    select = """
    SELECT p.level AS level, COUNT(*) AS people,
      SUM(CASE WHEN p.last_at >= ? THEN 1 ELSE 0 END) AS today,
      SUM(CASE WHEN b.n IS NULL THEN 0 ELSE 1 END) AS sharers,
      SUM(CASE WHEN p.duration > ? THEN 1 ELSE 0 END) AS viewed,
      SUM(CASE WHEN p.ext <> '' THEN 1 ELSE 0 END) AS identified
    FROM people p LEFT JOIN brought b ON b.pk = p.pk GROUP BY p.level ORDER BY p.level"""
    rows = await _query(radar_id, userids, select, [since, seconds])
    return [{k: int(v or 0) for k, v in r.items()} for r in rows]


def overview(totals: dict[str, Any], levels: list[dict[str, Any]], sends: int) -> dict[str, Any]:
    people = sum(r["people"] for r in levels)
    return {
        "sends": sends,
        "visitors": people,
        "visitors_today": sum(r["today"] for r in levels),
        "identified": sum(r["identified"] for r in levels),
        "shared_visitors": sum(r["people"] for r in levels if r["level"] >= 2),
        "shared_visitors_today": sum(r["today"] for r in levels if r["level"] >= 2),
        "share_rate": _rate(sum(r["sharers"] for r in levels), people),
        **totals,
    }


def level_table(levels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "level": r["level"],
            "visitors": r["people"],
            "sharers": r["sharers"],
            "share_rate": _rate(r["sharers"], r["people"]),
        }
        for r in levels
    ]


def funnel(levels: list[dict[str, Any]], reached: int, seconds: int) -> list[dict[str, Any]]:
    """People at every step: the customers the radar was sent to, the people who opened it
    from a staff member's send, those who read over `seconds`, those whose forward brought
    someone new."""
    first = next((r for r in levels if r["level"] == 1), None) or {}
    steps = [
        ("sent", "收到雷达的客户", reached),
        ("opened", "打开的客户", first.get("people", 0)),
        ("viewed", f"查看超过{seconds}秒", first.get("viewed", 0)),
        ("forwarded", "转发带来新访客", first.get("sharers", 0)),
    ]
    return [{"step": k, "label": label, "count": n} for k, label, n in steps]


async def ranking(radar_id: int, userids: set[str] | None, by: str) -> list[dict[str, Any]]:
    order = {"visits": "p.visits DESC", "duration": "p.duration DESC"}[by]
    select = f"""SELECT p.pk AS key, p.ext AS ext, p.visits AS visits, p.duration AS duration
      FROM people p ORDER BY {order}, p.pk LIMIT 10"""
    return await _query(radar_id, userids, select)


async def page_readers(radar_id: int, userids: set[str] | None, pages: int) -> list[dict[str, Any]]:
    rows = await _query(
        radar_id,
        userids,
        "SELECT max_page AS page, COUNT(*) AS n FROM people GROUP BY max_page",
    )
    reached = {int(r["page"] or 0): int(r["n"]) for r in rows}
    total = sum(reached.values())
    out, running = [], sum(n for p, n in reached.items() if p > pages)
    for page in range(pages, 0, -1):
        running += reached.get(page, 0)
        out.append({"page": page, "readers": running, "rate": _rate(running, total)})
    return list(reversed(out))


async def staff_rows(
    radar_id: int, userids: set[str] | None, sends: dict[str, int]
) -> list[dict[str, Any]]:
    scope = Scope(radar_id, userids)
    visits = await fetch_dicts(
        f"SELECT root_userid AS u, COUNT(*) AS n FROM radar_visit WHERE {scope.sql} "
        "GROUP BY root_userid",
        scope.params,
    )
    people = await _query(
        radar_id,
        userids,
        "SELECT staff AS u, COUNT(*) AS n, SUM(CASE WHEN level = 1 THEN 1 ELSE 0 END) AS direct "
        "FROM people GROUP BY staff",
    )
    out: dict[str, dict[str, Any]] = {}

    def row(userid: str) -> dict[str, Any]:
        blank = {"userid": userid, "sends": 0, "direct": 0, "visits": 0, "visitors": 0}
        return out.setdefault(userid, blank)

    for userid, n in sends.items():
        row(userid)["sends"] = n
    for r in visits:
        row(r["u"])["visits"] = int(r["n"])
    for r in people:
        row(r["u"])["visitors"] = int(r["n"])
        row(r["u"])["direct"] = int(r["direct"] or 0)
    return sorted(out.values(), key=lambda s: (-s["visits"], s["userid"]))


# --- the customer table --------------------------------------------------------------------


def _customer_filter(f: dict[str, Any]) -> tuple[str, list[Any]]:
    where, params = ["1 = 1"], []
    if f.get("keys") is not None:
        where.append(f"(p.ext IN ({placeholders(len(f['keys']))}) OR p.pk = ?)")
        params += [*sorted(f["keys"]), f.get("q", "")]
    if f.get("staff"):
        where.append("p.staff = ?")
        params.append(f["staff"])
    if f.get("since") is not None:
        where.append("p.last_at >= ?")
        params.append(f["since"])
    if f.get("until") is not None:
        where.append("p.last_at < ?")
        params.append(f["until"])
    return " AND ".join(where), params


async def customers(
    radar_id: int, userids: set[str] | None, f: dict[str, Any], offset: int, limit: int
) -> tuple[int, list[dict[str, Any]]]:
    """One page of people, latest visit first, with the total matching the filter."""
    where, params = _customer_filter(f)
    count = await _query(
        radar_id, userids, f"SELECT COUNT(*) AS n FROM people p WHERE {where}", params
    )
    select = f"""SELECT p.pk AS key, p.ext AS ext, p.level AS level, p.visits AS visits,
        p.best AS best, p.last_at AS last_at, p.staff AS staff, COALESCE(b.n, 0) AS brought
      FROM people p LEFT JOIN brought b ON b.pk = p.pk WHERE {where}
      ORDER BY p.last_at DESC, p.pk LIMIT ? OFFSET ?"""
    rows = await _query(radar_id, userids, select, [*params, limit, offset])
    await _last_visits(radar_id, rows)
    return int(count[0]["n"]), rows


async def _last_visits(radar_id: int, rows: list[dict[str, Any]]) -> None:
    """The last visit's view time and channel for each person on the page."""
    for r in rows:
        r["last_at"] = to_dt(r["last_at"])
    keys = [r["key"] for r in rows]
    if not keys:
        return
    marks = placeholders(len(keys))
    found = await fetch_dicts(
        f"""SELECT {PK} AS key, started_at, duration_seconds, channel FROM radar_visit
        WHERE radar_id = ? AND (external_userid IN ({marks}) OR visitor_id IN ({marks}))""",
        [radar_id, *keys, *keys],
    )
    last: dict[str, dict[str, Any]] = {}
    for v in found:
        at = to_dt(v["started_at"])
        if v["key"] in keys and (v["key"] not in last or at > last[v["key"]]["at"]):
            last[v["key"]] = {"at": at, **v}
    for r in rows:
        hit = last.get(r["key"], {})
        r["last_duration"] = int(hit.get("duration_seconds", 0))
        r["last_channel"] = hit.get("channel", "")
