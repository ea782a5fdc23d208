"""按客户: who added (or brought into a group) whom, paged and joined in SQL so the page and
the Excel work at a million facts and past the drivers' bind-parameter limits (no id lists)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from handlers.leaderboard import counting, sql
from storage.leaderboard import Activity, Metric

NEW_HEADERS = ["客户", "添加成员", "添加时间", "状态", "是否计入", "说明"]
GROUP_HEADERS = ["客户", "邀请成员", "入群时间", "群聊", "状态", "是否计入", "说明"]
RELATION_STATES = {
    "deleted_by_customer": "已流失（客户删除了成员）",
    "deleted_by_staff": "成员已删除客户",
    "transferred": "已转接给其他成员",
}
EXPORT_CHUNK = 2000

# Every add by a participant inside the window; the reason columns say why one does not
# count: the same member added the customer earlier in the window, or (去重) someone else did.
_ADDS_COLUMNS = """
SELECT f.id, COALESCE(NULLIF(cu.name, ''), f.external_userid), COALESCE(NULLIF(s.name, ''), f.userid),
  f.at, r.active, COALESCE(r.end_reason, ''),
  EXISTS (SELECT 1 FROM follow_event e WHERE e.userid = f.userid
    AND e.external_userid = f.external_userid AND e.kind = 'add' AND e.at >= ? AND e.at < f.at),
  {first_other}"""
_ADDS = """
FROM follow_event f
JOIN lb_participant p ON p.activity_id = ? AND p.userid = f.userid
{joins}
WHERE f.kind = 'add' AND f.at >= ? AND f.at < ? {where}
"""
# The joins only the columns read (a keyword looks the names up in subqueries of their own).
_ADDS_JOINS = """
LEFT JOIN customer cu ON cu.external_userid = f.external_userid
LEFT JOIN staff fs ON fs.userid = cu.first_added_by
LEFT JOIN staff s ON s.userid = f.userid
LEFT JOIN follow_relation r ON r.userid = f.userid AND r.external_userid = f.external_userid"""

_FIRST_OTHER = """COALESCE(
  (SELECT COALESCE(NULLIF(os.name, ''), o.userid) FROM follow_event o
   LEFT JOIN staff os ON os.userid = o.userid
   WHERE o.external_userid = f.external_userid AND o.kind = 'add' AND o.userid <> f.userid
   AND o.at < f.at ORDER BY o.at LIMIT 1),
  CASE WHEN cu.first_added_by <> '' AND cu.first_added_by <> f.userid
       AND cu.first_added_at < f.at THEN COALESCE(NULLIF(fs.name, ''), cu.first_added_by) END,
  '')"""

_JOINS_COLUMNS = """
SELECT q.id, COALESCE(NULLIF(cu.name, ''), NULLIF(gm.name, ''), q.member_id),
  COALESCE(NULLIF(s.name, ''), q.credited), q.at, COALESCE(NULLIF(cg.name, ''), q.chat_id),
  gm.id IS NOT NULL"""
_JOINS = """
FROM ({credited}) q
{joins}
WHERE 1 = 1 {where}
"""
_JOINS_FILTER_JOINS = """
LEFT JOIN customer cu ON cu.external_userid = q.member_id
LEFT JOIN group_member gm ON gm.chat_id = q.chat_id AND gm.member_id = q.member_id
LEFT JOIN staff s ON s.userid = q.credited"""
_JOINS_COLUMN_JOINS = """
LEFT JOIN customer_group cg ON cg.chat_id = q.chat_id"""


@dataclass(frozen=True)
class _Rows:
    """Every row of the table, filtered by customer or member name: the columns (with their
    params) over `body`; `lean` is the same rows with only the joins the filter needs, for
    counting and ordering (SQLite does not drop unused LEFT JOINs there: at a million facts
    the count took 3.3 s with them and 0.1-0.2 s without)."""

    columns: str
    column_params: list[Any]
    body: str
    lean: str
    params: list[Any]
    alias: str


def headers(activity: Activity) -> list[str]:
    return GROUP_HEADERS if activity.metric == Metric.GROUP_JOINS else NEW_HEADERS


def _like(keyword: str) -> str:
    escaped = keyword.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _base(activity: Activity, keyword: str) -> _Rows:
    if activity.metric == Metric.GROUP_JOINS:
        credited, params = counting.credited_sql(activity)
        where = ""
        if keyword:
            where = (
                "AND (cu.name LIKE ? ESCAPE '\\' OR gm.name LIKE ? ESCAPE '\\'"
                " OR s.name LIKE ? ESCAPE '\\' OR q.member_id = ?)"
            )
            params = params + [_like(keyword)] * 3 + [keyword]
        template, columns, column_params, alias = _JOINS, _JOINS_COLUMNS, [], "q"
        filter_joins, column_joins = _JOINS_FILTER_JOINS, _JOINS_COLUMN_JOINS
    else:
        params = [activity.id, activity.start_at, activity.end_at]
        where = ""
        if keyword:
            # The names matched once each (a staff table, a customer table), not per add.
            where = (
                "AND (f.userid IN (SELECT userid FROM staff WHERE name LIKE ? ESCAPE '\\')"
                " OR f.external_userid IN"
                " (SELECT external_userid FROM customer WHERE name LIKE ? ESCAPE '\\')"
                " OR f.external_userid = ?)"
            )
            params += [_like(keyword)] * 2 + [keyword]
        template, alias = _ADDS, "f"
        columns = _ADDS_COLUMNS.format(first_other=_FIRST_OTHER if activity.dedup else "''")
        column_params = [activity.start_at]
        filter_joins, column_joins = "", _ADDS_JOINS
        credited = ""
    return _Rows(
        columns,
        column_params,
        template.format(credited=credited, joins=filter_joins + column_joins, where=where),
        template.format(credited=credited, joins=filter_joins if keyword else "", where=where),
        params,
        alias,
    )


def _row(activity: Activity, raw: tuple[Any, ...]) -> list[Any]:
    at = sql.to_dt(raw[3])
    if activity.metric == Metric.GROUP_JOINS:
        status = "仍在群" if raw[5] else "已退群"
        return [raw[1], raw[2], at, raw[4], status, True, "计入"]
    active, reason, again, first_by = raw[4], raw[5], raw[6], raw[7]
    status = "仍是客户" if active else RELATION_STATES.get(str(reason), "已流失")
    if again:
        return [raw[1], raw[2], at, status, False, "重复：该成员已添加过此客户"]
    if first_by:
        return [raw[1], raw[2], at, status, False, f"重复：首次由 {first_by} 添加"]
    return [raw[1], raw[2], at, status, True, "计入"]


async def page(
    activity: Activity, keyword: str, page_no: int, size: int
) -> tuple[list[list[Any]], int]:
    q = _base(activity, keyword)
    total = await sql.fetch(f"SELECT COUNT(*) {q.lean}", q.params, report=True)
    # Two steps: the page's ids by the cheap ordering, then the costly columns for those only.
    order = f"ORDER BY {q.alias}.at, {q.alias}.id"
    ids = f"SELECT {q.alias}.id {q.lean} {order} LIMIT ? OFFSET ?"
    found = await sql.fetch(
        f"{q.columns} {q.body} AND {q.alias}.id IN ({ids}) {order}",
        q.column_params + q.params + q.params + [size, (page_no - 1) * size],
        report=True,
    )
    return [_row(activity, r) for r in found], int(total[0][0])


async def stream(activity: Activity, keyword: str) -> AsyncGenerator[list[list[Any]]]:
    """Every row in chunks from one ordered query."""
    q = _base(activity, keyword)
    query = f"{q.columns} {q.body} ORDER BY {q.alias}.at, {q.alias}.id"
    # Closed with this generator (an export broken off): its report read ends at once, not
    # when the garbage collector finds it, maybe after the database is closed.
    async with contextlib.aclosing(
        sql.stream(query, q.column_params + q.params, EXPORT_CHUNK)
    ) as rows:
        async for chunk in rows:
            yield [_row(activity, r) for r in chunk]
