"""The shared link `/p/-` (a group notice) with the service account configured: a customer
who opens it in WeChat goes through OAuth once and can sign in, and earns 关注公众号 points once
the service account says they follow it; someone WeChat says is not a
customer, or who denies, can look but not earn; the console says the group-notice link works."""

from __future__ import annotations

import time
from pathlib import Path

from bot.embedded_redis import EmbeddedRedis
from bot.sandbox.corp import Corp
from bot.sandbox.mp import MP_APP_ID, MP_SECRET
from bot.settings import WeChatMpSettings
from handlers.points.admin import entry_points
from storage.facts import GroupMember
from storage.points import PointsAccount, PointsProgram
from tests.harness import running_stack
from tests.radar.test_wechat_oauth import open_in_wechat, wechat

ANN, CARL = "wmPointsAnn0001", "wmPointsCarl003"
PAGE = {"X-Points-Page": "1"}


def oauth_corp() -> Corp:
    corp = Corp()
    corp.add_staff("alice", "艾丽丝")
    corp.add_customer("安娜", ANN, unionid="oUnionPointsAnn00000000001")
    corp.add_customer("卡尔", CARL, unionid="oUnionPointsCarl0000000003")  # not a customer yet
    corp.add_follow("alice", ANN, "", 1, int(time.time()) - 86400)
    return corp


async def test_the_group_notice_link_credits_through_the_service_account(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, corp=oauth_corp()) as stack:
        stack.settings.wechat_mp = WeChatMpSettings(
            app_id=MP_APP_ID,
            secret=MP_SECRET,
            oauth_base=stack.sandbox_url,
            api_base=stack.sandbox_url,
        )
        for _, hook in stack.deps.dispatcher.hooks("sync"):
            await hook(stack.deps)
        now = stack.deps.now()
        config = {"enabled": True, "chat_ids": ["wr_notice"], "signin_points": 10, "mp_points": 20}
        await PointsProgram.create(id=1, config=config, started_at=now, updated_at=now)
        for ext in (ANN, CARL):
            await GroupMember.create(
                chat_id="wr_notice", member_id=ext, member_type=2, join_time=now
            )
        link = f"{stack.app_url}/p/-"
        async with wechat() as ann, wechat() as carl, wechat() as denied:
            status, _, via = await open_in_wechat(ann, link, ANN)
            assert (status, via) == (200, "oauth")
            again = await ann.get(link, allow_redirects=False)
            assert again.status == 200  # no second round through OAuth
            state = await (await ann.get(link + "/api/state")).json()
            assert state["identity"]["level"] == "oauth" and state["identity"]["can_earn"]
            signed = await ann.post(link + "/api/signin", headers=PAGE)
            assert (await signed.json())["awarded"] == [{"reason": "每日签到", "points": 10}]
            # 关注公众号: checked with the service account for this browser's openid
            early = await ann.post(link + "/api/follow-mp", headers=PAGE)
            assert early.status == 409 and "还没有关注公众号" in (await early.json())["error"]
            stack.corp.mp_followers.add(ANN)
            for _ in range(2):
                got = await ann.post(link + "/api/follow-mp", headers=PAGE)
                assert got.status == 200
            state = await (await ann.get(link + "/api/state")).json()
            assert state["me"]["mp"] is True and state["me"]["balance"] == 30

            status, _, via = await open_in_wechat(carl, link, CARL)
            assert via == "oauth" and status == 200
            state = await (await carl.get(link + "/api/state")).json()
            assert state["identity"]["can_earn"] is False
            assert "允许获取身份信息" in state["identity"]["why"]
            refused = await carl.post(link + "/api/signin", headers=PAGE)
            assert refused.status == 403

            status, _, via = await open_in_wechat(denied, link)
            assert status == 200
            assert (await denied.post(link + "/api/signin", headers=PAGE)).status == 403
        assert (await PointsAccount.get(external_userid=ANN)).balance == 30
        assert not await PointsAccount.exists(external_userid=CARL)
        notice = entry_points(stack.deps)[1]
        assert notice["works"] is True and "已配置服务号网页授权" in notice["detail"]
