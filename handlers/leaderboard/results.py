"""The console's data tables (按成员, 按日期, TOP10) computed by the worker, never in the web
process: a full recomputation over a million facts takes seconds of CPU, which on a small
machine lengthened the callbacks' tail while a page waited for it.

A page asks for the table of the activity's current data version (`version`): when the
worker stored it, the page answers at once; otherwise it queues one job for that version
(the job id names it, so reloads and several admins share it) and answers "computing"; the
page asks again for that same version until the table is there. The worker computes at the
lowest CPU priority and stores the table in the database (`ReportResult`), so losing Redis
loses at most a queued job, which the next ask queues again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from bot.deps import Deps
from handlers.leaderboard import counting, report, sql
from handlers.leaderboard.notify import names_of
from handlers.leaderboard.router import router
from storage.leaderboard import Activity, ReportResult

log = logging.getLogger(__name__)

KINDS = ("members", "dates", "top10")
JOB = "leaderboard_report"
KEEP = 3  # stored versions kept per activity and table (the newest)


def settings_key(activity: Activity) -> str:
    settings = (  # as text, so a row read back from the database gives the same key
        str(activity.metric),
        bool(activity.dedup),
        activity.start_at.astimezone(UTC).isoformat(),
        activity.end_at.astimezone(UTC).isoformat(),
        [str(c) for c in activity.chat_ids or []],
        int(activity.top_n),
    )
    return hashlib.sha1(repr(settings).encode()).hexdigest()[:16]


async def version(activity: Activity) -> str:
    """Changes whenever a fact, a participant or a setting that feeds the tables changes.
    Read apart from the write connection (on SQLite): counting the active relations walks an
    index of every relation (36-57 ms at 800,000), and a page asks every 2 s."""
    found = await sql.fetch(
        "SELECT (SELECT MAX(id) FROM follow_event), (SELECT MAX(id) FROM group_membership_event),"
        " (SELECT COUNT(*) FROM follow_relation WHERE active = ?),"
        " (SELECT COUNT(*) FROM lb_participant WHERE activity_id = ?),"
        " (SELECT MAX(id) FROM lb_participant WHERE activity_id = ?)",
        [True, activity.id, activity.id],
        report=True,
    )
    data = hashlib.sha1(repr(found[0]).encode()).hexdigest()[:16]
    return f"{settings_key(activity)}{data}"


async def stored(activity_id: int, kind: str, at_version: str) -> list[Any] | None:
    row = await ReportResult.get_or_none(activity_id=activity_id, kind=kind, version=at_version)
    return None if row is None else json.loads(row.rows)


async def newest(activity: Activity, kind: str) -> list[Any] | None:
    """The newest stored table under the activity's current settings, whatever its facts."""
    row = (
        await ReportResult.filter(
            activity_id=activity.id, kind=kind, settings=settings_key(activity)
        )
        .order_by("-id")
        .first()
    )
    return None if row is None else json.loads(row.rows)


async def ask(deps: Deps, activity: Activity, kind: str, at_version: str) -> list[Any] | None:
    """The table at that version, or None after queueing its computation."""
    found = await stored(activity.id, kind, at_version)
    if found is not None:
        return found
    job_id = f"lb-report:{activity.id}:{kind}:{at_version}"
    try:
        await deps.queue.enqueue(JOB, activity.id, kind, at_version, deps.now(), job_id=job_id)
    except Exception:  # Redis gone: the page asks again and queues it then
        log.warning("leaderboard report not queued", extra={"activity": activity.id}, exc_info=True)
    return None


async def compute(activity: Activity, kind: str, tz: Any) -> list[Any]:
    if kind == "members":
        return await report.member_rows(activity)
    if kind == "dates":
        return await report.date_rows(activity, tz)
    ranking = await counting.recompute(activity)
    return await top10_of(ranking)


async def top10_of(ranking: list[counting.RankRow]) -> list[list[Any]]:
    rows = ranking[:10]
    names = await names_of([r.userid for r in rows])
    return [[r.rank, names[r.userid], r.count] for r in rows]


async def keep(
    activity: Activity, kind: str, at_version: str, rows: list[Any], started_at: datetime
) -> None:
    """Store a computed table (a second copy of one version is a no-op), keeping the newest."""
    text = json.dumps(rows, default=str, ensure_ascii=False)
    try:
        await ReportResult.create(
            activity_id=activity.id,
            kind=kind,
            version=at_version,
            settings=at_version[:16],
            rows=text,
            started_at=started_at,
        )
    except IntegrityError:
        return
    ids = (
        await ReportResult.filter(activity_id=activity.id, kind=kind)
        .order_by("-id")
        .offset(KEEP)
        .values_list("id", flat=True)
    )
    if ids:
        await ReportResult.filter(id__in=list(ids)).delete()


@router.job
async def leaderboard_report(
    ctx: dict[str, Any], activity_id: int, kind: str, at_version: str, asked_at: datetime
) -> None:
    """Compute one data table for the version a page asked for, at the lowest CPU priority."""
    deps: Deps = ctx["deps"]
    activity = await Activity.get_or_none(id=activity_id, deleted=False)
    if activity is None or kind not in KINDS or at_version[:16] != settings_key(activity):
        return  # gone, or its settings changed since: pages ask for the new version
    if await stored(activity_id, kind, at_version) is not None:
        return
    # A table computed since the page asked counts every fact the page's version did (versions
    # pile up while callbacks keep coming): it answers that version too.
    since = (
        await ReportResult.filter(
            activity_id=activity_id,
            kind=kind,
            settings=at_version[:16],
            started_at__gt=asked_at,
        )
        .order_by("-id")
        .first()
    )
    if since is not None:
        await keep(activity, kind, at_version, json.loads(since.rows), since.started_at)
        return
    started_at = deps.now()
    with sql.lowest_priority():
        rows = await compute(activity, kind, deps.settings.tz)
    await keep(activity, kind, at_version, rows, started_at)
