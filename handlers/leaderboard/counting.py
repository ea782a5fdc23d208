"""The one place that says which facts an activity credits, and the ranking derived from them.

A full recomputation (`recompute`) is the truth; the Redis sorted set per activity is a cache
kept by the listeners (recount one participant from the database, ZADD) and rebuilt from the
facts when missing. Both order by the same `score`, so they always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from handlers.leaderboard import sql
from storage.facts import CUSTOMER_FIRST_ADD_INDEX
from storage.leaderboard import Activity, Metric, Participant, Team

# score = -count * SPAN + seconds from the start to the last credited fact: lower is better,
# so a higher count wins and, at equal counts, whoever got there first. Exact in a double for
# counts below 900,000. Equal scores fall back to the userid in both Redis and Python.
SPAN = 10**10
ZERO_SCORE = SPAN - 1


def score(count: int, last_at: datetime | None, start: datetime) -> int:
    if count <= 0 or last_at is None:
        return ZERO_SCORE
    offset = max(0, min(int((last_at - start).total_seconds()), SPAN - 1))
    return -count * SPAN + offset


def count_of(score_value: float) -> int:
    value = int(score_value)
    return (-value + SPAN - 1) // SPAN if value < 0 else 0


@dataclass(frozen=True)
class RankRow:
    rank: int  # 1-based
    userid: str
    count: int
    last_at: datetime | None


# --- credited facts ---------------------------------------------------------------------------

_NEW_PAIRS = """
SELECT f.userid AS userid, f.external_userid AS external_userid, MIN(f.at) AS first_at
FROM follow_event f
JOIN lb_participant p ON p.activity_id = ? AND p.userid = f.userid
WHERE f.kind = 'add' AND f.at >= ? AND f.at < ? {extra}
GROUP BY f.userid, f.external_userid
"""

_GROUP_JOINS = """
SELECT x.credited, x.member_id, x.at, x.chat_id, x.id FROM (
  SELECT CASE WHEN g.invitor <> '' THEN g.invitor
              WHEN g.scene = 3 THEN COALESCE(cg.owner, '') ELSE '' END AS credited,
         g.member_id AS member_id, g.at AS at, g.chat_id AS chat_id, g.id AS id
  FROM group_membership_event g LEFT JOIN customer_group cg ON cg.chat_id = g.chat_id
  WHERE g.kind = 'join' AND g.member_type = 2 AND g.at >= ? AND g.at < ?
  AND g.chat_id IN ({chats})
) x JOIN lb_participant p ON p.activity_id = ? AND p.userid = x.credited {extra}
"""


# 去重: a customer someone else added earlier (by a fact or by the synced first add) is not
# new. Each add in the window is looked at once, and counts when it is its pair's first add in
# the window and nobody else added the customer before it. The customer's first add (kept with
# every add, `first_added_*`, read from a covering index) settles most adds without a second
# look at the facts: the customer's very first add, or someone else's earlier one. Only the
# rest (re-adds, customers first added by the same person before the window, customers without
# a first add) probe the customer's adds.
_FIRST_IN_WINDOW_AND_NEW = """CASE
  WHEN cu.first_added_at = f.at AND cu.first_added_by = f.userid THEN TRUE
  WHEN cu.first_added_by <> '' AND cu.first_added_by <> f.userid AND cu.first_added_at < f.at
    THEN FALSE
  ELSE NOT EXISTS (
    SELECT 1 FROM follow_event o WHERE o.external_userid = f.external_userid AND o.kind = 'add'
    AND o.at < f.at AND (o.userid <> f.userid OR o.at >= ?))
END"""

_DEDUP_ADDS = (
    """
FROM lb_participant p
JOIN follow_event f ON f.userid = p.userid AND f.kind = 'add' AND f.at >= ? AND f.at < ?
LEFT JOIN customer cu {hint} ON cu.external_userid = f.external_userid
WHERE p.activity_id = ? {extra} AND """
    + _FIRST_IN_WINDOW_AND_NEW
)

# The totals need no grouping into pairs (one pair's adds at one instant counted once).
_DEDUP_TOTALS = (
    "SELECT p.userid, COUNT(DISTINCT f.external_userid), MAX(f.at)"
    + _DEDUP_ADDS
    + " GROUP BY p.userid"
)
_DEDUP_PAIRS = (
    "SELECT f.userid AS userid, f.external_userid AS external_userid, MIN(f.at) AS first_at"
    + _DEDUP_ADDS
    + " GROUP BY f.userid, f.external_userid"
)


def _dedup_sql(template: str, activity: Activity, userid: str | None) -> tuple[str, list[Any]]:
    # SQLite would rather read the customer row through its primary key than the covering index.
    hint = f"INDEXED BY {CUSTOMER_FIRST_ADD_INDEX}" if sql.is_sqlite(sql.conn()) else ""
    query = template.format(hint=hint, extra="AND p.userid = ?" if userid else "")
    params: list[Any] = [activity.start_at, activity.end_at, activity.id]
    return query, [*params, *([userid] if userid else []), activity.start_at]


def dedup_totals_sql(activity: Activity, userid: str | None = None) -> tuple[str, list[Any]]:
    """(userid, count, last credited at) per participant of a 去重 new-customer activity."""
    return _dedup_sql(_DEDUP_TOTALS, activity, userid)


def credited_sql(activity: Activity, userid: str | None = None) -> tuple[str, list[Any]]:
    """Rows (userid, customer, at[, chat_id, join id]) of every credited fact; optionally for
    one person."""
    if activity.metric == Metric.GROUP_JOINS:
        chats = [str(c) for c in activity.chat_ids or []]
        extra = "WHERE x.credited = ?" if userid else ""
        query = _GROUP_JOINS.format(chats=sql.placeholders(len(chats)), extra=extra)
        params: list[Any] = [activity.start_at, activity.end_at, *chats, activity.id]
        return query, params + ([userid] if userid else [])
    if activity.dedup:
        pairs, params = _dedup_sql(_DEDUP_PAIRS, activity, userid)
    else:
        pairs = _NEW_PAIRS.format(extra="AND f.userid = ?" if userid else "")
        params = [activity.id, activity.start_at, activity.end_at] + ([userid] if userid else [])
    return f"SELECT c.userid, c.external_userid, c.first_at FROM ({pairs}) c", params


async def credited_facts(activity: Activity, userid: str | None = None) -> list[tuple[Any, ...]]:
    query, params = credited_sql(activity, userid)
    rows = await sql.fetch(query, params, report=userid is None)
    return [(r[0], r[1], sql.to_dt(r[2]), *r[3:]) for r in rows]


async def participant_ids(activity_id: int) -> list[str]:
    rows = await Participant.filter(activity_id=activity_id).values_list("userid", flat=True)
    return [str(u) for u in rows]


async def recompute(activity: Activity) -> list[RankRow]:
    """The full ranking from the facts: every participant, best first."""
    found = await _totals(activity, report=True)
    rows = await sql.fetch(
        "SELECT userid FROM lb_participant WHERE activity_id = ?", [activity.id], report=True
    )
    return rank(activity, found, [str(r[0]) for r in rows])


def rank(activity: Activity, found: dict[str, tuple[int, Any]], people: list[str]) -> list[RankRow]:
    """Every participant in ranking order from their (count, last credited at)."""
    keyed = []
    for uid in people:
        count, last = found.get(uid, (0, None))
        keyed.append((score(count, last, activity.start_at), uid, count, last))
    keyed.sort(key=lambda k: (k[0], k[1]))
    return [RankRow(i + 1, uid, count, last) for i, (_, uid, count, last) in enumerate(keyed)]


async def _totals(
    activity: Activity, userid: str | None = None, *, report: bool = False
) -> dict[str, tuple[int, Any]]:
    group = activity.metric == Metric.GROUP_JOINS
    if activity.dedup and not group:
        agg, params = dedup_totals_sql(activity, userid)
    else:
        query, params = credited_sql(activity, userid)
        who, when = ("credited", "at") if group else ("userid", "first_at")
        agg = f"SELECT q.{who}, COUNT(*), MAX(q.{when}) FROM ({query}) q GROUP BY q.{who}"
    found = await sql.fetch(agg, params, report=report)
    return {r[0]: (int(r[1]), sql.to_dt(r[2])) for r in found}


async def count_for(activity: Activity, userid: str) -> tuple[int, datetime | None]:
    found = await _totals(activity, userid)
    return found.get(userid, (0, None))


# --- the live cache -----------------------------------------------------------------------------


def zkey(activity_id: int) -> str:
    return f"lb:{activity_id}:rank"


def counts_key(activity_id: int) -> str:
    return f"lb:{activity_id}:counts"


def teams_key(activity_id: int) -> str:
    return f"lb:{activity_id}:teams"  # team id → total, kept by every recount


def team_sizes_key(activity_id: int) -> str:
    return f"lb:{activity_id}:team_sizes"


# Store one participant's score and count and move their team's total by the difference,
# atomically, so concurrent recounts of the same person never double-count a team.
_STORE = """
local old = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
if ARGV[4] ~= '' then redis.call('HINCRBY', KEYS[3], ARGV[4], tonumber(ARGV[3]) - old) end
return old
"""


async def _memberships(activity_id: int) -> dict[str, int | None]:
    rows = await Participant.filter(activity_id=activity_id).values_list("userid", "team_id")
    return {str(u): t for u, t in rows}


def _team_maps(
    counts: dict[str, int], members: dict[str, int | None], team_ids: list[int]
) -> tuple[dict[str, int], dict[str, int]]:
    totals = {str(t): 0 for t in team_ids}
    sizes = {str(t): 0 for t in team_ids}
    for uid, team in members.items():
        if team is not None and str(team) in totals:
            totals[str(team)] += counts.get(uid, 0)
            sizes[str(team)] += 1
    return totals, sizes


async def _team_ids(activity_id: int) -> list[int]:
    rows = await Team.filter(activity_id=activity_id).values_list("id", flat=True)
    return [int(t) for t in rows]  # type: ignore[call-overload]


def _write_teams(
    pipe: Any, activity_id: int, totals: dict[str, int], sizes: dict[str, int]
) -> None:
    pipe.delete(teams_key(activity_id), team_sizes_key(activity_id))
    if totals:
        pipe.hset(teams_key(activity_id), mapping=totals)
        pipe.hset(team_sizes_key(activity_id), mapping=sizes)


async def rebuild(redis: Redis, activity: Activity) -> list[RankRow]:
    rows = await recompute(activity)
    members = await _memberships(activity.id)
    counts = {r.userid: r.count for r in rows}
    totals, sizes = _team_maps(counts, members, await _team_ids(activity.id))
    pipe = redis.pipeline(transaction=True)
    pipe.delete(zkey(activity.id), counts_key(activity.id))
    if rows:
        mapping = {r.userid: score(r.count, r.last_at, activity.start_at) for r in rows}
        pipe.zadd(zkey(activity.id), mapping)
        pipe.hset(counts_key(activity.id), mapping=counts)
    _write_teams(pipe, activity.id, totals, sizes)
    await pipe.execute()
    return rows


async def rebuild_teams(redis: Redis, activity: Activity) -> None:
    """After team membership changed: team totals again from the participants' counts."""
    raw = await redis.hgetall(counts_key(activity.id))  # type: ignore[misc]
    counts = {_text(k): int(v) for k, v in raw.items()}
    totals, sizes = _team_maps(
        counts, await _memberships(activity.id), await _team_ids(activity.id)
    )
    pipe = redis.pipeline(transaction=True)
    _write_teams(pipe, activity.id, totals, sizes)
    await pipe.execute()


async def team_totals(redis: Redis, activity: Activity) -> list[tuple[int, int, int]]:
    """(team id, total, members) from the kept totals; rebuilt when Redis lost them."""
    pipe = redis.pipeline(transaction=False)
    pipe.hgetall(teams_key(activity.id))
    pipe.hgetall(team_sizes_key(activity.id))
    totals, sizes = await pipe.execute()
    if not totals:
        await rebuild(redis, activity)
        return (
            await team_totals(redis, activity) if await redis.exists(teams_key(activity.id)) else []
        )
    return [(int(_text(t)), int(v), int(sizes.get(t, 0))) for t, v in totals.items()]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def ensure(redis: Redis, activity: Activity) -> bool:
    """Rebuild the sorted set from the facts when Redis lost it; True when it was rebuilt."""
    if await redis.exists(zkey(activity.id)):
        return False
    await rebuild(redis, activity)
    return True


async def refresh_participant(redis: Redis, activity: Activity, userid: str) -> int:
    """Idempotent: recount one participant from the facts and store their score."""
    # Even right after a rebuild: the rebuild reads committed facts on the report connection
    # and may predate the fact that brought us here.
    await ensure(redis, activity)
    count, last = await count_for(activity, userid)
    team = await Participant.filter(activity_id=activity.id, userid=userid).values_list(
        "team_id", flat=True
    )
    keys = (zkey(activity.id), counts_key(activity.id), teams_key(activity.id))
    team_id = "" if not team or team[0] is None else str(team[0])
    value = score(count, last, activity.start_at)
    await redis.eval(_STORE, 3, *keys, userid, str(value), str(count), team_id)  # type: ignore[misc]
    return count


async def live_page(redis: Redis, activity: Activity, offset: int, limit: int) -> list[RankRow]:
    await ensure(redis, activity)
    found = await redis.zrange(zkey(activity.id), offset, offset + limit - 1, withscores=True)
    return [_row(activity, offset + i + 1, m, s) for i, (m, s) in enumerate(found)]


async def live_rank(redis: Redis, activity: Activity, userid: str) -> RankRow | None:
    await ensure(redis, activity)
    pipe = redis.pipeline(transaction=False)
    pipe.zrank(zkey(activity.id), userid)
    pipe.zscore(zkey(activity.id), userid)
    rank, value = await pipe.execute()
    if rank is None or value is None:
        return None
    return _row(activity, int(rank) + 1, userid, value)


async def live_size(redis: Redis, activity: Activity) -> int:
    await ensure(redis, activity)
    return int(await redis.zcard(zkey(activity.id)))


def _row(activity: Activity, rank: int, member: Any, value: float) -> RankRow:
    uid = member.decode() if isinstance(member, bytes) else str(member)
    count = count_of(value)
    last = None
    if count:
        last = activity.start_at + timedelta(seconds=int(value) + count * SPAN)
    return RankRow(rank, uid, count, last)
