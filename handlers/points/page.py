"""The customer page `/p/<token>` opened in WeChat: sign in, balance, streak, calendar,
history, what expires when, the profile form, rewards and redemption.

Who is looking comes from the platform's visitor chain: the service account's OAuth, or the
customer's personal link (`/p/<external_userid>.<mac>`, sent in the welcome message, bound to
the first browser that opens it). A shared link (`/p/-`, e.g. in a group notice) identifies
nobody without OAuth: such a visitor can look but not earn, and the page says why."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from bot import visitor_oauth, visitors
from bot.client_address import client_address
from bot.deps import Deps
from bot.http import ApiError, RequestContext, json_ok, read_json
from bot.visitors import Assurance, PersonalLink, PublicVisitor
from cards.points import render_page
from handlers.points import follows, redeem, rules
from handlers.points.config import PROFILE_FIELDS, program
from handlers.points.router import PointsSettings, router
from storage.points import (
    PointsAccount,
    PointsEntry,
    PointsLot,
    PointsProfile,
    PointsRedemption,
    PointsReward,
    PointsSignin,
)

LINK_PURPOSE = "points.link"
SHARED = "-"
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{16}$")
PAGE_HEADER = "X-Points-Page"  # a custom header: a cross-site form cannot send it
KIND_TEXT = {
    "earn": "获得",
    "spend": "兑换",
    "hold": "兑换冻结",
    "release": "退回",
    "expire": "过期",
    "zero": "清零",
    "import": "导入",
    "manual": "调整",
    "reverse": "撤销",
}


def personal_path(deps: Deps, ext: str) -> str:
    """The customer's own link (for the welcome message or a one-to-one share)."""
    return f"/p/{ext}.{deps.signer.mac(LINK_PURPOSE, ext, 16)}"


def _link_owner(deps: Deps, token: str) -> str:
    if token == SHARED or not TOKEN_RE.match(token):
        return ""
    ext, _, mac = token.rpartition(".")
    return ext if deps.signer.verify_mac(LINK_PURPOSE, ext, mac, length=16) else ""


def _token(ctx: RequestContext) -> str:
    token = ctx.request.match_info.get("token", SHARED)
    if token != SHARED and not _link_owner(ctx.deps, token):
        raise ApiError(404, "链接无效，请向顾问获取新的链接")
    return token


async def _who(ctx: RequestContext, token: str, *, bind: bool) -> PublicVisitor:
    visitor = await visitors.identify(ctx)
    ext = _link_owner(ctx.deps, token)
    if ext:
        link = PersonalLink(f"{LINK_PURPOSE}:{ext}", ext)
        await visitors.apply_link(ctx.deps, visitor, link, bind=bind)
    return visitor


def _message(status: int, title: str, message: str) -> web.Response:
    body = render_page("message.html", title=title, message=message)
    return web.Response(status=status, text=body, content_type="text/html", charset="utf-8")


@router.get("/p", role=None)
async def shared_entry(ctx: RequestContext) -> web.StreamResponse:
    return web.Response(status=302, headers={"Location": f"/p/{SHARED}"})


@router.get(r"/p/{token}", role=None)
async def page(ctx: RequestContext) -> web.StreamResponse:
    token = ctx.request.match_info["token"]
    if token != SHARED and not _link_owner(ctx.deps, token):
        return _message(404, "链接无效", "该链接不存在或已失效，请联系您的顾问获取新的链接。")
    limit = ctx.deps.section(PointsSettings).actions_per_minute * 4
    if not visitors.allow(ctx, "points.open", visitors.request_visitor_id(ctx), limit):
        return _message(429, "访问过于频繁", "您打开得太频繁了，请稍后再试。")
    visitor = await _who(ctx, token, bind=False)
    if visitor.assurance < Assurance.OAUTH and visitor_oauth.wanted(ctx, visitor):
        response: web.StreamResponse = visitor_oauth.authorize_redirect(
            ctx.deps, f"/p/{token}/oauth", {}
        )
        visitors.keep(ctx, response, visitor)
        return response
    visitor = await _who(ctx, token, bind=True)
    body = render_page("page.html", title="社群积分", base=f"/p/{token}")
    response = web.Response(text=body, content_type="text/html", charset="utf-8")
    response.headers["Cache-Control"] = "no-store"
    visitors.keep(ctx, response, visitor)
    return response


@router.get(r"/p/{token}/oauth", role=None)
async def oauth_return(ctx: RequestContext) -> web.StreamResponse:
    token = _token(ctx)
    visitor = await visitors.identify(ctx)
    await visitor_oauth.adopt(ctx, f"/p/{token}/oauth", visitor)
    location = visitor_oauth.return_location(f"/p/{token}", {})
    response = web.Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})
    visitors.write_cookie(ctx, response, visitor.id, tried=True)
    return response


# --- the page's data ----------------------------------------------------------------------


def _why(deps: Deps, visitor: PublicVisitor) -> str:
    if visitor.assurance >= Assurance.TOKEN:
        return ""
    if deps.settings.wechat_mp.enabled:
        return (
            "请在微信中打开此页面并允许获取身份信息，或点开顾问发给您的专属链接，即可签到和兑换。"
        )
    return "请点开顾问发给您的专属积分链接（不要使用群公告或别人转发的链接），即可签到和兑换。"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


async def _me(deps: Deps, ext: str, cfg: Any) -> dict[str, Any]:
    acc = await PointsAccount.get_or_none(external_userid=ext)
    today = deps.local_now().date()
    month_start = today.replace(day=1)
    days: list[date] = []
    for d in await PointsSignin.filter(
        external_userid=ext, day__gte=min(month_start, today - timedelta(days=366))
    ).values_list("day", flat=True):
        if isinstance(d, date):
            days.append(d)
    first, _ = rules.period_bounds(today, cfg.cumulative_period)
    entries = await PointsEntry.filter(external_userid=ext).order_by("-at", "-id").limit(50)
    lots = await PointsLot.filter(
        external_userid=ext, remaining__gt=0, expires_at__isnull=False
    ).order_by("expires_at")
    expiring: dict[str, int] = {}
    for lot in lots:
        if lot.expires_at is None:
            continue
        # shown as the last day the points can be used
        last = (lot.expires_at.astimezone(deps.settings.tz) - timedelta(seconds=1)).date()
        expiring[last.isoformat()] = expiring.get(last.isoformat(), 0) + int(lot.remaining)
    profile = await PointsProfile.get_or_none(external_userid=ext)
    earned_fields = {
        str(k).rsplit(":", 1)[-1]
        for k in await PointsEntry.filter(external_userid=ext, rule="profile").values_list(
            "key", flat=True
        )
    }
    redemptions = await PointsRedemption.filter(external_userid=ext).order_by("-id").limit(20)
    return {
        "balance": int(acc.balance) if acc else 0,
        "held": int(acc.held) if acc else 0,
        "streak": rules.current_streak(deps, acc.last_signin, acc.streak) if acc else 0,
        "signin_days": acc.signin_days if acc else 0,
        "period_days": len([d for d in days if d >= first]),
        "signed_today": bool(acc and acc.last_signin == today),
        "today": today.isoformat(),
        "calendar": sorted(str(d) for d in days if d >= month_start),
        "history": [
            {
                "at": _iso(e.at),
                "amount": int(e.amount),
                "kind": KIND_TEXT.get(e.kind, e.kind),
                "reason": e.reason,
            }
            for e in entries
        ],
        "expiring": [{"day": d, "points": p} for d, p in expiring.items()],
        "profile": {name: getattr(profile, name) if profile else "" for name in PROFILE_FIELDS},
        "profile_earned": sorted(earned_fields),
        "redemptions": [
            {
                "id": r.id,
                "reward": r.reward_name,
                "cost": r.cost,
                "state": r.state,
                "at": _iso(r.created_at),
            }
            for r in redemptions
        ],
    }


@router.get(r"/p/{token}/api/state", role=None)
async def state(ctx: RequestContext) -> web.StreamResponse:
    token = _token(ctx)
    visitor = await _who(ctx, token, bind=False)
    cfg, _ = await program()
    rewards = await PointsReward.filter(deleted=False, active=True).order_by("order", "cost", "id")
    ext = visitor.external_userid
    can_earn = bool(ext) and visitor.assurance >= Assurance.TOKEN
    data: dict[str, Any] = {
        "enabled": cfg.enabled,
        "identity": {
            "level": visitor.assurance.label,
            "can_earn": can_earn,
            "why": _why(ctx.deps, visitor),
        },
        "rules": {
            "signin_points": cfg.signin_points,
            "streak_tiers": [t.model_dump() for t in cfg.streak_tiers],
            "cumulative_tiers": [t.model_dump() for t in cfg.cumulative_tiers],
            "cumulative_period": cfg.cumulative_period,
            "profile_points": cfg.profile_points,
            "profile_fields": [{"name": f, "label": PROFILE_FIELDS[f]} for f in cfg.profile_fields],
            "newcomer_points": cfg.newcomer_points,
            "channels_points": cfg.channels_points,
            "mp_points": cfg.mp_points if ctx.deps.settings.wechat_mp.enabled else 0,
        },
        "rewards": [
            {
                "id": r.id,
                "name": r.name,
                "cost": r.cost,
                "stock": r.stock,
                "image": r.image,
                "description": r.description,
            }
            for r in rewards
        ],
        "me": await _me(ctx.deps, ext, cfg) if can_earn else None,
    }
    if data["me"] is not None:
        data["me"]["channels"] = await follows.state_of(ext)
        data["me"]["mp"] = await PointsEntry.exists(key=f"follow:mp:{ext}")
    return json_ok(data)


async def _actor(ctx: RequestContext) -> tuple[str, PublicVisitor]:
    """The customer behind a page action: a custom header (no cross-site forms), a rate
    limit, and the chain sure enough to credit."""
    if ctx.request.headers.get(PAGE_HEADER) != "1":
        raise ApiError(403, "请从积分页面操作")
    token = _token(ctx)
    vid = visitors.request_visitor_id(ctx)
    limit = ctx.deps.section(PointsSettings).actions_per_minute
    if not visitors.allow(ctx, "points.act", vid, limit):
        raise ApiError(429, "操作太频繁了，请稍后再试")
    visitor = await _who(ctx, token, bind=False)
    if not visitor.external_userid or visitor.assurance < Assurance.TOKEN:
        raise ApiError(403, _why(ctx.deps, visitor) or "无法确认您的身份")
    return visitor.external_userid, visitor


@router.post(r"/p/{token}/api/signin", role=None, csrf=False)
async def sign_in(ctx: RequestContext) -> web.StreamResponse:
    ext, visitor = await _actor(ctx)
    address = client_address(ctx.request, ctx.deps.settings.server.trusted_proxies)
    result = await rules.sign_in(ctx.deps, ext, visitor_id=visitor.id, address=address)
    return json_ok(
        {
            "already": result.already,
            "streak": result.streak,
            "awarded": [{"reason": r, "points": p} for r, p in result.awarded],
        }
    )


class ProfileForm(BaseModel):
    name: str = Field("", max_length=32, title="姓名")
    phone: str = Field("", max_length=20, pattern=r"^(1\d{10})?$", title="手机号")
    wechat: str = Field("", max_length=40, title="微信号")
    address: str = Field("", max_length=200, title="地址")


@router.post(r"/p/{token}/api/profile", role=None, csrf=False)
async def save_profile(ctx: RequestContext) -> web.StreamResponse:
    ext, _ = await _actor(ctx)
    form = await read_json(ctx.request, ProfileForm)
    awarded = await rules.save_profile(ctx.deps, ext, form.model_dump())
    return json_ok({"awarded": [{"reason": r, "points": p} for r, p in awarded]})


class RedeemForm(BaseModel):
    reward_id: int = Field(ge=1, title="奖品")
    nonce: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", title="请求编号")


@router.post(r"/p/{token}/api/redeem", role=None, csrf=False)
async def redeem_reward(ctx: RequestContext) -> web.StreamResponse:
    ext, _ = await _actor(ctx)
    form = await read_json(ctx.request, RedeemForm)
    r = await redeem.redeem(ctx.deps, ext, form.reward_id, form.nonce)
    return json_ok({"id": r.id, "reward": r.reward_name, "cost": r.cost, "state": r.state})


@router.post(r"/p/{token}/api/follow-channels", role=None, csrf=False)
async def follow_channels(ctx: RequestContext) -> web.StreamResponse:
    ext, _ = await _actor(ctx)
    return json_ok(await follows.claim(ctx.deps, ext))


@router.post(r"/p/{token}/api/follow-mp", role=None, csrf=False)
async def follow_mp(ctx: RequestContext) -> web.StreamResponse:
    ext, visitor = await _actor(ctx)
    openid = visitor.row.openid if visitor.row is not None else ""
    return json_ok(await follows.claim_mp(ctx.deps, ext, openid))
