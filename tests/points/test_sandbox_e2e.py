"""The points programme end to end through the sandbox WeCom (real encrypted callbacks, the
worker delivering domain events): a customer adds a staff member and joins a scoped group
(新人积分 once though every callback arrives twice), signs in and redeems on their personal
link, the staff member's card 已发放 fulfils the redemption, and leaving the last scoped group
zeroes the balance."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from bot.embedded_redis import EmbeddedRedis
from bot.sandbox.corp import Corp
from handlers.points.page import personal_path
from storage.points import (
    EntryKind,
    PointsAccount,
    PointsEntry,
    PointsProgram,
    PointsRedemption,
    PointsReward,
    RedemptionState,
)
from tests.harness import Stack, running_stack

PAGE = {"X-Points-Page": "1"}


def shop_corp() -> Corp:
    corp = Corp()
    corp.add_department(2, "门店")
    corp.add_staff("zhangsan", "张三", [2])
    return corp


async def _balance(ext: str) -> int:
    acc = await PointsAccount.get_or_none(external_userid=ext)
    return int(acc.balance) if acc else 0


async def _programme(stack: Stack, chat_id: str) -> None:
    config = {
        "enabled": True,
        "chat_ids": [chat_id],
        "newcomer_points": 100,
        "newcomer_on": "both",
        "signin_points": 10,
    }
    now = stack.deps.now()
    await PointsProgram.create(id=1, config=config, started_at=now, updated_at=now)


async def test_join_sign_in_redeem_fulfil_and_leave_through_the_sandbox(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, corp=shop_corp()) as stack:
        for _, hook in stack.deps.dispatcher.hooks("sync"):
            await hook(stack.deps)
        driver, corp = stack.driver, stack.corp
        created = await driver.create_group("zhangsan", "会员群")
        chat_id = str(created.info["chat_id"])
        await _programme(stack, chat_id)
        added = await driver.customer_adds_staff("zhangsan", name="小王", welcome=False)
        await driver.deliver_raw(added.xml)  # WeCom retries
        ext = str(added.info["external_userid"])
        joined = await driver.customer_joins_group(chat_id, ext)
        await driver.deliver_raw(joined.xml)
        await stack.run_jobs()
        assert await _balance(ext) == 100
        newcomer = await PointsEntry.filter(rule="newcomer").values_list("key", flat=True)
        assert newcomer == [f"newcomer:{ext}"]
        reward = await PointsReward.create(
            name="帆布袋", cost=80, stock=2, created_at=stack.deps.now()
        )

        link = stack.app_url + personal_path(stack.deps, ext)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as phone:
            async with phone.get(link) as r:
                assert r.status == 200
            async with phone.post(link + "/api/signin", headers=PAGE) as r:
                assert (await r.json())["awarded"] == [{"reason": "每日签到", "points": 10}]
            body = {"reward_id": reward.id, "nonce": "tap-abcdefgh"}
            async with phone.post(link + "/api/redeem", json=body, headers=PAGE) as r:
                assert r.status == 200, await r.text()
        assert await _balance(ext) == 30

        # the owner's card, and 已发放 pressed in the sandbox
        message = corp.inbox("zhangsan")[-1]
        assert message.card is not None and "帆布袋" in message.card["main_title"]["title"]
        key = next(b["key"] for b in message.card["button_list"] if b.get("type") == 0)
        result = await driver.click_card("zhangsan", message.id, key)
        assert result.status == 200
        await stack.run_jobs()
        redemption = await PointsRedemption.get()
        assert redemption.state == RedemptionState.FULFILLED
        assert redemption.fulfilled_by == "zhangsan"
        assert await PointsEntry.filter(kind=EntryKind.SPEND).count() == 1

        # leaving the only scoped group zeroes what is left
        await driver.customer_quits_group(chat_id, ext)
        await stack.run_jobs()
        assert await _balance(ext) == 0
        zero = await PointsEntry.get(kind=EntryKind.ZERO)
        assert zero.amount == -30 and "会员群" in zero.reason
