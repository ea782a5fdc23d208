"""Demo data: a running activity with a poster, and a chain of helpers played through the
sandbox WeCom (adds by QR code with the participant's state, the welcome inside its window),
so the normal pipeline (callback → facts → FollowAdded → credit → won card) runs end to end."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.deps import Deps
from bot.sandbox.player import sandbox_enabled, sandbox_player
from handlers.fission import participants, schedule
from handlers.fission.router import router
from storage.directory import Staff
from storage.fission import FissionActivity, FissionParticipant, FissionTier

log = logging.getLogger(__name__)
DEMO_NAME = "好友助力领好礼"
STARTER = ("wm_demo_fission_starter", "陈小雨")
FRIENDS = ["周一鸣", "吴思远", "郑可欣"]
SECOND_LEVEL = ["冯晓彤", "孙佳怡"]


async def _play(deps: Deps, action: str, body: dict[str, object]) -> None:
    async with sandbox_player(deps.settings.wecom.api_base) as play:
        await play(action, body)


async def play_chain(deps: Deps, activity: FissionActivity) -> FissionParticipant:
    """The starter joins and three friends scan their poster (the third wins the first tier);
    the first friend joins in turn and two of their friends scan; the starter scans their own
    poster (refused: self)."""
    ext, name = STARTER
    await _play(
        deps,
        "customer_adds_staff",
        {"userid": activity.staff[0], "external_userid": ext, "name": name, "welcome": False},
    )
    starter = await participants.join(deps, activity, ext)
    if not starter.name:
        await FissionParticipant.filter(id=starter.id).update(name=name)
        starter.name = name
    way = await participants.qr_way(deps, activity, starter)
    for i, friend in enumerate(FRIENDS):
        friend_ext = f"wm_demo_fission_f{i}"
        await _play(
            deps,
            "customer_scans_contact_way",
            {"config_id": way.config_id, "external_userid": friend_ext, "name": friend},
        )
    await _play(
        deps, "customer_scans_contact_way", {"config_id": way.config_id, "external_userid": ext}
    )
    second = await participants.join(deps, activity, "wm_demo_fission_f0", invited_by=starter.id)
    if not second.name:
        await FissionParticipant.filter(id=second.id).update(name=FRIENDS[0])
    second_way = await participants.qr_way(deps, activity, second)
    for i, friend in enumerate(SECOND_LEVEL):
        await _play(
            deps,
            "customer_scans_contact_way",
            {
                "config_id": second_way.config_id,
                "external_userid": f"wm_demo_fission_s{i}",
                "name": friend,
            },
        )
    return starter


@router.demo
async def seed(deps: Deps) -> None:
    if await FissionActivity.filter(name=DEMO_NAME).exists():
        return
    staff = [
        str(u)
        for u in await Staff.filter(status=1).order_by("userid").values_list("userid", flat=True)
    ]
    if not staff:
        return
    now = deps.now()
    activity = await FissionActivity.create(
        name=DEMO_NAME,
        start_at=now - timedelta(days=1),
        end_at=now + timedelta(days=6),
        rules="1. 参加活动后生成专属海报，分享给好友。\n2. 好友扫码添加顾问即为助力成功，每位好友限助力一次。\n3. 仅限新朋友助力；助力后 24 小时内删除顾问的助力无效。",
        published=True,
        new_only=True,
        revoke_hours=24,
        staff=staff[:2],
        welcome_text="你好！感谢添加，我是你的专属顾问。",
        options={
            "staff_script": "邀请你的客户参加「好友助力领好礼」，邀请 3 位好友即可领取定制帆布袋。"
        },
        created_by="",
    )
    for level, (helpers, prize, stock, redeem) in enumerate(
        [
            (3, "定制帆布袋", 50, "联系你的顾问，到店出示本页面领取"),
            (6, "保温杯", 10, "联系你的顾问登记地址后寄出"),
        ],
        start=1,
    ):
        await FissionTier.create(
            activity_id=activity.id,
            level=level,
            helpers=helpers,
            prize=prize,
            stock=stock,
            stock_left=stock,
            redeem_text=redeem,
        )
    await schedule.plan_runs(deps, activity)
    if sandbox_enabled(deps.settings.wecom.api_base):
        try:
            await play_chain(deps, activity)
        except Exception:
            log.exception("fission demo: the chain of helpers could not be played")
