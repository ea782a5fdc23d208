"""客户阶段 in a real browser (system Chromium) against the whole stack with the sandbox WeCom:
the journey editor (stages, the diagram, the 12-stage limit), the rule's dry run, a group join
played in the sandbox moving the customer through a real encrypted callback, the 客户画像
block showing why and taking a staff move with a reason, and the funnel page."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.embedded_redis import EmbeddedRedis
from bot.sandbox.corp import Corp
from handlers import facts as facts_pkg
from handlers import stages as stages_pkg
from handlers.facts.sync import full_sync
from handlers.system import router as system_router
from storage.stages import Journey, Stage, StageCurrent, StageRule, StageTransition
from tests.browser import chromium, needs_chromium, signed_in_page
from tests.harness import Stack, running_stack

pytestmark = needs_chromium
EXT = "wmStagesCustomer01"
PHONE = {"viewport": {"width": 390, "height": 900}, "device_scale_factor": 1, "is_mobile": True}


def stages_corp() -> Corp:
    corp = Corp()
    corp.add_department(2, "销售部")
    corp.add_staff("alice", "艾丽丝", [2])
    corp.add_customer("张三", EXT)
    corp.add_customer("李四", "wmStagesCustomer02")
    corp.add_follow("alice", EXT, "", 1, int(time.time()) - 86400)
    corp.add_follow("alice", "wmStagesCustomer02", "", 1, int(time.time()) - 86400)
    corp.create_group("alice", "新品体验群", [])
    return corp


@pytest.fixture
async def stack(tmp_path: Path, db_url: str, redis_server: EmbeddedRedis) -> AsyncIterator[Stack]:
    routers = [system_router, facts_pkg.router, stages_pkg.router]
    async with running_stack(
        tmp_path, db_url, redis_server.url, corp=stages_corp(), routers=routers
    ) as s:
        await full_sync({"deps": s.deps})
        yield s


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with chromium() as b:
        yield b


async def test_editor_rule_group_join_profile_and_funnel(stack: Stack, browser: Any) -> None:
    page = await signed_in_page(
        browser, stack.deps, stack.app_url, "admin", viewport={"width": 1300, "height": 900}
    )
    await page.goto(f"{stack.app_url}/admin")
    await page.click("nav >> text=客户阶段")
    await page.click("#stages-new")
    await page.fill("#stages-name", "销售旅程")
    # the editor starts with three stages; a fourth, named, and the 13th refused
    await page.click("#stages-add-stage")
    await page.fill("[aria-label='第4个阶段名称']", "复购")
    await page.wait_for_function(
        "() => document.querySelector('[data-diagram=preview]').innerText.includes('复购')"
    )
    for _ in range(8):
        await page.click("#stages-add-stage")
    await page.click("#stages-add-stage")
    await page.wait_for_selector("#stages-form-error:has-text('最多 12 个阶段')")
    for _ in range(8):  # remove the eight unnamed ones again
        await page.locator("[data-stage-row='4'] >> text=删除").click()
    await page.click(".ui-modal >> text=保存")
    await page.wait_for_selector("[data-diagram] >> text=复购")
    journey = await Journey.get(name="销售旅程")
    stages = await Stage.filter(journey_id=journey.id).order_by("position")
    assert [s.name for s in stages] == ["新客户", "有意向", "已成交", "复购"]

    # a rule on the last stage: in the trial group (saved here, switched on after a dry run)
    chat_id = next(iter(stack.corp.groups))
    target = stages[2]
    await StageRule.create(
        journey_id=journey.id,
        stage_id=target.id,
        name="加入体验群",
        conditions=[{"type": "group", "chat_ids": [chat_id]}],
        enabled=False,
    )
    await page.click("text=规则与提醒")
    card = page.locator(f"[data-stage='{target.id}']")
    await card.locator("text=试运行").click()
    await page.wait_for_selector("#stages-dry-count:has-text('0')")
    await page.click(".ui-modal >> text=关闭")
    await card.locator("input[type=checkbox]").first.check()
    await card.locator("text=保存规则").click()
    await page.wait_for_selector(".ui-toast:has-text('规则已保存')")
    assert await StageRule.filter(enabled=True).count() == 1

    # the customer joins the group in the sandbox: callback → facts → GroupJoined → the rule
    await stack.driver.customer_joins_group(chat_id, EXT)
    await stack.run_jobs()
    current = await StageCurrent.get(journey_id=journey.id, userid="alice", external_userid=EXT)
    assert current.stage_id == target.id

    # the staff member's 客户画像: the stage, why it moved, and a move back with a reason
    staff = await signed_in_page(browser, stack.deps, stack.app_url, "alice", **PHONE)
    await staff.goto(f"{stack.app_url}/sidebar?sandbox_contact={EXT}&open=profile")
    block = staff.locator(f"[data-journey='{journey.id}']")
    await block.locator(".stages-current:has-text('已成交')").wait_for()
    await block.locator("summary").click()
    await block.locator(".stages-why:has-text('在群：新品体验群')").wait_for()
    await block.locator(".stages-select").select_option(str(stages[1].id))
    await block.locator(".stages-save").click()
    await block.locator(".error:has-text('变更原因')").wait_for()  # the reason is required
    await block.locator(".stages-reason").fill("客户要再考虑")
    await block.locator(".stages-save").click()
    await staff.wait_for_selector(
        f"[data-journey='{journey.id}'] .stages-current:has-text('有意向')"
    )
    last = await StageTransition.filter(journey_id=journey.id).order_by("-seq").first()
    assert last is not None and (last.by, last.reason, last.created_by) == (
        "staff",
        "客户要再考虑",
        "alice",
    )

    # the funnel page
    await page.click("text=返回")
    await page.locator(f"[data-journey='{journey.id}'] >> text=阶段数据").click()
    table = page.locator("#stages-funnel-table")
    await table.wait_for()
    row = table.locator(f"tr[data-stage='{target.id}'] td")
    cells = await row.all_inner_texts()
    assert cells[0] == "已成交" and cells[1] == "1" and cells[4] == "1"  # total, in (relations)
    await page.screenshot(path="/tmp/stages_funnel.png", full_page=True)


async def test_batch_set_by_filters(stack: Stack, browser: Any) -> None:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    journey = await Journey.create(name="售后旅程", created_at=now, updated_at=now)
    stages = [
        await Stage.create(journey_id=journey.id, position=i, name=n)
        for i, n in enumerate(("待回访", "已回访"))
    ]
    page = await signed_in_page(
        browser, stack.deps, stack.app_url, "admin", viewport={"width": 1300, "height": 900}
    )
    await page.goto(f"{stack.app_url}/admin")
    await page.click("nav >> text=客户阶段")
    await page.wait_for_selector(f"[data-pool='{journey.id}']:has-text('2 人')")  # both unset
    await page.locator(f"[data-journey='{journey.id}'] >> text=批量设置阶段").click()
    await page.wait_for_selector("#stages-batch-result:has-text('共 2 段跟进关系')")
    await page.fill("#stages-filter-name", "张三")
    await page.click("#stages-batch-search")
    await page.wait_for_selector("#stages-batch-result:has-text('共 1 段跟进关系')")
    await page.select_option("#stages-batch-target", str(stages[1].id))
    await page.click("#stages-batch-go")  # no reason: asked for before anything is confirmed
    await page.wait_for_selector("#stages-batch-result .stages-error:has-text('变更原因')")
    await page.fill("#stages-batch-reason", "电话回访完成")
    await page.click("#stages-batch-go")
    await page.click(".ui-modal button:has-text('确定')")
    await page.wait_for_selector(".ui-toast:has-text('已设置 1 段跟进关系')")
    await page.wait_for_selector("#stages-batch-result td:has-text('已回访')")
    row = await StageTransition.get(journey_id=journey.id)
    assert (row.external_userid, row.to_stage_id, row.by, row.reason, row.created_by) == (
        EXT, stages[1].id, "batch", "电话回访完成", "admin",
    )  # fmt: skip
