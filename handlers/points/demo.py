"""Demo content: a programme on the demo corp's first two customer groups, rewards with
pictures, three weeks of sign-ins (streaks, tiers, balances) played through the real rules
at past times, a profile filled in, and one redemption waiting for its staff member in the
sandbox inbox."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
import random
from datetime import time, timedelta

from PIL import Image, ImageDraw

from bot.deps import Deps
from bot.periods import at_local
from handlers.points import redeem, rules
from handlers.points.admin import image_dir
from handlers.points.config import ProgramConfig, Tier
from handlers.points.router import router
from storage.facts import CustomerGroup, GroupMember
from storage.points import PointsAccount, PointsProgram, PointsReward

log = logging.getLogger(__name__)
REWARDS = (
    ("定制帆布袋", 300, 20, (37, 99, 235)),
    ("品牌保温杯", 800, 5, (22, 163, 74)),
    ("50 元代金券", 1500, 10, (234, 88, 12)),
)


def _picture(name: str, color: tuple[int, int, int]) -> tuple[str, bytes]:
    img = Image.new("RGB", (480, 360), color)
    ImageDraw.Draw(img).ellipse((150, 90, 330, 270), fill=(255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    data = buf.getvalue()
    return hashlib.sha256(data + name.encode()).hexdigest()[:32] + ".jpg", data


def _at(deps: Deps, days_ago: int, hour: int) -> Deps:
    day = deps.local_now().date() - timedelta(days=days_ago)
    when = at_local(day, time(hour), deps.settings.tz)
    return dataclasses.replace(deps, clock=lambda: when)


@router.demo
async def seed(deps: Deps) -> None:
    if await PointsProgram.exists():
        return
    groups = await CustomerGroup.filter(status="active").order_by("chat_id").limit(2)
    chat_ids = [g.chat_id for g in groups]
    cfg = ProgramConfig(
        enabled=True,
        chat_ids=chat_ids,
        newcomer_points=100,
        signin_points=10,
        streak_tiers=[Tier(days=3, points=20), Tier(days=7, points=50)],
        cumulative_tiers=[Tier(days=10, points=60), Tier(days=20, points=150)],
        profile_points=20,
        profile_fields=["name", "phone"],
        expiry_mode="days",
        expiry_days=365,
        hold_hours=48,
    )
    start = at_local(deps.local_now().date() - timedelta(days=30), time(9), deps.settings.tz)
    await PointsProgram.create(
        id=1,
        config=cfg.model_dump(mode="json"),
        started_at=start,
        updated_at=start,
        updated_by="admin",
    )
    folder = image_dir(deps)
    rewards = []
    for order, (name, cost, stock, color) in enumerate(REWARDS):
        file, data = _picture(name, color)
        (folder / file).write_bytes(data)
        rewards.append(
            await PointsReward.create(
                name=name,
                cost=cost,
                stock=stock,
                image=f"/p-img/{file}",
                order=order,
                description="顾问会在 48 小时内联系您发放",
                created_at=start,
            )
        )
    members = sorted(
        {
            str(m)
            for m in await GroupMember.filter(chat_id__in=chat_ids, member_type=2).values_list(
                "member_id", flat=True
            )
        }
    )
    rng = random.Random(13)
    for n, ext in enumerate(members[:24]):
        joined = _at(deps, 22, 9)
        await rules._newcomer(joined, cfg, ext, "join")
        habit = rng.choice((0.95, 0.8, 0.6))
        for days_ago in range(21, -1, -1):
            if days_ago == 0 and n % 3 == 0:
                continue  # a few have not signed in yet today
            if rng.random() < habit:
                await rules.sign_in(_at(deps, days_ago, 8 + n % 10), ext)
        if n % 4 == 0:
            await rules.save_profile(_at(deps, 5, 20), ext, {"name": f"会员{n + 1}"})
    # the richest customer redeems: the card waits in their staff member's sandbox inbox
    rich = await PointsAccount.filter(balance__gte=rewards[0].cost).order_by("-balance").first()
    if rich is not None:
        await redeem.redeem(deps, rich.external_userid, rewards[0].id, "demo-redemption-1")
    log.info("points demo: programme on %d groups, %d customers", len(chat_ids), len(members))
