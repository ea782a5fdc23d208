"""Radar analytics aggregated in SQL (SQLite and PostgreSQL): a viral radar has a million
visits, and none of them is loaded into the process.

A person is the identified customer when the visit knew them, else the browser's visitor id,
so one customer on two phones counts once. A person "brought" another when a visit of the
other came through a link forwarded by one of the person's browsers. Scope: staff and
department admins see only the visits under their own sends (`root_userid`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
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
        self.radar_id, self.whole = radar_id, userids is None
        if userids is not None:
            self.sql += f" AND {col}root_userid IN ({placeholders(len(userids))})"
            self.params += sorted(userids)


SUMMARY = """SELECT person AS pk, level, visits, duration, best, max_page, last_at, ext,
    root_userid AS staff, shared, last_duration, last_channel, brought,
    measured, measured_duration, measured_progress FROM radar_person WHERE radar_id = ?"""


def _people(scope: Scope, sharers: bool) -> tuple[str, list[Any]]:
    """CTEs ending in `people`: one row per person, with `shared` = 1 when one of their
    browsers forwarded the link to someone who opened it. Built per browser first (the join
    with the forwarders is then over browsers, not visits). Not forced to materialize: both
    databases materialize a CTE read more than once and plan the others inline."""
    if scope.whole:  # everyone's visits: the summary kept per person (handlers/radar/people)
        # inlined in each use: one pass for the counts, the rankings read their indexes
        return f"WITH people AS NOT MATERIALIZED ({SUMMARY})", [scope.radar_id]
    shared = "MAX(CASE WHEN f.vid IS NULL THEN 0 ELSE 1 END)" if sharers else "0"
    forwarders = (
        f"""forwarders AS (SELECT DISTINCT parent_visitor_id AS vid FROM radar_visit
      WHERE {scope.sql} AND parent_visitor_id <> ''), """
        if sharers
        else ""
    )
    join = "LEFT JOIN forwarders f ON f.vid = b.vid" if sharers else ""
    sql = f"""WITH browsers AS (
      SELECT external_userid AS ext, visitor_id AS vid, MIN(level) AS level, COUNT(*) AS visits,
             SUM(duration_seconds) AS duration, MAX(progress) AS best, MAX(max_page) AS max_page,
             MAX(started_at) AS last_at, MIN(root_userid) AS staff
      FROM radar_visit WHERE {scope.sql} GROUP BY external_userid, visitor_id
    ), {forwarders}people AS (
      SELECT CASE WHEN b.ext <> '' THEN b.ext ELSE b.vid END AS pk, MIN(b.level) AS level,
             SUM(b.visits) AS visits, SUM(b.duration) AS duration, MAX(b.best) AS best,
             MAX(b.max_page) AS max_page, MAX(b.last_at) AS last_at, MAX(b.ext) AS ext,
             MIN(b.staff) AS staff, {shared} AS shared
      FROM browsers b {join} GROUP BY CASE WHEN b.ext <> '' THEN b.ext ELSE b.vid END)"""
    return sql, scope.params * (2 if sharers else 1)


def _rate(part: int, whole: int) -> float:
    return round(part * 100 / whole, 1) if whole else 0.0


def _n(value: Any) -> int:
    return int(value or 0)


async def visit_totals(
    radar_id: int,
    userids: set[str] | None,
    since: datetime,
    per_staff: bool = True,
    sums: dict[str, int] | None = None,
) -> tuple[dict[str, Any], dict[str, int]]:
    """One pass over the visits, grouped by the staff member at the root: the radar's visit
    counts and measured averages, and visits per staff member. For the whole radar, `sums`
    are the summary's totals `analytics` read in its pass."""
    scope = Scope(radar_id, userids)
    if scope.whole:
        return await _whole_totals(radar_id, since, per_staff, sums)
    measured = "(duration_seconds > 0 OR progress > 0)"
    sql = f"""SELECT root_userid AS staff, COUNT(*) AS visits,
      SUM(CASE WHEN started_at >= ? THEN 1 ELSE 0 END) AS today,
      SUM(CASE WHEN {measured} THEN 1 ELSE 0 END) AS measured,
      SUM(CASE WHEN {measured} THEN duration_seconds ELSE 0 END) AS duration,
      SUM(CASE WHEN {measured} THEN progress ELSE 0 END) AS progress
      FROM radar_visit WHERE {scope.sql} GROUP BY root_userid"""
    rows = await fetch_dicts(sql, [since, *scope.params], heavy=True)
    total = {
        k: sum(_n(r[k]) for r in rows)
        for k in ("visits", "today", "measured", "duration", "progress")
    }
    return _totals(total), {str(r["staff"]): _n(r["visits"]) for r in rows}


async def _whole_totals(
    radar_id: int, since: datetime, per_staff: bool, sums: dict[str, int] | None
) -> tuple[dict[str, Any], dict[str, int]]:
    """The same from the per-person summary; today's visits and visits per staff member from
    the (radar, started_at) and (radar, root_userid) indexes (per staff only when asked)."""
    if sums is None:
        found = await fetch_dicts(
            """SELECT SUM(visits) AS visits, SUM(measured) AS measured,
              SUM(measured_duration) AS duration, SUM(measured_progress) AS progress
            FROM radar_person WHERE radar_id = ?""",
            [radar_id],
        )
        sums = {k: _n(v) for k, v in found[0].items()}
    today, staff = await whole_counts(radar_id, since, per_staff)
    return whole_totals(sums, today), staff


# Visits per staff member at the root, a range of the (radar, root_userid) index each: the
# members are found by seeking from one to the next (a loose index scan), so the count walks
# each range without comparing every entry with the last to group them (SQLite: 1.3x a plain
# COUNT(*) of the radar's visits instead of 2.1x).
STAFF_VISITS = """WITH RECURSIVE staff(userid) AS (
  SELECT (SELECT MIN(root_userid) FROM radar_visit WHERE radar_id = ?)
  UNION ALL SELECT (SELECT MIN(root_userid) FROM radar_visit
    WHERE radar_id = ? AND root_userid > s.userid) FROM staff s WHERE s.userid IS NOT NULL
) SELECT userid AS staff, (SELECT COUNT(*) FROM radar_visit
    WHERE radar_id = ? AND root_userid = s.userid) AS visits
  FROM staff s WHERE s.userid IS NOT NULL"""


async def whole_counts(
    radar_id: int, since: datetime, per_staff: bool
) -> tuple[int, dict[str, int]]:
    """What the summary cannot say: today's visits, and visits per staff member at the root
    (a person may have come through two members' sends) — both from covering indexes on the
    visits, the second read apart from the main connection (it counts every visit)."""
    today = await fetch_dicts(
        "SELECT COUNT(*) AS n FROM radar_visit WHERE radar_id = ? AND started_at >= ?",
        [radar_id, since],
    )
    staff: dict[str, int] = {}
    if per_staff:
        rows = await fetch_dicts(STAFF_VISITS, [radar_id] * 3, heavy=True)
        staff = {str(r["staff"]): _n(r["visits"]) for r in rows}
    return _n(today[0]["n"]), staff


def whole_totals(sums: dict[str, int], today: int) -> dict[str, Any]:
    return _totals(dict(sums) | {"today": today})


def _totals(total: dict[str, int]) -> dict[str, Any]:
    n = total["measured"]
    return {
        "visits": total["visits"],
        "visits_today": total["today"],
        "avg_duration": round(total["duration"] / n, 1) if n else 0,
        "avg_progress": round(total["progress"] / n, 1) if n else 0,
    }


# One pass over the people: every count the page shows is a sum over these groups (a person
# has one level, one furthest page and one staff member, so each rolls up exactly).
_GROUPS = """
    SELECT 'group' AS kind, {staff} AS key, '' AS ext, p.level AS a, {page} AS b,
      COUNT(*) AS c,
      SUM(CASE WHEN p.last_at >= ? THEN 1 ELSE 0 END) AS d,
      SUM(p.shared) AS e,
      SUM(CASE WHEN p.duration > ? THEN 1 ELSE 0 END) AS f,
      SUM(CASE WHEN p.ext <> '' THEN 1 ELSE 0 END) AS g,
      {sums}
    FROM people p GROUP BY {by}"""
_SUMS = "SUM(p.visits) AS h, SUM(p.measured) AS i, SUM(p.measured_duration) AS j, " + (
    "SUM(p.measured_progress) AS k"
)
_NO_SUMS = "0 AS h, 0 AS i, 0 AS j, 0 AS k"
# The top ten, ties broken by the key from the end: an index on (radar, visits, person) read
# backwards answers it without looking at the other people.
_RANKINGS = """
    UNION ALL SELECT * FROM (SELECT 'visits', pk, ext, visits, duration, 0, 0, 0, 0, 0,
      0, 0, 0, 0 FROM people ORDER BY visits DESC, pk DESC LIMIT 10) AS rv
    UNION ALL SELECT * FROM (SELECT 'duration', pk, ext, visits, duration, 0, 0, 0, 0, 0,
      0, 0, 0, 0 FROM people ORDER BY duration DESC, pk DESC LIMIT 10) AS rd"""


def analytics_statement(
    scope: Scope, since: datetime, seconds: int, details: bool
) -> tuple[str, list[Any]]:
    head, params = _people(scope, sharers=True)
    sums = _SUMS if scope.whole else _NO_SUMS
    if details or scope.whole:  # the whole radar: in the summary's covering index order,
        # which SQLite reads without sorting (the live refresh folds the groups into levels)
        groups = _GROUPS.format(
            staff="p.staff", page="p.max_page", sums=sums, by="p.staff, p.level, p.max_page"
        )
    else:  # a staff member's live refresh shows levels only: a smaller sort
        groups = _GROUPS.format(staff="''", page="0", sums=sums, by="p.level")
    return head + groups + (_RANKINGS if details else ""), [*params, since, seconds]


async def analytics(
    radar_id: int, userids: set[str] | None, since: datetime, seconds: int, details: bool
) -> dict[str, Any]:
    """Everything the analytics page reads about people, in one statement and one pass over
    them: per level (people, today, sharers, read over `seconds`, identified), pages reached,
    people per staff member, the summary's visit totals (whole radar only) and, with
    `details`, the two rankings."""
    scope = Scope(radar_id, userids)
    # read apart from the main connection: on SQLite the console's live refresh would hold
    # it (and every landing page's insert) for the length of the pass
    rows = await fetch_dicts(*analytics_statement(scope, since, seconds, details), heavy=True)
    levels: dict[int, dict[str, int]] = {}
    pages: dict[int, int] = {}
    staff: dict[str, dict[str, int]] = {}
    sums = {"visits": 0, "measured": 0, "duration": 0, "progress": 0}
    out: dict[str, Any] = {}
    for r in rows:
        if r["kind"] != "group":
            out.setdefault(r["kind"], []).append(r)
            continue
        level, people = _n(r["a"]), _n(r["c"])
        row = levels.setdefault(
            level,
            {"level": level, "people": 0, "today": 0, "sharers": 0, "viewed": 0, "identified": 0},
        )
        for k, col in (
            ("people", "c"),
            ("today", "d"),
            ("sharers", "e"),
            ("viewed", "f"),
            ("identified", "g"),
        ):
            row[k] += _n(r[col])
        pages[_n(r["b"])] = pages.get(_n(r["b"]), 0) + people
        mine = staff.setdefault(str(r["key"]), {"people": 0, "direct": 0})
        mine["people"] += people
        mine["direct"] += people if level == 1 else 0
        for k, col in (("visits", "h"), ("measured", "i"), ("duration", "j"), ("progress", "k")):
            sums[k] += _n(r[col])
    out["level"] = [levels[k] for k in sorted(levels)]
    out["page"] = [{"a": p, "b": n} for p, n in sorted(pages.items())]
    out["staff"] = [{"key": k, "a": v["people"], "b": v["direct"]} for k, v in staff.items()]
    out["sums"] = sums if scope.whole else None
    return out


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


def ranking(rows: list[dict[str, Any]], by: str) -> list[dict[str, Any]]:
    """The top ten (a UNION keeps no order: sorted again here, as the statement did)."""
    out = [
        {"key": r["key"], "ext": r["ext"], "visits": _n(r["a"]), "duration": _n(r["b"])}
        for r in rows
    ]
    out.sort(key=lambda r: r["key"], reverse=True)
    return sorted(out, key=lambda r: -r[by])


def page_readers(rows: list[dict[str, Any]], pages: int) -> list[dict[str, Any]]:
    reached = {_n(r["a"]): _n(r["b"]) for r in rows}
    total = sum(reached.values())
    out, running = [], sum(n for p, n in reached.items() if p > pages)
    for page in range(pages, 0, -1):
        running += reached.get(page, 0)
        out.append({"page": page, "readers": running, "rate": _rate(running, total)})
    return list(reversed(out))


def staff_rows(
    people: list[dict[str, Any]], visits: dict[str, int], sends: dict[str, int]
) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}

    def row(userid: str) -> dict[str, Any]:
        blank = {"userid": userid, "sends": 0, "direct": 0, "visits": 0, "visitors": 0}
        return out.setdefault(userid, blank)

    for userid, n in sends.items():
        row(userid)["sends"] = n
    for userid, n in visits.items():
        row(userid)["visits"] = n
    for r in people:
        row(r["key"])["visitors"] = _n(r["a"])
        row(r["key"])["direct"] = _n(r["b"])
    return sorted(out.values(), key=lambda s: (-s["visits"], s["userid"]))


# --- the customer table --------------------------------------------------------------------


def _customer_filter(f: dict[str, Any]) -> tuple[str, list[Any]]:
    where, params = ["1 = 1"], []
    if f.get("keys") is not None:  # customers by name, or a person's key as typed
        # a person known as a customer is keyed by their external_userid (ext = pk), so the
        # (radar, person) index finds them
        keys = sorted(set(f["keys"]) | {f.get("q", "")})
        where.append(f"p.pk IN ({placeholders(len(keys))})")
        params += keys
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
    """One page of people, latest visit first, with the total matching the filter (one pass
    over the visits in scope; for the whole radar the page walks the summary's (radar,
    last_at) index and the total is counted apart, so no sort of every person)."""
    where, params = _customer_filter(f)
    scope = Scope(radar_id, userids)
    head, head_params = _people(scope, sharers=False)
    if scope.whole:
        select = f"""SELECT p.pk AS key, p.ext AS ext, p.level AS level, p.visits AS visits,
            p.best AS best, p.last_at AS last_at, p.staff AS staff,
            p.last_duration AS last_duration, p.last_channel AS last_channel,
            p.brought AS brought
          FROM people p WHERE {where} ORDER BY p.last_at DESC, p.pk LIMIT ? OFFSET ?"""
        rows = await fetch_dicts(head + select, [*head_params, *params, limit, offset])
        count = await fetch_dicts(
            head + f" SELECT COUNT(*) AS n FROM people p WHERE {where}", [*head_params, *params]
        )
        return _n(count[0]["n"]), _dated(rows)
    select = f"""SELECT p.pk AS key, p.ext AS ext, p.level AS level, p.visits AS visits,
        p.best AS best, p.last_at AS last_at, p.staff AS staff, COUNT(*) OVER () AS total
      FROM people p WHERE {where} ORDER BY p.last_at DESC, p.pk LIMIT ? OFFSET ?"""
    rows = await fetch_dicts(head + select, [*head_params, *params, limit, offset], heavy=True)
    total = _n(rows[0]["total"]) if rows else 0
    if not rows and offset:  # past the last page: the total still answers
        count = await fetch_dicts(
            head + f" SELECT COUNT(*) AS n FROM people p WHERE {where}", [*head_params, *params]
        )
        total = _n(count[0]["n"])
    await _last_visits(radar_id, rows)
    return total, rows


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


async def export_chunks(
    radar_id: int, userids: set[str] | None, f: dict[str, Any], limit: int, chunk: int
) -> AsyncIterator[list[dict[str, Any]]]:
    """Every person of the filtered table (the export), latest visit first, `chunk` people
    at a time, with the last visit's view time and channel and how many people each
    brought. For the whole radar the summary is read in keyset pages along its (radar,
    last_at) index, so a viral radar's 200,000 people are never all in memory; a staff
    member's share is one statement over their visits."""
    scope = Scope(radar_id, userids)
    if not scope.whole:
        rows = await _scoped_export(scope, f, limit)
        for start in range(0, len(rows), chunk):
            yield rows[start : start + chunk]
        return
    where, params = _customer_filter(f)
    head, head_params = _people(scope, sharers=False)
    after: tuple[Any, str] | None = None
    left = limit
    while left > 0:
        page, page_params = where, list(params)
        if after is not None:
            page += " AND (p.last_at < ? OR (p.last_at = ? AND p.pk > ?))"
            page_params += [after[0], after[0], after[1]]
        sql = f"""{head} SELECT p.pk AS key, p.ext AS ext, p.level AS level, p.visits AS visits,
          p.best AS best, p.last_at AS last_at, p.staff AS staff,
          p.last_duration AS last_duration, p.last_channel AS last_channel, p.brought AS brought
        FROM people p WHERE {page} ORDER BY p.last_at DESC, p.pk LIMIT ?"""
        raw = await fetch_dicts(sql, [*head_params, *page_params, min(chunk, left)])
        if not raw:
            return
        after = (raw[-1]["last_at"], str(raw[-1]["key"]))  # as stored: compared as stored
        left -= len(raw)
        yield _dated(raw)
        if len(raw) < chunk:
            return


async def export_rows(
    radar_id: int, userids: set[str] | None, f: dict[str, Any], limit: int, chunk: int = 2000
) -> list[dict[str, Any]]:
    return [r async for rows in export_chunks(radar_id, userids, f, limit, chunk) for r in rows]


async def _scoped_export(scope: Scope, f: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    where, params = _customer_filter(f)
    head, head_params = _people(scope, sharers=False)
    sql = f"""{head}, visits AS MATERIALIZED (
      SELECT {PK} AS pk, visitor_id, parent_visitor_id, duration_seconds, channel,
             ROW_NUMBER() OVER (PARTITION BY {PK} ORDER BY started_at DESC) AS rn
      FROM radar_visit WHERE {scope.sql}
    ), owner AS (SELECT DISTINCT visitor_id, pk FROM visits
    ), edges AS (
      SELECT DISTINCT o.pk AS parent, v.pk AS child FROM visits v
      JOIN owner o ON o.visitor_id = v.parent_visitor_id WHERE o.pk <> v.pk
    ), brought AS (SELECT parent, COUNT(*) AS n FROM edges GROUP BY parent)
    SELECT p.pk AS key, p.ext AS ext, p.level AS level, p.visits AS visits, p.best AS best,
           p.last_at AS last_at, p.staff AS staff, l.duration_seconds AS last_duration,
           l.channel AS last_channel, COALESCE(b.n, 0) AS brought
    FROM people p JOIN visits l ON l.pk = p.pk AND l.rn = 1
    LEFT JOIN brought b ON b.parent = p.pk
    WHERE {where} ORDER BY p.last_at DESC, p.pk LIMIT ?"""
    rows = await fetch_dicts(sql, [*head_params, *scope.params, *params, limit], heavy=True)
    return _dated(rows)


def _dated(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for r in rows:
        r["last_at"] = to_dt(r["last_at"])
    return rows
