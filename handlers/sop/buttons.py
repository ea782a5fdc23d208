"""The reminder card's 已发布 and 跳过 (去发布 is a link to the reminder page). Only the task's
own staff member can press them; a press changes a pending task once, and the card turns
into 「已发布 · 12:03」 or 「已跳过 · 12:03」 without buttons."""

from __future__ import annotations

from bot.deps import Deps
from bot.events import TemplateCardEvent
from bot.replies import CardReply
from cards.sop import acted_card, reminder_card
from handlers.sop.router import router
from handlers.sop.runs import MarkPosted, SkipTask, reminder_for
from storage.sop import PostedVia, SopPlan, SopRun, SopTask, TaskState


async def act(deps: Deps, userid: str, task_id: int, state: TaskState) -> SopTask | None:
    """Move the member's pending task to posted (by the card) or skipped; the task, or None
    when it is not theirs. Already acted: left as it is."""
    task = await SopTask.get_or_none(id=task_id)
    if task is None or task.userid != userid:
        return None
    via = PostedVia.CARD.value if state is TaskState.POSTED else ""
    await SopTask.filter(id=task.id, state=TaskState.PENDING).update(
        state=state, posted_via=via, acted_at=deps.now()
    )
    return await SopTask.get(id=task.id)


async def _reply(deps: Deps, event: TemplateCardEvent, task: SopTask | None) -> CardReply | None:
    if task is None or task.state is TaskState.PENDING:
        return None
    sop_run = await SopRun.get_or_none(id=task.run_id)
    plan = await SopPlan.get_or_none(id=task.plan_id)
    if sop_run is None or plan is None:
        return None
    outcome = {
        TaskState.POSTED: "已发布",
        TaskState.SKIPPED: "已跳过",
        TaskState.MISSED: "已错过",
        TaskState.INVALID: "不在可发表范围",
    }[task.state]
    sent = reminder_card(reminder_for(deps, plan, sop_run, task, False), "", "", "")
    when = (task.acted_at or deps.now()).astimezone(deps.settings.tz).strftime("%H:%M")
    return CardReply(card=acted_card(sent, outcome, when), userids=(task.userid,))


@router.button(MarkPosted)
async def on_posted(deps: Deps, event: TemplateCardEvent, data: MarkPosted) -> CardReply | None:
    task = await act(deps, event.from_user, data.task_id, TaskState.POSTED)
    return await _reply(deps, event, task)


@router.button(SkipTask)
async def on_skip(deps: Deps, event: TemplateCardEvent, data: SkipTask) -> CardReply | None:
    task = await act(deps, event.from_user, data.task_id, TaskState.SKIPPED)
    return await _reply(deps, event, task)
