"""关注公众号 and 关注视频号 points.

关注公众号: checked with the service account (`cgi-bin/user/info` for the visitor's openid from
its OAuth), awarded once per customer ever. 关注视频号: a customer says they follow the company's 视频号 (WeChat cannot tell us),
so the award is once per customer ever, capped per day across customers, and — when the
programme says so — waits for the owning staff member to press 确认 on a card."""

from __future__ import annotations

import contextlib

from tortoise.exceptions import IntegrityError

from bot import visitor_oauth
from bot.callback_data import CallbackData
from bot.deps import Deps
from bot.events import TemplateCardEvent
from bot.http import ApiError
from bot.replies import CardReply
from cards.points import claim_card, confirmed_card
from handlers.points import ledger, rules
from handlers.points.config import ProgramConfig, program
from handlers.points.redeem import owner_of
from handlers.points.router import router
from storage.directory import Staff
from storage.facts import Customer
from storage.points import PointsClaim, PointsEntry

KIND = "channels"


class ConfirmFollow(CallbackData, prefix="points.follow"):
    claim_id: int


def award_key(ext: str) -> str:
    return f"follow:{KIND}:{ext}"


async def _award(deps: Deps, cfg: ProgramConfig, ext: str) -> int:
    quota = ledger.Quota(
        f"{KIND}:{deps.local_now().date().isoformat()}",
        cfg.channels_daily_cap,
        "今日关注视频号积分名额已发完，请明天再来领取",
    )
    got = await rules.award(
        deps,
        cfg,
        ext,
        cfg.channels_points,
        key=award_key(ext),
        rule=KIND,
        reason="关注视频号",
        quota=quota,
    )
    return cfg.channels_points if got is not None else 0


async def claim(deps: Deps, ext: str) -> dict[str, object]:
    """The customer's 我已关注视频号: award now, or ask the owning staff member."""
    cfg, _ = await program()
    if not cfg.enabled or not cfg.channels_points:
        raise ApiError(409, "当前没有关注视频号积分活动")
    if await PointsEntry.exists(key=award_key(ext)):
        return {"state": "awarded", "points": 0}
    confirmed = await PointsClaim.exists(external_userid=ext, kind=KIND, state="confirmed")
    if not cfg.channels_confirm or confirmed:
        return {"state": "awarded", "points": await _award(deps, cfg, ext)}
    owner = await owner_of(ext)
    if not owner:
        raise ApiError(409, "请先添加顾问的企业微信，由顾问为您确认")
    try:
        row = await PointsClaim.create(
            external_userid=ext, kind=KIND, userid=owner, created_at=deps.now()
        )
    except IntegrityError:
        return {"state": "pending", "points": 0}
    customer = await Customer.get_or_none(external_userid=ext)
    card = claim_card(
        customer_name=customer.name if customer and customer.name else "客户",
        points=cfg.channels_points,
        profile_url=deps.url(f"/sidebar?open=profile&external_userid={ext}"),
        task_id=f"points-claim-{row.id}",
        confirm_key=ConfirmFollow(claim_id=row.id).pack(deps.signer),
    )
    await PointsClaim.filter(id=row.id).update(card=card)
    await deps.wecom.send_template_card([owner], card)
    return {"state": "pending", "points": 0}


async def state_of(ext: str) -> str:
    if await PointsEntry.exists(key=award_key(ext)):
        return "awarded"
    if await PointsClaim.exists(external_userid=ext, kind=KIND):
        return "pending"
    return ""


@router.button(ConfirmFollow)
async def on_confirm(deps: Deps, event: TemplateCardEvent, data: ConfirmFollow) -> CardReply | None:
    """确认: the first press confirms and awards (the award's key makes a retry a no-op)."""
    await PointsClaim.filter(id=data.claim_id, state="pending").update(
        state="confirmed", confirmed_by=event.from_user, confirmed_at=deps.now()
    )
    row = await PointsClaim.get_or_none(id=data.claim_id)
    if row is None or row.state != "confirmed" or row.confirmed_by != event.from_user:
        return None
    cfg, _ = await program()
    if cfg.enabled and cfg.channels_points:
        # over today's cap: confirmed all the same, the customer claims again tomorrow
        with contextlib.suppress(ApiError):
            await _award(deps, cfg, row.external_userid)
    staff = await Staff.get_or_none(userid=event.from_user)
    at = row.confirmed_at.astimezone(deps.settings.tz).strftime("%H:%M") if row.confirmed_at else ""
    card = confirmed_card(row.card, staff.name if staff else event.from_user, at)
    return CardReply(card=card, userids=(row.userid,) if row.userid else ())


async def claim_mp(deps: Deps, ext: str, openid: str) -> dict[str, object]:
    """The customer's 领取关注公众号积分, verified through the service account."""
    cfg, _ = await program()
    if not cfg.enabled or not cfg.mp_points or not deps.settings.wechat_mp.enabled:
        raise ApiError(409, "当前没有关注公众号积分活动")
    key = f"follow:mp:{ext}"
    if await PointsEntry.exists(key=key):
        return {"state": "awarded", "points": 0}
    if not openid:
        raise ApiError(403, "请在微信中打开此页面并允许获取身份信息，以便确认您已关注公众号")
    follows_mp = await visitor_oauth.subscribed(deps, openid)
    if follows_mp is None:
        raise ApiError(503, "暂时无法确认关注状态，请稍后再试")
    if not follows_mp:
        raise ApiError(409, "还没有关注公众号：请先关注公众号，再回来领取积分")
    got = await rules.award(deps, cfg, ext, cfg.mp_points, key=key, rule="mp", reason="关注公众号")
    return {"state": "awarded", "points": cfg.mp_points if got is not None else 0}
