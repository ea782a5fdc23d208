"""Redemption: points held and stock taken in one transaction; the staff member who owns
the customer gets a card to fulfil it (已发放), or the hold is released after the timeout."""

from __future__ import annotations

import logging
from datetime import timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from bot import schedule
from bot.callback_data import CallbackData
from bot.conversation import send_once
from bot.deps import Deps
from bot.events import TemplateCardEvent
from bot.replies import CardReply, MessageReply
from cards.points import fulfilled_card, redemption_card
from handlers.points import ledger
from handlers.points.config import program
from handlers.points.router import router
from storage.directory import Staff
from storage.facts import Customer, FollowRelation
from storage.points import PointsRedemption, PointsReward, RedemptionState
from storage.schedule import ScheduledRun

log = logging.getLogger(__name__)
RELEASE_KIND = "points.release"


class Fulfil(CallbackData, prefix="points.done"):
    redemption_id: int


async def owner_of(ext: str) -> str:
    """The staff member who owns the customer: the earliest active follow."""
    rel = await FollowRelation.filter(external_userid=ext, active=True).order_by("added_at").first()
    return rel.userid if rel is not None else ""


async def redeem(deps: Deps, ext: str, reward_id: int, nonce: str) -> PointsRedemption:
    """Hold the cost and take one from stock, together or not at all; once per nonce (a
    double tap sends the same nonce)."""
    key = f"redeem:{ext}:{nonce[:64]}"
    if (found := await PointsRedemption.get_or_none(key=key)) is not None:
        return found
    cfg, _ = await program()
    if not cfg.enabled:
        raise ledger.LedgerRefused("积分活动未开启")
    owner = await owner_of(ext)
    now = deps.now()
    try:
        async with in_transaction() as tx:
            await ledger.lock(tx, ext)  # the account first, then the reward: one lock order
            reward = await PointsReward.get_or_none(id=reward_id, deleted=False, active=True)
            if reward is None:
                raise ledger.LedgerRefused("该奖品已下架", 404)
            taken = (
                await PointsReward.filter(id=reward_id, stock__gt=0)
                .using_db(tx)
                .update(stock=F("stock") - 1)
            )
            if not taken:
                raise ledger.LedgerRefused(f"「{reward.name}」已兑完")
            r = await PointsRedemption.create(
                key=key,
                external_userid=ext,
                reward_id=reward.id,
                reward_name=reward.name,
                cost=reward.cost,
                userid=owner,
                created_at=now,
                release_at=now + timedelta(hours=cfg.hold_hours),
                using_db=tx,
            )
            posted = await ledger.hold(
                tx,
                deps,
                ext,
                reward.cost,
                key=f"hold:{r.id}",
                ref=str(r.id),
                reason=f"兑换「{reward.name}」",
            )
    except IntegrityError:
        return await PointsRedemption.get(key=key)
    await schedule.plan(RELEASE_KIND, str(r.id), r.release_at)
    await ledger.announce(deps, posted)
    await notify_owner(deps, r)
    return r


async def notify_owner(deps: Deps, r: PointsRedemption) -> None:
    if not r.userid:
        return
    customer = await Customer.get_or_none(external_userid=r.external_userid)
    card = redemption_card(
        customer_name=customer.name if customer and customer.name else "客户",
        reward=r.reward_name,
        cost=r.cost,
        release_text=r.release_at.astimezone(deps.settings.tz).strftime("%m-%d %H:%M"),
        profile_url=deps.url(f"/sidebar?open=profile&external_userid={r.external_userid}"),
        task_id=f"points-redeem-{r.id}",
        done_key=Fulfil(redemption_id=r.id).pack(deps.signer),
    )
    await PointsRedemption.filter(id=r.id).update(card=card)
    try:
        await deps.wecom.send_template_card([r.userid], card)
    except Exception:
        log.warning("points: redemption card to %s failed", r.userid, exc_info=True)


async def release(deps: Deps, redemption_id: int, reason: str) -> ledger.Posted | None:
    """A pending redemption given up: points back, stock back; once."""
    async with in_transaction() as tx:
        moved = (
            await PointsRedemption.filter(id=redemption_id, state=RedemptionState.PENDING)
            .using_db(tx)
            .update(state=RedemptionState.RELEASED, done_at=deps.now())
        )
        if not moved:
            return None
        r = await PointsRedemption.filter(id=redemption_id).using_db(tx).get()
        await ledger.lock(tx, r.external_userid)
        await PointsReward.filter(id=r.reward_id).using_db(tx).update(stock=F("stock") + 1)
        posted = await ledger.release_locked(tx, deps, r, reason)
    if posted is not None:
        await ledger.announce(deps, posted)
    await schedule.cancel(RELEASE_KIND, key=str(redemption_id))
    await _tell_released(deps, r, reason)
    return posted


async def _tell_released(deps: Deps, r: PointsRedemption, reason: str) -> None:
    """The card cannot be changed without a click (WeCom needs the click's code), so its
    staff member gets a line saying the redemption is off; once per redemption."""
    if not r.userid:
        return
    customer = await Customer.get_or_none(external_userid=r.external_userid)
    name = customer.name if customer and customer.name else "客户"
    text = f"{name} 兑换的「{r.reward_name}」已取消：{reason}，无需再发放。"
    try:
        await send_once(
            deps, f"points.released:{r.id}", r.userid, "points.released", MessageReply.text(text)
        )
    except Exception:
        log.warning("points: the release notice to %s failed", r.userid, exc_info=True)


async def fulfil(deps: Deps, redemption_id: int, by: str) -> bool:
    """Mark a pending redemption 已发放; False when it was already done or released."""
    async with in_transaction() as tx:
        moved = (
            await PointsRedemption.filter(id=redemption_id, state=RedemptionState.PENDING)
            .using_db(tx)
            .update(state=RedemptionState.FULFILLED, fulfilled_by=by, done_at=deps.now())
        )
        if not moved:
            return False
        r = await PointsRedemption.filter(id=redemption_id).using_db(tx).get()
        posted = await ledger.spend_locked(tx, deps, r, by)
    await ledger.announce(deps, posted)
    await schedule.cancel(RELEASE_KIND, key=str(redemption_id))
    return True


@router.scheduled("release", title="积分兑换超时释放")
async def release_after_timeout(deps: Deps, run: ScheduledRun) -> None:
    await release(deps, int(run.key), "兑换超时未发放，积分已退回")


@router.button(Fulfil)
async def on_fulfil(deps: Deps, event: TemplateCardEvent, data: Fulfil) -> CardReply | None:
    """已发放: the first press fulfils; a retry answers the same card."""
    await fulfil(deps, data.redemption_id, event.from_user)
    r = await PointsRedemption.get_or_none(id=data.redemption_id)
    if r is None or r.state != RedemptionState.FULFILLED or r.fulfilled_by != event.from_user:
        return None
    staff = await Staff.get_or_none(userid=event.from_user)
    at = r.done_at.astimezone(deps.settings.tz).strftime("%H:%M") if r.done_at else ""
    card = fulfilled_card(r.card, staff.name if staff else event.from_user, at)
    return CardReply(card=card, userids=(r.userid,) if r.userid else ())
