"""雷达: a staff member asks the app for today's visits to the radars they sent."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time

from bot.deps import Deps
from bot.events import MenuClick, TextMessage
from bot.replies import MessageReply
from cards.radar import DaySummary, today_card
from handlers.radar.router import router
from storage.radar import Radar, Visit


async def today(deps: Deps, userid: str) -> DaySummary:
    local = deps.local_now()
    start = datetime.combine(local.date(), time(), tzinfo=deps.settings.tz).astimezone(UTC)
    rows = await Visit.filter(root_userid=userid, started_at__gte=start).values_list(
        "radar_id", "visitor_id", "external_userid"
    )
    per_radar = Counter(r[0] for r in rows)
    titles = dict(await Radar.filter(id__in=list(per_radar)).values_list("id", "title"))
    return DaySummary(
        visits=len(rows),
        visitors=len({r[1] for r in rows}),
        customers=len({r[2] for r in rows if r[2]}),
        by_radar=[(str(titles.get(rid, "雷达")), n) for rid, n in per_radar.most_common()],
    )


async def answer(deps: Deps, userid: str) -> MessageReply:
    day = await today(deps, userid)
    if not day.visits:
        return MessageReply.text(
            "今天还没有人打开你发出的雷达。在聊天工具栏发送雷达，客户打开时我会提醒你。"
        )
    return MessageReply.card(today_card(day, deps.url("/sidebar?open=radar")))


@router.text("雷达", "radar", description="今天我发出的雷达被打开了几次", order=20)
async def radar_command(deps: Deps, event: TextMessage, args: str) -> MessageReply:
    return await answer(deps, event.from_user)


@router.menu_click("今日雷达", key="radar.today", group="我的数据", order=20)
async def radar_click(deps: Deps, event: MenuClick) -> MessageReply:
    return await answer(deps, event.from_user)


router.menu_link("雷达数据", "/sidebar?open=radar", group="工作台", order=20)
