"""The page behind an alert for a customer the sending staff member does not follow (a forward
reached someone else's customer): what the sender may see of this lead — who, what they read,
who forwarded it, whose customer they are — and how to take them on. The full 客户画像 stays
with the staff who follow the customer."""

from __future__ import annotations

from aiohttp import web

from bot.auth_types import Role
from bot.http import RequestContext, message_page
from cards.radar import duration_text, render_page
from handlers.radar.router import router
from storage.directory import Staff
from storage.facts import Customer, FollowRelation
from storage.radar import Radar, Visit


def lead_path(visit_id: str) -> str:
    return f"/radar/lead/{visit_id}"


async def follows(userid: str, external_userid: str) -> bool:
    return await FollowRelation.exists(userid=userid, external_userid=external_userid, active=True)


@router.get(r"/radar/lead/{visit}", role=Role.STAFF)
async def lead_page(ctx: RequestContext) -> web.StreamResponse:
    assert ctx.user is not None
    visit = await Visit.get_or_none(id=ctx.request.match_info.get("visit", "")[:32])
    if (
        visit is None
        or not visit.external_userid
        or (visit.root_userid != ctx.user.userid and not ctx.user.sees_all)
    ):
        return message_page(404, "线索不存在", "该线索不存在，或不是您发出的雷达带来的。")
    ext, tz = visit.external_userid, ctx.deps.settings.tz
    customer = await Customer.get_or_none(external_userid=ext)
    radar = await Radar.get_or_none(id=visit.radar_id)
    mine = await Visit.filter(external_userid=ext, root_userid=visit.root_userid).order_by(
        "started_at"
    )
    owners = await FollowRelation.filter(external_userid=ext, active=True).values_list(
        "userid", flat=True
    )
    names = await Staff.filter(userid__in=list(owners)).values_list("name", flat=True)
    body = render_page(
        "lead.html",
        title="雷达线索",
        customer_name=customer.name if customer and customer.name else "未知客户",
        radar_title=radar.title if radar else "",
        level=visit.level,
        visits=len(mine),
        first=mine[0].started_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if mine else "",
        last=mine[-1].started_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if mine else "",
        longest=duration_text(max((v.duration_seconds for v in mine), default=0)),
        advisors="、".join(str(n) for n in names) or "其他成员",
        followed=await follows(ctx.user.userid, ext),
    )
    return web.Response(text=body, content_type="text/html", charset="utf-8")
