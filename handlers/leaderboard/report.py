"""The figures of the console data pages, each defined as seed 000 does and computed in SQL
(grouped and joined in the database, never per-row loops or id lists in Python):

- 总客户数: the member's current customers (all of them, not only the activity's).
- 邀请客户数: the number the ranking uses — customers the member newly added inside the
  window, lost ones included; with 去重, not those someone else had added before.
- 流失客户数: customers who deleted the member inside the window and have not added them
  again since (a deletion by the member is not a loss; a re-added customer is not lost).
- 净增客户数: the invited customers (邀请客户数) who are not lost.

For the group metric: 入群次数 (what the ranking counts, each join once), 入群客户数 (distinct
customers behind those joins), 退群客户数 (of those, who left a credited group inside the window
and did not come back), 净增入群客户数 (入群客户数 − 退群客户数).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from handlers.leaderboard import counting, sql
from storage.leaderboard import Activity, Metric

DEFINITIONS = {
    Metric.NEW_CUSTOMERS: {
        "总客户数": "成员当前的全部客户数量",
        "邀请客户数": "活动时间内成员新添加的客户数量，包含流失数据；开启去重时，"
        "已被其他员工添加过的客户不计入（排名按此数）",
        "流失客户数": "活动时间内将成员删除、且之后没有再添加回来的客户数量（成员删除客户不算流失）",
        "净增客户数": "邀请客户数中未流失的客户数量",
    },
    Metric.GROUP_JOINS: {
        "入群次数": "活动时间内成员邀请客户加入活动群聊的次数，同一客户多次入群计多次（排名按此数）",
        "入群客户数": "上述入群对应的不同客户数量",
        "退群客户数": "其中在活动时间内退出活动群聊、且之后没有再入群的客户数量",
        "净增入群客户数": "入群客户数减去退群客户数",
    },
}

_LOST = """
SELECT e.userid AS userid, e.external_userid AS external_userid, MAX(e.at) AS at
FROM follow_event e JOIN lb_participant p ON p.activity_id = ? AND p.userid = e.userid
WHERE e.kind = 'end' AND e.end_reason = 'deleted_by_customer' AND e.at >= ? AND e.at < ?
AND NOT EXISTS (
  SELECT 1 FROM follow_event r WHERE r.userid = e.userid
  AND r.external_userid = e.external_userid AND r.kind = 'add' AND r.at > e.at)
GROUP BY e.userid, e.external_userid
"""

# A credited join whose customer later left that group inside the window for good.
_QUIT_AFTER = """EXISTS (
  SELECT 1 FROM group_membership_event o WHERE o.chat_id = q.chat_id
  AND o.member_id = q.member_id AND o.kind = 'quit' AND o.at > q.at AND o.at < ?
  AND NOT EXISTS (
    SELECT 1 FROM group_membership_event j WHERE j.chat_id = o.chat_id
    AND j.member_id = o.member_id AND j.kind = 'join' AND j.at > o.at))"""


def lost_sql(activity: Activity) -> tuple[str, list[Any]]:
    return _LOST, [activity.id, activity.start_at, activity.end_at]


def member_headers(activity: Activity) -> list[str]:
    return ["排名", "成员", *DEFINITIONS[Metric(activity.metric)]]


async def _grouped(query: str, params: list[Any]) -> dict[str, int]:
    return {str(r[0]): int(r[1]) for r in await sql.fetch(query, params, report=True)}


# The credited facts and the losses, each computed once (去重 makes the first costly) and
# joined: per member (or per day) the invited count, its last time, the lost among the
# invited, and, in the second part, all losses.
_ONCE = """
WITH c AS MATERIALIZED ({credited}), l AS MATERIALIZED ({lost})
SELECT 'c', {c_key}, COUNT(*), MAX(c.first_at), COUNT(l.userid) FROM c LEFT JOIN l
  ON l.userid = c.userid AND l.external_userid = c.external_userid GROUP BY {c_key}
UNION ALL
SELECT 'l', {l_key}, COUNT(*), NULL, 0 FROM l GROUP BY {l_key}
"""


async def _invited_and_lost(
    activity: Activity, c_key: str, l_key: str
) -> tuple[dict[str, tuple[int, Any, int]], dict[str, int]]:
    credited, cparams = counting.credited_sql(activity)
    lost, lparams = lost_sql(activity)
    query = _ONCE.format(credited=credited, lost=lost, c_key=c_key, l_key=l_key)
    found = await sql.fetch(query, cparams + lparams, report=True)

    def split() -> tuple[dict[str, tuple[int, Any, int]], dict[str, int]]:
        invited: dict[str, tuple[int, Any, int]] = {}
        gone: dict[str, int] = {}
        for part, key, count, last, lost_invited in found:
            if part == "c":
                invited[str(key)] = (int(count), sql.to_dt(last), int(lost_invited))
            else:
                gone[str(key)] = int(count)
        return invited, gone

    return await asyncio.to_thread(split)


async def member_rows(activity: Activity) -> list[list[Any]]:
    found = await sql.fetch(
        "SELECT p.userid, s.name FROM lb_participant p LEFT JOIN staff s ON s.userid = p.userid"
        " WHERE p.activity_id = ?",
        [activity.id],
        report=True,
    )
    names = {str(u): str(n or u) for u, n in found}
    if activity.metric == Metric.GROUP_JOINS:
        ranking = await counting.recompute(activity)
        extra = await _group_columns(activity)
        return _table(ranking, names, extra)
    invited, gone = await _invited_and_lost(activity, "c.userid", "l.userid")
    extra = await _customer_columns(activity, invited, gone)

    def build() -> list[list[Any]]:
        totals = {u: (v[0], v[1]) for u, v in invited.items()}
        return _table(counting.rank(activity, totals, list(names)), names, extra)

    # Ten thousand participants' Python work off the event loop's thread: it then only waits
    # its turn for the interpreter instead of stalling callbacks for the whole loop.
    return await asyncio.to_thread(build)


def _table(ranking: list[counting.RankRow], names: dict[str, str], extra: Any) -> list[list[Any]]:
    return [[r.rank, names.get(r.userid, r.userid), *extra(r.userid, r.count)] for r in ranking]


async def _customer_columns(
    activity: Activity, invited: dict[str, tuple[int, Any, int]], gone: dict[str, int]
) -> Any:
    total = await _grouped(
        "SELECT r.userid, COUNT(*) FROM follow_relation r JOIN lb_participant p"
        " ON p.activity_id = ? AND p.userid = r.userid WHERE r.active = ? GROUP BY r.userid",
        [activity.id, True],
    )

    def columns(uid: str, count: int) -> list[int]:
        lost_invited = invited.get(uid, (0, None, 0))[2]
        return [total.get(uid, 0), count, gone.get(uid, 0), count - lost_invited]

    return columns


async def _group_columns(activity: Activity) -> Any:
    credited, params = counting.credited_sql(activity)
    people = await _grouped(
        f"SELECT q.credited, COUNT(DISTINCT q.member_id) FROM ({credited}) q GROUP BY q.credited",
        params,
    )
    left = await _grouped(
        f"SELECT q.credited, COUNT(DISTINCT q.member_id) FROM ({credited}) q"
        f" WHERE {_QUIT_AFTER} GROUP BY q.credited",
        params + [activity.end_at],
    )

    def columns(uid: str, count: int) -> list[int]:
        joined, quit = people.get(uid, 0), left.get(uid, 0)
        return [count, joined, quit, joined - quit]

    return columns


# --- by date -------------------------------------------------------------------------------


def _offset_minutes(activity: Activity, tz: Any) -> int:
    """The corp zone's offset at the activity's start (days are cut in SQL with it)."""
    offset = activity.start_at.astimezone(tz).utcoffset() or timedelta()
    return int(offset.total_seconds() // 60)


def day_expr(column: str, minutes: int) -> str:
    """The local calendar day of a UTC timestamp column, as YYYY-MM-DD text."""
    if sql.is_sqlite(sql.conn()):
        return f"date({column}, '{minutes:+d} minutes')"
    return f"to_char(({column} AT TIME ZONE 'UTC') + interval '{minutes:d} minutes', 'YYYY-MM-DD')"


def date_headers(activity: Activity) -> list[str]:
    return ["日期", *(k for k in DEFINITIONS[Metric(activity.metric)] if k != "总客户数")]


async def date_rows(activity: Activity, tz: Any) -> list[list[Any]]:
    """Per local day, the columns of 按成员 over all participants (总客户数 has no per-day
    meaning and is left out)."""
    minutes = _offset_minutes(activity, tz)
    credited, cparams = counting.credited_sql(activity)
    if activity.metric == Metric.GROUP_JOINS:
        day = day_expr("q.at", minutes)
        counts = await _grouped(
            f"SELECT {day}, COUNT(*) FROM ({credited}) q GROUP BY {day}", cparams
        )
        people = await _grouped(
            f"SELECT {day}, COUNT(DISTINCT q.member_id) FROM ({credited}) q GROUP BY {day}",
            cparams,
        )
        left = await _grouped(
            f"SELECT {day}, COUNT(DISTINCT q.member_id) FROM ({credited}) q"
            f" WHERE {_QUIT_AFTER} GROUP BY {day}",
            cparams + [activity.end_at],
        )
        return [
            [d, counts[d], people.get(d, 0), left.get(d, 0), people.get(d, 0) - left.get(d, 0)]
            for d in sorted(counts)
        ]
    # The credited facts and the losses computed once, as for 按成员 (was three statements).
    cday, lday = day_expr("c.first_at", minutes), day_expr("l.at", minutes)
    invited, gone = await _invited_and_lost(activity, cday, lday)
    days = sorted(set(invited) | set(gone))
    none = (0, None, 0)
    return [
        [
            d,
            invited.get(d, none)[0],
            gone.get(d, 0),
            invited.get(d, none)[0] - invited.get(d, none)[2],
        ]
        for d in days
    ]


def window_days(activity: Activity, tz: Any, now: datetime) -> list[str]:
    """Every local day from the start to today (or the end), so quiet days show as 0."""
    first = activity.start_at.astimezone(tz).date()
    last = min(activity.end_at - timedelta(microseconds=1), now).astimezone(tz).date()
    days: list[str] = []
    while first <= last and len(days) < 400:
        days.append(first.isoformat())
        first += timedelta(days=1)
    return days


def fill_days(rows: list[list[Any]], days: list[str], width: int) -> list[list[Any]]:
    found = {r[0]: r for r in rows}
    return [found.get(d, [d] + [0] * (width - 1)) for d in sorted(set(days) | set(found))]
