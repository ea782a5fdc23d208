"""Executing a plan's run, exactly once, on the core's scheduled runs.

`sop.run` (one per plan and run time) snapshots the content into a `SopRun`, gives each
executing staff member a `SopTask`, creates the one enterprise moments task in task mode, and
sends the reminder cards. Every step is idempotent, so a retry after a worker died does
nothing twice:
- the run and its tasks are rows with unique keys (insert-or-get);
- the WeCom task is created under a claim (status `creating`); a worker that died inside the
  call leaves it `unknown` and it is never created a second time;
- each reminder card has a fixed `task_id` (unique per app, so WeCom refuses a second card
  with it): a card is sent until WeCom has taken it once, and `reminded_at` is written after
  it was taken or refused as already sent, so a worker killed mid-send leaves the card to be
  sent again and never doubled.
Corps may create 10 moments tasks a minute: runs beyond `[sop] tasks_per_minute` (or refused
with 45009) are created by a `sop.create` run planned for when the minute has room."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError

from bot import schedule
from bot.callback_data import CallbackData
from bot.deps import Deps
from bot.wecom_errors import WeComError
from cards.sop import Reminder, reminder_card
from handlers.sop import media, rules
from handlers.sop.plans import staff_of
from handlers.sop.router import SopSettings, router
from storage.schedule import ScheduledRun
from storage.sop import Mode, RunStatus, SopPlan, SopRun, SopTask, TaskState

log = logging.getLogger(__name__)

HORIZON = timedelta(hours=6)  # a moment more than 6 h late is stale: the run is skipped
LINK_PURPOSE = "sop.link"
RATE_LIMITED = 45009


class MarkPosted(CallbackData, prefix="sop.posted"):
    task_id: int


class SkipTask(CallbackData, prefix="sop.skip"):
    task_id: int


def task_url(deps: Deps, task_id: int) -> str:
    return deps.url(f"/sidebar?open=sop&task={task_id}")


def link_url(deps: Deps, token: str) -> str:
    return deps.url(f"/m/{token}")


# --- the run ------------------------------------------------------------------------------


@router.scheduled("run", horizon=HORIZON, title="朋友圈SOP发送")
async def on_run(deps: Deps, run: ScheduledRun) -> None:
    plan = await SopPlan.get_or_none(id=int(run.key.split(":", 1)[0]))
    if plan is None or plan.deleted or plan.paused or not plan.items:
        return
    sop_run = await open_run(deps, plan, run)
    await ensure_tasks(deps, plan, sop_run)
    first_poll = deps.now() + timedelta(minutes=1)
    if sop_run.mode is Mode.TASK:
        # The cards go out once WeCom has made the task (the first poll): then 企业通知 has it
        # and members WeCom refused as senders are known and not told to confirm.
        await supersede(deps, plan, sop_run)
        await create_task(deps, sop_run)
        first_poll = deps.now() + timedelta(seconds=20)
    else:
        await remind(deps, sop_run, again=False)
    if plan.remind_again_minutes:
        again = sop_run.due_at + timedelta(minutes=plan.remind_again_minutes)
        again = rules.after_quiet(plan, max(again, deps.now()), deps.settings.tz)
        await schedule.plan("sop.remind", f"{sop_run.id}:again", again)
    await schedule.plan("sop.poll", f"{sop_run.id}:1", first_poll)


async def open_run(deps: Deps, plan: SopPlan, run: ScheduledRun) -> SopRun:
    """The run's row, made once: the content item it uses is frozen here, so a later edit
    of the plan changes only runs still to come."""
    found = await SopRun.get_or_none(key=run.key)
    if found is not None:
        return found
    index = int(run.payload.get("item", 0)) % len(plan.items)
    try:
        return await SopRun.create(
            plan_id=plan.id,
            key=run.key,
            token=deps.signer.token(LINK_PURPOSE),
            due_at=run.due_at,
            started_at=deps.now(),
            late=run.late,
            mode=plan.mode,
            item=dict(plan.items[index]),
            tag_ids=list(plan.tag_ids) if plan.mode is Mode.TASK else [],
            follow_until=run.due_at + timedelta(hours=plan.poll_hours),
        )
    except IntegrityError:
        return await SopRun.get(key=run.key)


async def ensure_tasks(deps: Deps, plan: SopPlan, sop_run: SopRun) -> None:
    staff = await staff_of(deps, plan)
    rows = [
        SopTask(
            run_id=sop_run.id,
            plan_id=plan.id,
            userid=userid,
            token=deps.signer.token(LINK_PURPOSE),
            due_at=sop_run.due_at,
        )
        for userid in staff
    ]
    if rows:
        await SopTask.bulk_create(rows, ignore_conflicts=True)


# --- the enterprise moments task ---------------------------------------------------------


async def attachments_for(deps: Deps, sop_run: SopRun) -> list[dict[str, object]]:
    """The item's media uploaded for this run (media ids live 3 days)."""
    item, settings = sop_run.item, deps.settings
    out: list[dict[str, object]] = []

    async def upload(name: str, kind: str) -> str:
        path = media.file_path(settings, name)
        if path is None:
            raise FileNotFoundError(f"media file {name} is gone")
        return await deps.wecom.upload_attachment(kind, name, path.read_bytes())

    if item.get("kind") == "images":
        for name in item.get("images", []):
            out.append({"msgtype": "image", "image": {"media_id": await upload(name, "image")}})
    elif item.get("kind") == "video":
        out.append(
            {"msgtype": "video", "video": {"media_id": await upload(item["video"], "video")}}
        )
    elif item.get("kind") == "link":
        link = item["link"]
        cover = await upload(link["cover"], "image")
        out.append(
            {
                "msgtype": "link",
                "link": {
                    "title": link["title"],
                    "url": link_url(deps, sop_run.token),
                    "media_id": cover,
                },
            }
        )
    return out


async def _room_at(deps: Deps) -> datetime | None:
    """None when a task may be created now, else when the minute has room again."""
    now = deps.now()
    limit = deps.section(SopSettings).tasks_per_minute
    recent = (
        await SopRun.filter(task_created_at__gt=now - timedelta(seconds=60))
        .order_by("task_created_at")
        .values_list("task_created_at", flat=True)
    )
    if len(recent) < limit:
        return None
    oldest = recent[len(recent) - limit]
    assert isinstance(oldest, datetime)
    return oldest + timedelta(seconds=61)


async def _defer(sop_run: SopRun, at: datetime) -> None:
    await schedule.plan("sop.create", f"{sop_run.id}:{int(at.timestamp())}", at)


async def create_task(deps: Deps, sop_run: SopRun) -> None:
    sop_run = await SopRun.get(id=sop_run.id)
    if sop_run.jobid or sop_run.status is not RunStatus.OPEN:
        if sop_run.status is RunStatus.CREATING:
            # A worker died inside add_moment_task: WeCom may have made it. Never twice.
            await SopRun.filter(id=sop_run.id, status=RunStatus.CREATING).update(
                status=RunStatus.UNKNOWN,
                error="创建企业朋友圈任务时进程中断，为避免重复发送未再次创建，请到企业微信管理后台核对",
            )
        return
    if (at := await _room_at(deps)) is not None:
        log.info("sop run %s: moments task deferred to %s (per-minute limit)", sop_run.id, at)
        await _defer(sop_run, at)
        return
    senders = await SopTask.filter(run_id=sop_run.id).values_list("userid", flat=True)
    if not senders:
        return
    attachments = await attachments_for(deps, sop_run)
    claimed = await SopRun.filter(id=sop_run.id, status=RunStatus.OPEN, jobid="").update(
        status=RunStatus.CREATING, task_created_at=deps.now()
    )
    if not claimed:
        return
    try:
        jobid = await deps.wecom.add_moment_task(
            str(sop_run.item.get("text", "")),
            attachments,
            users=sorted(str(u) for u in senders),
            tag_ids=list(sop_run.tag_ids),
        )
    except WeComError as exc:
        if exc.errcode == RATE_LIMITED:
            await SopRun.filter(id=sop_run.id).update(status=RunStatus.OPEN, task_created_at=None)
            await _defer(sop_run, deps.now() + timedelta(seconds=61))
            return
        await SopRun.filter(id=sop_run.id).update(status=RunStatus.FAILED, error=exc.explain())
        log.warning("sop run %s: add_moment_task refused: %s", sop_run.id, exc.explain())
        return
    except BaseException:
        await SopRun.filter(id=sop_run.id, status=RunStatus.CREATING).update(
            status=RunStatus.OPEN, task_created_at=None
        )
        raise
    await SopRun.filter(id=sop_run.id).update(status=RunStatus.OPEN, jobid=jobid)


@router.scheduled("create", title="朋友圈SOP企业任务（限频顺延）")
async def on_create(deps: Deps, run: ScheduledRun) -> None:
    sop_run = await SopRun.get_or_none(id=int(run.key.split(":", 1)[0]))
    if sop_run is None:
        return
    plan = await SopPlan.get_or_none(id=sop_run.plan_id)
    if plan is None or plan.deleted:
        return
    await create_task(deps, sop_run)


async def supersede(deps: Deps, plan: SopPlan, sop_run: SopRun) -> None:
    """A new run of the plan ends the plan's earlier open task: members still seeing it in 企业
    通知 would post two of the plan's moments."""
    older = await SopRun.filter(
        plan_id=plan.id, mode=Mode.TASK, status=RunStatus.OPEN, due_at__lt=sop_run.due_at
    )
    from handlers.sop.polls import poll  # polls builds on this module

    for old in older:
        await poll(deps, old)  # who posted it before it ends
        await close_run(deps, old, cancel=True)


async def close_run(deps: Deps, sop_run: SopRun, *, cancel: bool) -> None:
    """End following a run: its task cancelled in WeCom if asked, unposted tasks missed."""
    if cancel and sop_run.moment_id:
        try:
            await deps.wecom.cancel_moment_task(sop_run.moment_id)
        except WeComError as exc:
            log.warning("sop run %s: cancel_moment_task: %s", sop_run.id, exc.explain())
    await SopTask.filter(run_id=sop_run.id, state=TaskState.PENDING).update(
        state=TaskState.MISSED, acted_at=deps.now()
    )
    await SopRun.filter(id=sop_run.id).update(status=RunStatus.CLOSED)


# --- reminders ------------------------------------------------------------------------------


def attachment_text(item: dict[str, object]) -> str:
    kind = item.get("kind")
    if kind == "images":
        images = item.get("images")
        return f"{len(images) if isinstance(images, list) else 0} 张图片"
    if kind == "link" and isinstance(item.get("link"), dict):
        link = item["link"]
        assert isinstance(link, dict)
        return f"链接：{link.get('title', '')}"
    if kind == "video":
        return "视频"
    return ""


def at_text(deps: Deps, due: datetime) -> str:
    local = due.astimezone(deps.settings.tz)
    today = deps.now().astimezone(deps.settings.tz).date()
    day = "今天" if local.date() == today else f"{local.month}月{local.day}日"
    return f"{day} {local:%H:%M}"


def reminder_for(
    deps: Deps, plan: SopPlan, sop_run: SopRun, task: SopTask, again: bool
) -> Reminder:
    return Reminder(
        plan_name=plan.name,
        at_text=at_text(deps, sop_run.due_at),
        text=str(sop_run.item.get("text", "")),
        attachment=attachment_text(sop_run.item),
        task_mode=sop_run.mode is Mode.TASK,
        late=sop_run.late,
        again=again,
        post_url=task_url(deps, task.id),
    )


async def remind(deps: Deps, sop_run: SopRun, *, again: bool) -> int:
    """A card to each staff member who has not acted, once per (task, first|again)."""
    plan = await SopPlan.get_or_none(id=sop_run.plan_id)
    if plan is None or plan.deleted:
        return 0
    now, tz = deps.now(), deps.settings.tz
    if rules.in_quiet(plan, now, tz):
        await schedule.plan(
            "sop.remind",
            f"{sop_run.id}:{'again' if again else 'first'}",
            rules.after_quiet(plan, now, tz),
        )
        return 0
    column = "reminded_again_at" if again else "reminded_at"
    sent = 0
    for task in await SopTask.filter(
        run_id=sop_run.id, state=TaskState.PENDING, **{f"{column}__isnull": True}
    ):
        card = reminder_card(
            reminder_for(deps, plan, sop_run, task, again),
            task_id=f"sop-{task.id}-{2 if again else 1}",
            posted_key=MarkPosted(task_id=task.id).pack(deps.signer),
            skip_key=SkipTask(task_id=task.id).pack(deps.signer),
        )
        try:
            await deps.wecom.send_template_card([task.userid], card)
            sent += 1
        except WeComError as exc:
            if not exc.task_id_used:
                raise
            # Taken by an earlier attempt whose answer was lost, or by a concurrent one.
            log.info("sop task %s: reminder card already sent (%s)", task.id, exc.errmsg)
        await SopTask.filter(id=task.id, **{f"{column}__isnull": True}).update(**{column: now})
    return sent


@router.scheduled("remind", horizon=timedelta(hours=12), title="朋友圈SOP再次提醒")
async def on_remind(deps: Deps, run: ScheduledRun) -> None:
    run_id, _, which = run.key.partition(":")
    sop_run = await SopRun.get_or_none(id=int(run_id))
    if sop_run is None or sop_run.status is RunStatus.CLOSED:
        return
    await remind(deps, sop_run, again=which == "again")
