"""排名 (my places in the running activities) and the 即将上榜 card's 查看我的客户 button."""

from __future__ import annotations

from bot.deps import Deps
from bot.events import MenuClick, TemplateCardEvent, TextMessage
from bot.replies import CardReply, MessageReply
from cards.leaderboard import (
    CardActivity,
    Standing,
    crossing_card,
    my_customers_card,
    ranks_card,
)
from handlers.leaderboard import counting, notify
from handlers.leaderboard.notify import MyCustomers
from handlers.leaderboard.router import router
from storage.facts import Customer
from storage.leaderboard import Activity, Participant


async def my_standings(deps: Deps, userid: str) -> list[tuple[CardActivity, Standing]]:
    now = deps.now()
    ids = await Participant.filter(userid=userid).values_list("activity_id", flat=True)
    running = await Activity.filter(
        id__in=list(ids), deleted=False, start_at__lte=now, end_at__gt=now
    ).order_by("end_at")
    out = []
    for activity in running:
        row = await counting.live_rank(deps.redis, activity, userid)
        if row is None:
            continue
        cutoff = await notify.cutoff_row(deps, activity)
        me = notify.make_standing(row, cutoff, activity.top_n)
        out.append((notify.card_activity(deps, activity), me))
    return out


async def answer(deps: Deps, userid: str) -> MessageReply:
    mine = await my_standings(deps, userid)
    if not mine:
        return MessageReply.text("你目前没有参加进行中的拉新排行榜活动。")
    return MessageReply.card(ranks_card(mine, deps.url("/sidebar?open=leaderboard")))


@router.button(MyCustomers)
async def show_my_customers(
    deps: Deps, event: TemplateCardEvent, data: MyCustomers
) -> CardReply | None:
    """The card as it was, with my latest credited customers of the activity in it."""
    activity = await Activity.get_or_none(id=data.activity_id, deleted=False)
    if activity is None:
        return None
    if not await Participant.filter(activity_id=activity.id, userid=event.from_user).exists():
        return None
    facts = await counting.credited_facts(activity, event.from_user)
    facts.sort(key=lambda f: f[2], reverse=True)
    latest = facts[:5]
    names = dict(
        await Customer.filter(external_userid__in=[f[1] for f in latest]).values_list(
            "external_userid", "name"
        )
    )
    tz, fmt = deps.settings.tz, "%m-%d %H:%M"
    rows = [(str(names.get(f[1], "")), f[2].astimezone(tz).strftime(fmt)) for f in latest]
    me = await counting.live_rank(deps.redis, activity, event.from_user)
    cutoff = await notify.cutoff_row(deps, activity)
    standing = notify.make_standing(me, cutoff, activity.top_n) if me else Standing(0, 0)
    url = notify.page_url(deps, activity.id)
    base = crossing_card("about_to_rank", notify.card_activity(deps, activity), standing, url)
    return CardReply(card=my_customers_card(base, rows, len(facts)))


@router.text("排名", "rank", "排行", description="我在进行中的排行榜里的名次", order=10)
async def rank_command(deps: Deps, event: TextMessage, args: str) -> MessageReply:
    return await answer(deps, event.from_user)


@router.menu_click("我的排名", key="lb.rank", group="我的数据", order=10)
async def rank_click(deps: Deps, event: MenuClick) -> MessageReply:
    return await answer(deps, event.from_user)


router.menu_link("排行榜", "/sidebar?open=leaderboard", group="工作台", order=10)
