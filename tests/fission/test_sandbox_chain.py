"""A chain of helpers through the sandbox WeCom: the participant joins on their personal link,
gets a poster whose QR code is their own contact way, friends scan it (every callback
delivered twice), the welcome arbiter sends each helper fission's welcome with the reason and
their own link, the winner's prize leaves the stock once, and an old customer is refused."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import qrcode
from PIL import Image

from bot.embedded_redis import EmbeddedRedis
from bot.sandbox.corp import Corp
from bot.sandbox.ways import add_url
from handlers.fission.pages import personal_url
from handlers.fission.poster import DEFAULT_SIZE, layout_for
from storage.contact_ways import ContactWay
from storage.facts import Customer
from storage.fission import (
    AwardState,
    FissionActivity,
    FissionAttempt,
    FissionAward,
    FissionHelp,
    FissionParticipant,
    FissionTier,
    Outcome,
)
from tests.harness import Stack, running_stack
from tests.support import wait_until


def market_corp() -> Corp:
    corp = Corp()
    corp.add_department(2, "市场部")
    corp.add_staff("zhangsan", "张三", [2])
    corp.add_staff("lisi", "李四", [2])
    return corp


async def sync_directory(stack: Stack) -> None:
    for _, hook in stack.deps.dispatcher.hooks("sync"):
        await hook(stack.deps)


async def running_activity(stack: Stack, **kw: Any) -> FissionActivity:
    now = stack.deps.now()
    values: dict[str, Any] = {
        "name": "春季好友助力",
        "start_at": now - timedelta(hours=1),
        "end_at": now + timedelta(days=7),
        "published": True,
        "staff": ["zhangsan", "lisi"],
        "welcome_text": "你好，欢迎了解我们！",
        "rules": "邀请 2 位新朋友扫码添加顾问即可领取奖品。",
        "options": {"customer_script": "帮我扫一下，谢谢！"},
    }
    activity = await FissionActivity.create(**(values | kw))
    await FissionTier.create(
        activity_id=activity.id,
        level=1,
        helpers=2,
        prize="定制帆布袋",
        stock=1,
        stock_left=1,
        redeem_text="到店出示本页面领取",
    )
    return activity


def qr_matches(png: bytes, box: dict[str, int], url: str) -> bool:
    """The poster's QR box holds exactly the modules of a QR code of `url` (as the sandbox,
    like WeCom, draws it): every module's centre has the right colour."""
    code = qrcode.QRCode(box_size=8, border=2)
    code.add_data(url)
    code.make(fit=True)
    matrix = code.get_matrix()
    image = Image.open(io.BytesIO(png)).convert("L")
    step = box["w"] / len(matrix)
    for row, line in enumerate(matrix):
        for col, dark in enumerate(line):
            x = int(box["x"] + (col + 0.5) * step)
            y = int(box["y"] + (row + 0.5) * step)
            if (image.getpixel((x, y)) < 128) != dark:  # type: ignore[operator]
                return False
    return True


def join_token(html: str) -> str:
    found = re.search(r'name="token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


async def test_a_chain_of_helpers_through_the_sandbox(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, corp=market_corp()) as stack:
        await sync_directory(stack)
        activity = await running_activity(stack)
        corp = stack.corp
        # 小王 is zhangsan's customer already; 老李 was added by lisi long ago
        await stack.driver.customer_adds_staff("zhangsan", name="小王", welcome=False)
        await stack.driver.customer_adds_staff("lisi", name="老李", welcome=False)
        await stack.run_jobs()
        wang = next(c.external_userid for c in corp.customers.values() if c.name == "小王")
        old = next(c.external_userid for c in corp.customers.values() if c.name == "老李")

        link = personal_url(stack.deps, activity.id, wang)
        query = link[link.index("?") :]
        base = f"{stack.app_url}/f/{activity.id}"
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as phone:
            async with phone.get(link) as r:
                assert r.status == 200
                page = await r.text()
            assert "参加活动" in page and "定制帆布袋" in page
            async with phone.post(
                base + "/join" + query, data={"token": join_token(page)}, allow_redirects=False
            ) as r:
                assert r.status == 303, await r.text()
            async with phone.get(link) as r:
                joined = await r.text()
            assert "我的助力进度" in joined and "分享时可以这样说：帮我扫一下，谢谢！" in joined
            async with phone.get(base + "/poster.png" + query) as r:
                assert r.status == 200 and r.content_type == "image/png"
                png = await r.read()

            participant = await FissionParticipant.get(activity_id=activity.id)
            assert (participant.external_userid, participant.name) == (wang, "小王")
            way = await ContactWay.get(feature="fission", owner_key=str(participant.id))
            assert way.state == f"f:{participant.code}" and len(way.state) <= 30
            assert sorted(corp.get_contact_way(way.config_id).users) == ["lisi", "zhangsan"]
            assert Image.open(io.BytesIO(png)).size == DEFAULT_SIZE
            box = layout_for({}, DEFAULT_SIZE)["qr"]
            assert qr_matches(png, box, add_url(stack.sandbox_url, way.config_id))

            # two new friends scan (each callback delivered twice), then the old customer
            for name in ("好友甲", "好友乙"):
                result = await stack.driver.customer_scans_contact_way(way.config_id, name=name)
                await stack.driver.deliver_raw(result.xml)
                await stack.run_jobs()
            result = await stack.driver.customer_scans_contact_way(way.config_id, old)
            await stack.run_jobs()

            await wait_until(lambda: len(corp.welcome_messages) == 3)
            texts = [str(m.payload["text"]["content"]) for m in corp.welcome_messages]
            assert all(t.startswith("你好，欢迎了解我们！") for t in texts), texts
            assert all(f"/f/{activity.id}?t=" in t for t in texts)
            assert "感谢你为 小王 助力" in texts[0] and "感谢你为 小王 助力" in texts[1]
            assert "老客户" in texts[2]

            assert await FissionHelp.filter(activity_id=activity.id).count() == 2
            outcomes = await FissionAttempt.filter(activity_id=activity.id).values_list(
                "outcome", flat=True
            )
            assert sorted(map(str, outcomes)) == ["counted", "counted", "old_customer"]
            award = await FissionAward.get(participant_id=participant.id)
            assert award.state is AwardState.WON
            assert (await FissionTier.get(activity_id=activity.id)).stock_left == 0

            async with phone.get(base + "/progress" + query) as r:
                body = await r.json()
            assert body["helps"] == 2 and body["won"] is True
            assert {h["name"] for h in body["helpers"]} == {"好友甲", "好友乙"}
            async with phone.get(link) as r:
                page = await r.text()
            assert "恭喜获得「定制帆布袋」" in page and "到店出示本页面领取" in page

            # a helper's own link shows the reason of their help
            helper = await FissionAttempt.get(helper=old)
            assert helper.outcome is Outcome.OLD_CUSTOMER
            helper_link = personal_url(stack.deps, activity.id, old)
            async with (
                aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as other,
                other.get(helper_link) as r,
            ):
                assert "你已是老客户" in await r.text()
        assert await Customer.filter(name="好友甲").exists()


async def test_staff_change_updates_every_way_in_place(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    from handlers.fission import participants

    async with running_stack(tmp_path, db_url, redis_server.url, corp=market_corp()) as stack:
        await sync_directory(stack)
        activity = await running_activity(stack)
        p = await participants.join(stack.deps, activity, "wm_someone")
        way = await participants.qr_way(stack.deps, activity, p)
        activity.staff = ["lisi", "zhangsan"][:1]
        await activity.save()
        assert await participants.update_ways(stack.deps, activity) == (1, 0)
        assert stack.corp.get_contact_way(way.config_id).users == ["lisi"]  # same QR code
        await stack.driver.customer_scans_contact_way(way.config_id, name="好友丙")
        assert (
            stack.corp.follows_of_customer(
                next(c.external_userid for c in stack.corp.customers.values() if c.name == "好友丙")
            )[0].userid
            == "lisi"
        )
        # a single-person way cannot take two: WeCom refuses, the way keeps its staff
        solo = await running_activity(stack, staff=["zhangsan"])
        q = await participants.join(stack.deps, solo, "wm_other")
        solo_way = await participants.qr_way(stack.deps, solo, q)
        solo.staff = ["zhangsan", "lisi"]
        await solo.save()
        assert await participants.update_ways(stack.deps, solo) == (0, 1)
        assert stack.corp.get_contact_way(solo_way.config_id).users == ["zhangsan"]
