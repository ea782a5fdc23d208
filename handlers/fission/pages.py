"""The customer's pages `/f/<activity>`: warm-up and sign-up before the start, join, my
poster, live progress (who helped, how many left, the next tier), won and how to redeem, and
ended. Who is looking comes from the visitor chain (OAuth, or the personal link the welcome or
a staff member sent); joining needs an identified visitor, never an id the page sends."""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from tortoise.exceptions import IntegrityError

from bot import visitor_oauth, visitors
from bot.client_address import client_address
from bot.deps import Deps
from bot.http import ApiError, RequestContext
from bot.visitors import Assurance, PersonalLink, PublicVisitor
from cards.fission import OUTCOME_LABELS, REASONS, render_page
from handlers.fission import participants, poster
from handlers.fission.router import FissionSettings, router
from storage.directory import Staff
from storage.facts import Customer
from storage.fission import (
    AwardState,
    FissionActivity,
    FissionAttempt,
    FissionAward,
    FissionHelp,
    FissionParticipant,
    FissionTier,
    FissionVisit,
)

log = logging.getLogger(__name__)
LINK_PURPOSE = "fission.link"
JOIN_PURPOSE = "fission.join"
_posters = poster.PosterCache()


def personal_token(deps: Deps, activity_id: int, external_userid: str) -> str:
    return deps.signer.dumps(LINK_PURPOSE, {"a": activity_id, "e": external_userid})


def personal_url(deps: Deps, activity_id: int, external_userid: str) -> str:
    """The customer's own link to the activity (sent in the welcome and by staff)."""
    return deps.url(f"/f/{activity_id}?t={personal_token(deps, activity_id, external_userid)}")


def _link(ctx: RequestContext, activity_id: int) -> PersonalLink | None:
    raw = ctx.request.query.get("t", "")
    body = ctx.deps.signer.loads(LINK_PURPOSE, raw) if 0 < len(raw) < 400 else None
    if not body or body.get("a") != activity_id or not isinstance(body.get("e"), str):
        return None
    return PersonalLink(f"fission.link:{activity_id}:{body['e']}", body["e"])


def phase(activity: FissionActivity, now: datetime) -> str:
    if now < activity.start_at.astimezone(UTC):
        return "upcoming"
    if now > activity.end_at.astimezone(UTC):
        return "ended"
    return "running"


def _page(status: int, name: str, **values: Any) -> web.Response:
    body = render_page(name, **values)
    response = web.Response(status=status, text=body, content_type="text/html", charset="utf-8")
    response.headers["Cache-Control"] = "no-store"
    return response


def _message(status: int, title: str, message: str) -> web.Response:
    return _page(status, "message.html", title=title, message=message)


async def _activity(ctx: RequestContext) -> FissionActivity | web.Response:
    raw = ctx.request.match_info.get("activity", "")
    activity = await FissionActivity.get_or_none(id=int(raw)) if raw.isdigit() else None
    if activity is None or not activity.published:
        return _message(404, "活动不存在", "该活动不存在或尚未发布。")
    return activity


async def _visitor(ctx: RequestContext, activity: FissionActivity, bind: bool) -> PublicVisitor:
    visitor = await visitors.identify(ctx)
    if (link := _link(ctx, activity.id)) is not None:
        await visitors.apply_link(ctx.deps, visitor, link, bind=bind)
    return visitor


def _local(deps: Deps, at: datetime) -> str:
    return at.astimezone(deps.settings.tz).strftime("%Y-%m-%d %H:%M")


async def progress(deps: Deps, activity: FissionActivity, p: FissionParticipant) -> dict[str, Any]:
    """What the participant sees: helpers, counts, the next tier, prizes won."""
    helps = await FissionHelp.filter(participant_id=p.id).order_by("added_at")
    counted = [h for h in helps if h.revoked_at is None]
    tiers = await FissionTier.filter(activity_id=activity.id).order_by("level")
    awards = {a.tier_id: a for a in await FissionAward.filter(participant_id=p.id)}
    nxt = next((t for t in tiers if t.helpers > len(counted) and t.id not in awards), None)
    staff = await Staff.get_or_none(userid=p.userid) if p.userid else None
    unnamed = [h.helper for h in helps if not h.helper_name]
    names = (
        dict(
            await Customer.filter(external_userid__in=unnamed).values_list(
                "external_userid", "name"
            )
        )
        if unnamed
        else {}
    )
    return {
        "helps": len(counted),
        "helpers": [
            {
                "name": h.helper_name or names.get(h.helper) or "好友",
                "at": _local(deps, h.added_at),
                "revoked": h.revoked_at is not None,
            }
            for h in helps
        ],
        "next": (
            {"prize": nxt.prize, "helpers": nxt.helpers, "left": nxt.helpers - len(counted)}
            if nxt
            else None
        ),
        "tiers": [
            {
                "level": t.level,
                "prize": t.prize,
                "helpers": t.helpers,
                "stock_left": t.stock_left,
                "state": str(awards[t.id].state) if t.id in awards else "",
                "redeem": t.redeem_text
                if t.id in awards and awards[t.id].state != AwardState.OUT_OF_STOCK
                else "",
            }
            for t in tiers
        ],
        "won": any(a.state != AwardState.OUT_OF_STOCK for a in awards.values()),
        "staff_name": staff.name if staff else "",
    }


async def _my_attempt(activity: FissionActivity, external_userid: str) -> dict[str, str] | None:
    """The visitor's own help in this activity, with its reason (shown to the helper)."""
    if not external_userid:
        return None
    attempt = (
        await FissionAttempt.filter(activity_id=activity.id, helper=external_userid)
        .order_by("-at")
        .first()
    )
    if attempt is None:
        return None
    inviter = await FissionParticipant.get_or_none(id=attempt.participant_id)
    return {
        "outcome": str(attempt.outcome),
        "label": OUTCOME_LABELS.get(str(attempt.outcome), ""),
        "reason": REASONS.get(str(attempt.outcome), ""),
        "inviter": inviter.name if inviter else "",
    }


async def _seen(ctx: RequestContext, activity: FissionActivity, visitor: PublicVisitor) -> None:
    """Remember which browser and address an identified customer used (once per pair)."""
    address = client_address(ctx.request, ctx.deps.settings.server.trusted_proxies)
    with contextlib.suppress(IntegrityError):
        await FissionVisit.create(
            activity_id=activity.id,
            external_userid=visitor.external_userid,
            visitor_id=visitor.id,
            address=ctx.deps.signer.mac("fission.address", address, length=22),
            seen_at=ctx.deps.now(),
        )


@router.get(r"/f/{activity:\d+}", role=None)
async def activity_page(ctx: RequestContext) -> web.StreamResponse:
    found = await _activity(ctx)
    if isinstance(found, web.Response):
        return found
    activity, deps = found, ctx.deps
    limit = deps.section(FissionSettings).page_per_minute
    if not visitors.allow(ctx, "fission.page", visitors.request_visitor_id(ctx), limit):
        return _message(429, "访问过于频繁", "您打开得太频繁了，请稍后再试。")
    visitor = await _visitor(ctx, activity, bind=True)
    token = ctx.request.query.get("t", "")[:400]
    if visitor_oauth.wanted(ctx, visitor) and visitor.assurance < Assurance.TOKEN:
        response: web.StreamResponse = visitor_oauth.authorize_redirect(
            deps, f"/f/{activity.id}/oauth", {"t": token}
        )
        visitors.keep(ctx, response, visitor)
        return response
    now = deps.now()
    state = phase(activity, now)
    me = None
    if visitor.assurance >= Assurance.TOKEN:
        await _seen(ctx, activity, visitor)
        me = await FissionParticipant.get_or_none(
            activity_id=activity.id, external_userid=visitor.external_userid
        )
    tiers = await FissionTier.filter(activity_id=activity.id).order_by("level")
    values: dict[str, Any] = {
        "activity": activity,
        "phase": state,
        "start": _local(deps, activity.start_at),
        "end": _local(deps, activity.end_at),
        "tiers": tiers,
        "identified": visitor.assurance >= Assurance.TOKEN,
        "me": me,
        "mine": await progress(deps, activity, me) if me else None,
        "helped": await _my_attempt(activity, visitor.external_userid),
        "join_token": deps.signer.dumps(
            JOIN_PURPOSE, {"v": visitor.id, "a": activity.id}, max_age=3600
        ),
        "config": {"activity": activity.id, "t": token, "participant": bool(me)},
        "query": f"?t={token}" if token else "",
    }
    response = _page(200, "page.html", **values)
    visitors.keep(ctx, response, visitor)
    return response


@router.get(r"/f/{activity:\d+}/oauth", role=None)
async def oauth_return(ctx: RequestContext) -> web.StreamResponse:
    found = await _activity(ctx)
    if isinstance(found, web.Response):
        return found
    visitor = await visitors.identify(ctx)
    await visitor_oauth.adopt(ctx, f"/f/{found.id}/oauth", visitor)
    location = visitor_oauth.return_location(
        f"/f/{found.id}", {"t": ctx.request.query.get("t", "")}
    )
    response = web.Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})
    visitors.write_cookie(ctx, response, visitor.id, tried=True)
    return response


@router.post(r"/f/{activity:\d+}/join", role=None, csrf=False)
async def join_view(ctx: RequestContext) -> web.StreamResponse:
    """Sign up (before the start) or join (running): an identified visitor only; the form's
    token is bound to this browser, so another site cannot make someone join."""
    found = await _activity(ctx)
    if isinstance(found, web.Response):
        return found
    activity, deps = found, ctx.deps
    form = await ctx.request.post()
    visitor = await _visitor(ctx, activity, bind=False)
    body = deps.signer.loads(JOIN_PURPOSE, str(form.get("token", "")))
    if not body or body.get("v") != visitor.id or body.get("a") != activity.id:
        return _message(400, "页面已过期", "请返回活动页面刷新后再参加。")
    if (refused := visitors.require(visitor, Assurance.TOKEN)) is not None:
        return refused
    if phase(activity, deps.now()) == "ended":
        return _message(409, "活动已结束", "该活动已结束，感谢关注。")
    await participants.join(deps, activity, visitor.external_userid)
    query = ctx.request.query.get("t", "")
    location = f"/f/{activity.id}" + (f"?t={query}" if query else "")
    return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


async def _participant(
    ctx: RequestContext,
) -> tuple[FissionActivity, FissionParticipant] | web.Response:
    found = await _activity(ctx)
    if isinstance(found, web.Response):
        return found
    visitor = await _visitor(ctx, found, bind=False)
    if visitor.assurance < Assurance.TOKEN:
        return web.json_response({"error": "需要确认身份"}, status=403)
    me = await FissionParticipant.get_or_none(
        activity_id=found.id, external_userid=visitor.external_userid
    )
    if me is None:
        return web.json_response({"error": "尚未参加活动"}, status=404)
    return found, me


@router.get(r"/f/{activity:\d+}/progress", role=None)
async def progress_view(ctx: RequestContext) -> web.StreamResponse:
    found = await _participant(ctx)
    if isinstance(found, web.Response):
        return found
    activity, me = found
    body = await progress(ctx.deps, activity, me) | {"phase": phase(activity, ctx.deps.now())}
    return web.json_response(body, headers={"Cache-Control": "no-store"})


@router.get(r"/f/{activity:\d+}/poster.png", role=None)
async def poster_view(ctx: RequestContext) -> web.StreamResponse:
    """The participant's poster; their contact way (or the activity's 获客链接) is made now if
    there is none yet."""
    found = await _participant(ctx)
    if isinstance(found, web.Response):
        return found
    activity, me = found
    deps = ctx.deps
    if phase(activity, deps.now()) != "running":
        raise ApiError(409, "活动未在进行中，暂不能生成海报")
    qr = await participants.poster_qr(deps, activity, me)
    key = (me.id, qr.key, activity.updated_at.timestamp(), me.name, me.avatar)
    png = _posters.get(key)
    if png is None:
        png = await poster.render(
            deps,
            background=activity.poster_bg,
            layout=activity.poster_layout,
            title=activity.name,
            nickname=me.name,
            qr_url=qr.image_url,
            qr_text=qr.text,
            avatar_url=me.avatar,
        )
        _posters.put(key, png)
    return web.Response(
        body=png, content_type="image/png", headers={"Cache-Control": "private, max-age=60"}
    )
