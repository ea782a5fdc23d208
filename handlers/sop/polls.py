"""Following a run after it went out: who posted and how customers reacted.

WeCom sends no callback for moments, so each run is polled on the core's scheduled runs
(`sop.poll`, key "<run>:<n>") with a growing interval until its follow window ends (the
plan's `poll_hours`, 48 h by default); then unposted tasks are marked missed.
- task mode: `get_moment_task_result` turns the jobid into the moment_id and the invalid
  senders; `get_moment_task` says who published (W9);
- personal mode: the member's tracked link is looked for in `get_moment_list(filter_type=1,
  creator=…)`, so 已发布 never depends on the member pressing a button;
- posted moments: `get_moment_comments` (likes and comments: who and when) and, once,
  `get_moment_send_result` (how many customers can see it).
Each poll is idempotent: states move forward by conditional UPDATEs, interactions are rows
with unique keys."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError

from bot import schedule
from bot.deps import Deps
from bot.wecom_errors import WeComError
from cards.sop import invalid_senders_card
from handlers.sop.router import router
from handlers.sop.runs import close_run, remind
from storage.directory import Staff
from storage.schedule import ScheduledRun
from storage.sop import (
    Mode,
    PostedVia,
    RunStatus,
    SopAlert,
    SopInteraction,
    SopPlan,
    SopRun,
    SopTask,
    TaskState,
)

log = logging.getLogger(__name__)
BACKOFF_MINUTES = [1, 2, 5, 10, 20, 30, 60, 120, 240]
MONTH = timedelta(days=30)


def next_delay(n: int) -> timedelta:
    return timedelta(minutes=BACKOFF_MINUTES[min(n - 1, len(BACKOFF_MINUTES) - 1)])


@router.scheduled("poll", title="朋友圈SOP发布跟踪")
async def on_poll(deps: Deps, run: ScheduledRun) -> None:
    run_id, _, n = run.key.partition(":")
    sop_run = await SopRun.get_or_none(id=int(run_id))
    if sop_run is None or sop_run.status is RunStatus.CLOSED:
        return
    await poll(deps, sop_run)
    now = deps.now()
    if now >= sop_run.follow_until:
        await close_run(deps, sop_run, cancel=sop_run.mode is Mode.TASK)
        return
    following = int(n) + 1
    at = min(now + next_delay(int(n)), sop_run.follow_until)
    await schedule.plan("sop.poll", f"{sop_run.id}:{following}", at)


async def poll(deps: Deps, sop_run: SopRun) -> None:
    await SopRun.filter(id=sop_run.id).update(polls=sop_run.polls + 1)
    if sop_run.mode is Mode.TASK:
        await poll_task(deps, sop_run)
    else:
        await poll_personal(deps, sop_run)
    await sync_interactions(deps, sop_run)


async def poll_task(deps: Deps, sop_run: SopRun) -> None:
    if not sop_run.jobid:
        return  # not created yet (deferred by the per-minute limit) or failed
    if not sop_run.moment_id:
        try:
            body = await deps.wecom.get_moment_task_result(sop_run.jobid)
        except WeComError as exc:
            log.warning("sop run %s: get_moment_task_result: %s", sop_run.id, exc.explain())
            return
        if int(body.get("status", 0)) != 3:
            return
        result = body.get("result") or {}
        if int(result.get("errcode", 0) or 0) != 0:
            await SopRun.filter(id=sop_run.id).update(
                status=RunStatus.FAILED, error=str(result.get("errmsg", ""))
            )
            return
        invalid = [str(u) for u in (result.get("invalid_sender_list") or {}).get("user_list", [])]
        sop_run.moment_id = str(result.get("moment_id", ""))
        sop_run.invalid_userids = invalid
        await SopRun.filter(id=sop_run.id).update(
            moment_id=sop_run.moment_id, invalid_userids=invalid
        )
        if invalid:
            await SopTask.filter(
                run_id=sop_run.id, userid__in=invalid, state=TaskState.PENDING
            ).update(state=TaskState.INVALID)
            await report_invalid(deps, sop_run, invalid)
        await SopTask.filter(run_id=sop_run.id).update(moment_id=sop_run.moment_id)
        await remind(deps, sop_run, again=False)  # the task exists now: the first cards
    statuses = await deps.wecom.get_moment_task(sop_run.moment_id)
    posted = [str(s["userid"]) for s in statuses if int(s.get("publish_status", 0)) == 1]
    if posted:
        await mark_posted(deps, sop_run, posted, PostedVia.TASK)


async def report_invalid(deps: Deps, sop_run: SopRun, invalid: list[str]) -> bool:
    """Tell the plan's owner, once per run, whom WeCom refused as senders and what to fix."""
    plan = await SopPlan.get_or_none(id=sop_run.plan_id)
    if plan is None or not plan.created_by:
        return False
    try:
        ledger = await SopAlert.create(
            key=f"invalid:{sop_run.id}", userid=plan.created_by, sent_at=deps.now()
        )
    except IntegrityError:
        return False
    rows = await Staff.filter(userid__in=invalid).values_list("userid", "name")
    names = dict((str(u), str(n)) for u, n in rows)
    card = invalid_senders_card(
        plan.name,
        [names.get(u, u) for u in invalid],
        deps.url(f"/admin?plan={plan.id}#f//static/sop/admin.js"),
    )
    try:
        await deps.wecom.send_template_card([plan.created_by], card)
    except Exception:
        await ledger.delete()
        raise
    return True


async def mark_posted(deps: Deps, sop_run: SopRun, userids: list[str], via: PostedVia) -> None:
    """Posted wins over skipped and missed (the member posted after all); the source moves
    from the card to WeCom's own record when WeCom confirms it."""
    now = deps.now()
    await SopTask.filter(
        run_id=sop_run.id,
        userid__in=userids,
        state__in=[TaskState.PENDING, TaskState.SKIPPED, TaskState.MISSED],
    ).update(state=TaskState.POSTED, posted_via=via.value, acted_at=now)
    await SopTask.filter(
        run_id=sop_run.id,
        userid__in=userids,
        state=TaskState.POSTED,
        posted_via=PostedVia.CARD.value,
    ).update(posted_via=via.value)


def _epoch(t: datetime) -> int:
    return int(t.astimezone(UTC).timestamp())


async def poll_personal(deps: Deps, sop_run: SopRun) -> None:
    """Find each member's tracked link among their personal moments since the run."""
    start = sop_run.due_at - timedelta(minutes=5)
    end = min(deps.now(), start + MONTH)
    tasks = await SopTask.filter(run_id=sop_run.id, moment_id="").exclude(state=TaskState.INVALID)
    for task in tasks:
        try:
            moments = await deps.wecom.get_moment_list(
                _epoch(start), _epoch(end), creator=task.userid, filter_type=1
            )
        except WeComError as exc:
            log.warning("sop task %s: get_moment_list: %s", task.id, exc.explain())
            continue
        found = next((m for m in moments if _is_post(m, task.token, sop_run)), None)
        if found is None:
            continue
        await SopTask.filter(id=task.id, moment_id="").update(moment_id=str(found["moment_id"]))
        await mark_posted(deps, sop_run, [task.userid], PostedVia.LINK)


def _is_post(moment: dict[str, Any], token: str, sop_run: SopRun) -> bool:
    """The member's tracked link in the moment; for content without a link, the same text
    posted after the run went out."""
    link = moment.get("link") or {}
    if token in str(link.get("url", "")):
        return True
    text = str((moment.get("text") or {}).get("content", "")).strip()
    wanted = str(sop_run.item.get("text", "")).strip()
    after_run = int(moment.get("create_time", 0)) >= _epoch(sop_run.due_at) - 300
    return sop_run.item.get("kind") != "link" and bool(wanted) and text == wanted and after_run


async def sync_interactions(deps: Deps, sop_run: SopRun) -> None:
    """Likes and comments (who and when) of each posted moment, and its audience once."""
    tasks = await SopTask.filter(run_id=sop_run.id, state=TaskState.POSTED).exclude(moment_id="")
    rows: list[SopInteraction] = []
    for task in tasks:
        try:
            if task.visible_count is None:
                seen = await deps.wecom.get_moment_send_result(task.moment_id, task.userid)
                await SopTask.filter(id=task.id).update(visible_count=len(seen))
            body = await deps.wecom.get_moment_comments(task.moment_id, task.userid)
        except WeComError as exc:
            log.warning("sop task %s: moment data: %s", task.id, exc.explain())
            continue
        for kind, key in (("comment", "comment_list"), ("like", "like_list")):
            for entry in body.get(key) or []:
                who = str(entry.get("external_userid") or entry.get("userid") or "")
                at = int(entry.get("create_time", 0))
                rows.append(
                    SopInteraction(
                        key=f"{task.moment_id}:{task.userid}:{kind}:{who}:{at}"[:255],
                        task_id=task.id,
                        run_id=sop_run.id,
                        userid=task.userid,
                        external_userid=who,
                        kind=kind,
                        at=datetime.fromtimestamp(at, UTC),
                    )
                )
        await SopTask.filter(id=task.id).update(synced_at=deps.now())
    if rows:
        await SopInteraction.bulk_create(rows, ignore_conflicts=True)
