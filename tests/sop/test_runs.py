"""A plan's runs through the sandbox WeCom: exactly once per (plan, run time) with two
workers and a restart, late runs marked 延迟 and skipped past the horizon, one enterprise task
per run with media uploaded for it and the per-minute limit honoured, posting detected from
WeCom (task status or the tracked link), missed after the follow window, edits affecting
only runs to come."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import pytest

from bot import schedule
from bot.deps import Deps
from bot.sandbox.corp import Corp
from bot.wecom_errors import WeComError
from handlers.sop import media, plans
from handlers.sop.plans import PlanIn
from storage.schedule import RunState, ScheduledRun
from storage.sop import RunStatus, SopPlan, SopRun, SopTask, TaskState
from tests.sop.conftest import PNG, T0, after, cards_of, plan_body
from tests.support import Clock, run_due


async def make_plan(deps: Deps, **kw: object) -> SopPlan:
    data = PlanIn.model_validate(plan_body(**kw))
    plans.check_plan(data)
    plan = SopPlan(created_by="admin")
    plans.apply(plan, data)
    await plan.save()
    await plans.plan_runs(deps, plan)
    return plan


def image(deps: Deps) -> str:
    name = "abcdefghijklmnopqrstuvwx.png"
    (media.upload_dir(deps.settings) / name).write_bytes(PNG)
    return name


async def test_personal_run_once_with_two_workers_and_a_restart(
    deps: Deps, corp: Corp, directory: None, clock: Clock
) -> None:
    plan = await make_plan(deps)
    after(clock, hours=3, minutes=1)  # 12:01 local
    results = await asyncio.gather(run_due(deps), run_due(deps))
    assert sum(results, []).count("done") == 1  # both swept, one ran
    assert await run_due(deps) == []  # a restarted worker finds nothing to do
    assert await SopRun.filter(plan_id=plan.id).count() == 1
    for userid in ("alice", "bob"):
        cards = cards_of(corp, userid)
        assert len(cards) == 1
        assert cards[0]["main_title"]["title"] == "今天 12:00 的朋友圈待发布"
        assert [b["text"] for b in cards[0]["button_list"]] == ["去发布", "已发布", "跳过"]
    assert cards_of(corp, "carol") == []
    # the second reminder, once, only to whoever has not acted
    task = await SopTask.get(userid="bob")
    await SopTask.filter(id=task.id).update(state=TaskState.SKIPPED)
    after(clock, hours=2)
    await asyncio.gather(run_due(deps), run_due(deps))
    await run_due(deps)
    assert len(cards_of(corp, "alice")) == 2 and len(cards_of(corp, "bob")) == 1
    assert cards_of(corp, "alice")[1]["main_title"]["title"].startswith("提醒：")


async def test_late_run_is_marked_and_past_horizon_skipped(
    deps: Deps, corp: Corp, directory: None, clock: Clock
) -> None:
    plan = await make_plan(deps)
    after(clock, hours=4)  # workers were down: 13:00, an hour late
    assert await run_due(deps) == ["done"]
    sop_run = await SopRun.get(plan_id=plan.id)
    assert sop_run.late is True
    assert any(
        r["value"] == "延迟发送" for r in cards_of(corp, "alice")[0]["horizontal_content_list"]
    )
    after(clock, days=1, hours=7)  # the next day's 12:00 run found at 20:00: past 6 h
    await run_due(deps)
    runs = await schedule.runs_of("sop.run", f"{plan.id}:")
    states = {r.key: r.state for r in runs if r.state is not RunState.PENDING}
    assert states == {
        f"{plan.id}:2024-06-03T12:00": RunState.DONE,
        f"{plan.id}:2024-06-04T12:00": RunState.SKIPPED,
    }
    assert await SopRun.filter(plan_id=plan.id).count() == 1  # skipped: never sent


async def test_enterprise_task_once_polled_and_missed(
    deps: Deps, corp: Corp, directory: None, clock: Clock
) -> None:
    corp.moment_range = {"alice", "carol"}  # bob is outside 朋友圈使用范围
    name = image(deps)
    plan = await make_plan(
        deps,
        mode="task",
        tag_ids=[corp.vip],  # type: ignore[attr-defined]
        items=[{"text": "新品", "kind": "images", "images": [name, name]}],
    )
    after(clock, hours=3, minutes=1)
    await asyncio.gather(run_due(deps), run_due(deps))
    assert len(corp.moment_jobs) == 1  # one task for every sender
    assert len(corp.attachments) == 2  # the images uploaded for this run
    job = next(iter(corp.moment_jobs.values()))
    assert sorted(job.moment.senders) == ["alice"] and job.moment.tag_ids == [corp.vip]  # type: ignore[attr-defined]
    sop_run = await SopRun.get(plan_id=plan.id)
    assert sop_run.jobid == job.jobid
    assert cards_of(corp, "alice") == []  # not before WeCom has made the task
    after(clock, minutes=2)
    await run_due(deps)  # the first poll: jobid → moment_id, bob invalid, then the cards
    sop_run = await SopRun.get(id=sop_run.id)
    assert sop_run.moment_id == job.moment.moment_id and sop_run.invalid_userids == ["bob"]
    assert (await SopTask.get(userid="bob")).state is TaskState.INVALID
    assert "企业通知" in cards_of(corp, "alice")[0]["main_title"]["desc"]
    assert cards_of(corp, "bob") == []  # refused as a sender: nothing to confirm
    owner = [c for c in cards_of(corp, "admin") if "无法发表企业朋友圈" in c["main_title"]["title"]]
    assert len(owner) == 1 and "王博" in owner[0]["sub_title_text"]  # the plan's owner is told
    corp.publish_moment(sop_run.moment_id, "alice")
    after(clock, minutes=3)
    await run_due(deps)
    alice = await SopTask.get(userid="alice")
    assert alice.state is TaskState.POSTED and alice.posted_via == "task"
    # the run after 48 h of following: anything unposted is missed (nothing here), closed
    after(clock, hours=49)
    for _ in range(3):
        await run_due(deps)
    assert (await SopRun.get(id=sop_run.id)).status is RunStatus.CLOSED


async def test_ten_a_minute_limit_is_honoured(
    deps: Deps, corp: Corp, directory: None, clock: Clock
) -> None:
    for n in range(10):
        await make_plan(deps, name=f"计划{n}", mode="task", freq="once", end_date=None)
    after(clock, hours=3, seconds=5)
    await run_due(deps)
    assert len(corp.moment_jobs) == 8  # [sop] tasks_per_minute, under WeCom's 10
    after(clock, seconds=70)
    await run_due(deps)
    assert len(corp.moment_jobs) == 10
    assert await SopRun.filter(jobid="").count() == 0
    jobids = await SopRun.all().values_list("jobid", flat=True)
    assert len(set(jobids)) == 10


async def test_killed_inside_add_moment_task_never_creates_twice(
    deps: Deps, corp: Corp, directory: None, clock: Clock
) -> None:
    plan = await make_plan(deps, mode="task", freq="once", end_date=None)
    after(clock, hours=3, minutes=1)
    await run_due(deps)
    sop_run = await SopRun.get(plan_id=plan.id)
    # as if the worker had died between claiming and storing the jobid
    await SopRun.filter(id=sop_run.id).update(status=RunStatus.CREATING, jobid="")
    row = await ScheduledRun.get(feature="sop.run", key=sop_run.key)
    await ScheduledRun.filter(id=row.id).update(state=RunState.RUNNING, lease_until=clock.now)
    after(clock, minutes=20)
    await run_due(deps)
    assert len(corp.moment_jobs) == 1
    assert (await SopRun.get(id=sop_run.id)).status is RunStatus.UNKNOWN


async def test_personal_post_found_by_its_tracked_link(
    deps: Deps, corp: Corp, directory: None, clock: Clock
) -> None:
    name = image(deps)
    link = {"title": "新品手册", "url": "https://example.com/book", "cover": name}
    plan = await make_plan(deps, items=[{"text": "看看", "kind": "link", "link": link}])
    after(clock, hours=3, minutes=1)
    await run_due(deps)
    alice = await SopTask.get(userid="alice")
    corp.post_personal_moment("bob", "别的内容", [])
    url = deps.url(f"/m/{alice.token}")
    corp.post_personal_moment(
        "alice", "看看", [{"msgtype": "link", "link": {"title": "新品手册", "url": url}}]
    )
    after(clock, minutes=2)
    await run_due(deps)
    alice = await SopTask.get(id=alice.id)
    assert alice.state is TaskState.POSTED and alice.posted_via == "link" and alice.moment_id
    assert (await SopTask.get(userid="bob")).state is TaskState.PENDING
    assert alice.visible_count == 2
    corp.react_to_moment(alice.moment_id, "alice", "wm_a1", "like")
    corp.react_to_moment(alice.moment_id, "alice", "wm_a2", "comment")
    after(clock, minutes=3)
    await run_due(deps)
    await run_due(deps)
    from storage.sop import SopInteraction

    rows = await SopInteraction.filter(task_id=alice.id).values_list("kind", "external_userid")
    assert sorted(rows) == [("comment", "wm_a2"), ("like", "wm_a1")]
    assert plan.id


async def test_edit_changes_only_runs_to_come(
    deps: Deps, corp: Corp, directory: None, clock: Clock
) -> None:
    plan = await make_plan(deps, items=[{"text": "旧文案", "kind": "text"}])
    after(clock, hours=3, minutes=1)
    await run_due(deps)
    data = PlanIn.model_validate(
        plan_body(at_time="15:00", items=[{"text": "新文案", "kind": "text"}])
    )
    plans.apply(plan, data)
    await plan.save()
    await plans.plan_runs(deps, plan)
    first = await SopRun.get(plan_id=plan.id)
    assert first.item["text"] == "旧文案"
    after(clock, days=1)  # 12:01 the next day: nothing at 12:00 any more
    await run_due(deps)
    assert await SopRun.filter(plan_id=plan.id).count() == 1
    after(clock, hours=3)  # 15:01
    await run_due(deps)
    second = await SopRun.filter(plan_id=plan.id).order_by("-id").first()
    assert second is not None and second.item["text"] == "新文案"
    assert second.due_at == T0 + timedelta(days=1, hours=6)
    assert date(2024, 6, 4) == second.due_at.astimezone(deps.settings.tz).date()


async def test_quiet_hours_hold_a_late_reminder(
    deps: Deps, corp: Corp, directory: None, clock: Clock
) -> None:
    plan = await make_plan(
        deps, at_time="18:00", quiet_start="19:00", quiet_end="08:00", remind_again_minutes=0
    )
    after(clock, hours=9, minutes=30)  # 18:30: on time
    await run_due(deps)
    assert len(cards_of(corp, "alice")) == 1
    after(clock, days=1, hours=1, minutes=30)  # the next day's run found at 20:00 (quiet)
    await run_due(deps)
    assert await SopRun.filter(plan_id=plan.id).count() == 2
    assert len(cards_of(corp, "alice")) == 1  # held until the quiet hours end
    after(clock, hours=12, minutes=1)  # 08:01 the day after
    await run_due(deps)
    cards = cards_of(corp, "alice")
    assert len(cards) == 2 and any(
        r["value"] == "延迟发送" for r in cards[1]["horizontal_content_list"]
    )


async def test_a_new_run_cancels_the_plans_open_task(
    deps: Deps, corp: Corp, directory: None, clock: Clock
) -> None:
    plan = await make_plan(deps, mode="task", remind_again_minutes=0)
    after(clock, hours=3, minutes=1)
    await run_due(deps)
    after(clock, minutes=2)
    await run_due(deps)  # the first poll: its moment_id
    first = await SopRun.get(plan_id=plan.id)
    assert first.moment_id and not corp.moments[first.moment_id].cancelled
    corp.publish_moment(first.moment_id, "alice")
    after(clock, days=1)
    await run_due(deps)
    assert corp.moments[first.moment_id].cancelled  # superseded: cancel_moment_task
    first = await SopRun.get(id=first.id)
    assert first.status is RunStatus.CLOSED
    states = dict(await SopTask.filter(run_id=first.id).values_list("userid", "state"))
    assert states == {"alice": TaskState.POSTED, "bob": TaskState.MISSED}


def fail_once_for(deps: Deps, userid: str, *, after_send: bool, exc: BaseException) -> None:
    """The first card to `userid` dies: before it reaches WeCom, or after WeCom took it (the
    answer lost), as when a worker is killed or the network drops mid-call."""
    send = deps.wecom.send_template_card
    failed: list[str] = []

    async def flaky(touser: list[str], card: dict[str, Any]) -> dict[str, Any]:
        if touser == [userid] and not failed:
            failed.append(userid)
            if after_send:
                await send(touser, card)
            raise exc
        return await send(touser, card)

    deps.wecom.send_template_card = flaky  # type: ignore[method-assign]


async def run_row(plan: SopPlan) -> ScheduledRun:
    sop_run = await SopRun.get(plan_id=plan.id)
    return await ScheduledRun.get(feature="sop.run", key=sop_run.key)


async def retry_after_death(deps: Deps, plan: SopPlan, clock: Clock) -> ScheduledRun:
    row = await run_row(plan)
    await ScheduledRun.filter(id=row.id).update(state=RunState.RUNNING, lease_until=clock.now)
    after(clock, minutes=20)
    await run_due(deps)
    return await ScheduledRun.get(id=row.id)


async def test_card_cut_off_before_wecom_is_sent_on_the_retry(
    deps: Deps, corp: Corp, directory: None, clock: Clock
) -> None:
    plan = await make_plan(deps, remind_again_minutes=0)
    fail_once_for(deps, "bob", after_send=False, exc=asyncio.CancelledError())
    after(clock, hours=3, minutes=1)
    with pytest.raises(asyncio.CancelledError):
        await run_due(deps)
    assert cards_of(corp, "bob") == []
    assert (await retry_after_death(deps, plan, clock)).state is RunState.DONE
    assert len(cards_of(corp, "alice")) == 1 and len(cards_of(corp, "bob")) == 1
    assert await SopTask.filter(plan_id=plan.id, reminded_at__isnull=True).count() == 0


async def test_card_whose_answer_was_lost_is_not_sent_twice(
    deps: Deps, corp: Corp, directory: None, clock: Clock
) -> None:
    plan = await make_plan(deps, remind_again_minutes=0)
    lost = WeComError(-1, "connection reset", "message/send", network=True)
    fail_once_for(deps, "bob", after_send=True, exc=lost)
    after(clock, hours=3, minutes=1)
    await run_due(deps)  # the run fails and is retried later
    assert len(cards_of(corp, "bob")) == 1
    row = await run_row(plan)
    assert row.state is RunState.PENDING and row.last_error
    after(clock, minutes=20)
    await run_due(deps)
    assert (await ScheduledRun.get(id=row.id)).state is RunState.DONE
    assert len(cards_of(corp, "alice")) == 1 and len(cards_of(corp, "bob")) == 1
    assert await SopTask.filter(plan_id=plan.id, reminded_at__isnull=True).count() == 0
