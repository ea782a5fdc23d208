"""The earn rules: 新人积分, daily sign-in with consecutive and cumulative tiers, 完善信息, and
zeroing when a customer leaves the last scoped group. Every award has a unique key:

- newcomer: `newcomer:<customer>` (once ever, by join or add)
- sign-in: `signin:<customer>:<local day>`
- consecutive tier: `streak:<customer>:<days>:<streak start>:<cycle>` (the cycle restarts
  after the last tier)
- cumulative tier: `cumul:<customer>:<days>:<period>`
- profile: `profile:<customer>:<field>` (once per field ever)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot import schedule
from bot.deps import Deps
from bot.domain_events import FollowAdded, GroupJoined, GroupQuit
from bot.http import ApiError
from bot.periods import at_local
from handlers.points import ledger
from handlers.points.config import PROFILE_FIELDS, ProgramConfig, program
from handlers.points.router import router
from storage.facts import CustomerGroup, GroupMember, GroupMembershipEvent
from storage.points import (
    EntryKind,
    PointsAccount,
    PointsBlock,
    PointsProfile,
    PointsProgram,
    PointsSignin,
)
from storage.schedule import ScheduledRun

log = logging.getLogger(__name__)


async def blocked(ext: str) -> bool:
    return await PointsBlock.exists(external_userid=ext)


async def started_at() -> datetime | None:
    row = await PointsProgram.get_or_none(id=1)
    return row.started_at if row is not None else None


def expires_at(deps: Deps, cfg: ProgramConfig, earned: datetime) -> datetime | None:
    """When points earned at `earned` expire: the end of the N-th local day after, or the end
    of the fixed date (no expiry when that date has passed)."""
    tz = deps.settings.tz
    if cfg.expiry_mode == "days":
        day = earned.astimezone(tz).date() + timedelta(days=cfg.expiry_days + 1)
        return at_local(day, time(0), tz)
    if cfg.expiry_mode == "date" and cfg.expiry_date is not None:
        end = at_local(cfg.expiry_date + timedelta(days=1), time(0), tz)
        return end if end > earned else None
    return None


async def award(
    deps: Deps,
    cfg: ProgramConfig,
    ext: str,
    amount: int,
    *,
    key: str,
    rule: str,
    reason: str,
    conn: Any = None,
    at: datetime | None = None,
    checked: bool = False,
    quota: ledger.Quota | None = None,
) -> ledger.Posted | None:
    """One rule's award: nothing for a blacklisted customer or a zero amount (`checked`: the
    caller checked the blacklist and holds the account lock)."""
    if amount <= 0 or (not checked and await blocked(ext)):
        return None
    when = at or deps.now()
    return await ledger.credit(
        deps,
        ext,
        amount,
        key=key,
        kind=EntryKind.EARN,
        rule=rule,
        reason=reason,
        expires_at=expires_at(deps, cfg, when),
        conn=conn,
        locked=checked,
        quota=quota,
    )


# --- scope ------------------------------------------------------------------------------------


async def scoped_groups_of(ext: str, cfg: ProgramConfig) -> list[str]:
    """The scoped groups the customer is in now (every group when none is chosen)."""
    rows = GroupMember.filter(member_id=ext, member_type=2)
    if cfg.chat_ids:
        rows = rows.filter(chat_id__in=cfg.chat_ids)
    return [str(c) for c in await rows.values_list("chat_id", flat=True)]


async def in_other_scoped_group(ext: str, chat_id: str, cfg: ProgramConfig, at: datetime) -> bool:
    """Whether, by the membership facts up to `at`, the customer is still in a scoped group
    other than `chat_id` (facts, not the live member table, so late delivery agrees)."""
    facts = GroupMembershipEvent.filter(member_id=ext, at__lte=at).exclude(chat_id=chat_id)
    if cfg.chat_ids:
        facts = facts.filter(chat_id__in=cfg.chat_ids)
    latest: dict[str, str] = {}
    for row in await facts.order_by("at", "id").values("chat_id", "kind"):
        latest[str(row["chat_id"])] = str(row["kind"])
    return any(kind == "join" for kind in latest.values())


# --- 新人积分 ---------------------------------------------------------------------------------


async def _newcomer(deps: Deps, cfg: ProgramConfig, ext: str, how: str) -> None:
    reason = "新人积分：首次入群" if how == "join" else "新人积分：首次添加"
    await award(
        deps, cfg, ext, cfg.newcomer_points, key=f"newcomer:{ext}", rule="newcomer", reason=reason
    )


async def _newcomers_since(cfg: ProgramConfig) -> datetime | None:
    """Newcomer points for joins and adds at or after this time: since the programme started
    (WeCom stamps events in whole seconds, from its own clock: a minute of slack), never for
    members a sync finds. None: no newcomer points."""
    start = await started_at()
    if not cfg.enabled or cfg.newcomer_points <= 0 or start is None:
        return None
    return start - timedelta(minutes=1)


@router.listen_batch(GroupJoined)
async def on_group_joined(deps: Deps, events: list[GroupJoined]) -> None:
    """The joins of a delivery job in order, the programme read once."""
    cfg, _ = await program()
    if cfg.newcomer_on == "add" or (since := await _newcomers_since(cfg)) is None:
        return
    for event in events:
        if event.member_type != 2 or event.at < since:
            continue
        if cfg.chat_ids and event.chat_id not in cfg.chat_ids:
            continue
        ext = event.member_id
        if cfg.newcomer_min_stay_hours:
            due = event.at + timedelta(hours=cfg.newcomer_min_stay_hours)
            key = f"{ext}:{event.chat_id}:{int(event.at.timestamp())}"
            payload = {"ext": ext, "chat_id": event.chat_id}
            await schedule.plan("points.newcomer", key, due, payload)
        else:
            await _newcomer(deps, cfg, ext, "join")


@router.scheduled("newcomer", title="新人积分（满足在群时长后发放）")
async def newcomer_after_stay(deps: Deps, run: ScheduledRun) -> None:
    ext, chat_id = str(run.payload["ext"]), str(run.payload["chat_id"])
    cfg, _ = await program()
    if not cfg.enabled or not await GroupMember.exists(chat_id=chat_id, member_id=ext):
        return  # left before the minimum stay: no points
    await _newcomer(deps, cfg, ext, "join")


@router.listen_batch(FollowAdded)
async def on_follow_added(deps: Deps, events: list[FollowAdded]) -> None:
    """The adds of a delivery job, the programme read once; a customer's newcomer points are
    one award (its key), so each customer is looked at once."""
    cfg, _ = await program()
    if cfg.newcomer_on == "join" or (since := await _newcomers_since(cfg)) is None:
        return
    customers = [e.external_userid for e in events if e.source == "callback" and e.at >= since]
    for ext in dict.fromkeys(customers):
        await _newcomer(deps, cfg, ext, "add")


# --- leaving ----------------------------------------------------------------------------------


@router.listen(GroupQuit)
async def on_group_quit(deps: Deps, event: GroupQuit) -> None:
    cfg, _ = await program()
    if event.member_type != 2 or not cfg.enabled or not cfg.zero_on_leave:
        return
    if cfg.chat_ids and event.chat_id not in cfg.chat_ids:
        return
    if await CustomerGroup.exists(chat_id=event.chat_id, status="dismissed"):
        return  # a dismissed group zeroes nobody
    ext = event.member_id
    if await in_other_scoped_group(ext, event.chat_id, cfg, event.at):
        return
    group = await CustomerGroup.get_or_none(chat_id=event.chat_id)
    name = group.name if group and group.name else "社群"
    await ledger.zero(
        deps,
        ext,
        key=f"zero:{event.chat_id}:{ext}:{int(event.at.timestamp())}",
        reason=f"退出「{name}」，已不在任何参与积分的群，积分清零",
    )


# --- sign-in ----------------------------------------------------------------------------------


@dataclass
class SigninResult:
    already: bool
    day: date
    streak: int
    awarded: list[tuple[str, int]] = field(default_factory=list)  # (reason, points)


def period_bounds(day: date, period: str) -> tuple[date, str]:
    """The first day of `day`'s cumulative period and the period's label."""
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return start, f"w{start:%Y-%m-%d}"
    if period == "year":
        return date(day.year, 1, 1), f"y{day.year}"
    return day.replace(day=1), f"m{day:%Y-%m}"


async def sign_in(deps: Deps, ext: str, *, visitor_id: str = "", address: str = "") -> SigninResult:
    cfg, _ = await program()
    if not cfg.enabled:
        raise ApiError(409, "积分活动未开启")
    if await blocked(ext):
        raise ApiError(403, "您的账号暂时不能参与积分活动，如有疑问请联系顾问")
    groups = await scoped_groups_of(ext, cfg)
    if not groups:
        raise ApiError(403, "加入参与积分活动的社群后才能签到")
    today = deps.local_now().date()
    try:
        async with in_transaction() as tx:
            account = await ledger.lock(tx, ext)
            if account.last_signin == today:
                return SigninResult(True, today, account.streak)
            if account.last_signin == today - timedelta(days=1):
                streak = account.streak + 1
                prev = (
                    await PointsSignin.filter(external_userid=ext, day=account.last_signin)
                    .using_db(tx)
                    .first()
                )
                start = prev.streak_start if prev is not None else today
            else:
                streak, start = 1, today
            await PointsSignin.create(
                external_userid=ext,
                day=today,
                streak=streak,
                streak_start=start,
                chat_id=groups[0],
                visitor_id=visitor_id[:32],
                address=address[:64],
                at=deps.now(),
                using_db=tx,
            )
            await (
                PointsAccount.filter(external_userid=ext)
                .using_db(tx)
                .update(streak=streak, last_signin=today, signin_days=account.signin_days + 1)
            )
            result = SigninResult(False, today, streak)
            posted = await _signin_awards(deps, cfg, tx, ext, today, streak, start, result)
    except IntegrityError:
        acc = await ledger.account(ext)
        return SigninResult(True, today, acc.streak)
    for p in posted:
        await ledger.after_credit(deps, p, expires_at(deps, cfg, p.entry.at))
    return result


async def _signin_awards(
    deps: Deps,
    cfg: ProgramConfig,
    tx: Any,
    ext: str,
    today: date,
    streak: int,
    start: date,
    result: SigninResult,
) -> list[ledger.Posted]:
    wanted: list[tuple[str, str, int, str]] = []  # (key, rule, points, reason)
    if cfg.signin_points:
        wanted.append((f"signin:{ext}:{today}", "signin", cfg.signin_points, "每日签到"))
    if cfg.streak_tiers:
        cycle_len = cfg.streak_tiers[-1].days
        pos, cycle = (streak - 1) % cycle_len + 1, (streak - 1) // cycle_len
        for tier in cfg.streak_tiers:
            if tier.days == pos:
                key = f"streak:{ext}:{tier.days}:{start}:{cycle}"
                wanted.append((key, "streak", tier.points, f"连续签到 {tier.days} 天"))
    if cfg.cumulative_tiers:
        first, label = period_bounds(today, cfg.cumulative_period)
        count = (
            await PointsSignin.filter(external_userid=ext, day__gte=first, day__lte=today)
            .using_db(tx)
            .count()
        )
        for tier in cfg.cumulative_tiers:
            if tier.days == count:
                name = {"week": "本周", "month": "本月", "year": "今年"}[cfg.cumulative_period]
                key = f"cumul:{ext}:{tier.days}:{label}"
                wanted.append((key, "cumulative", tier.points, f"{name}累计签到 {tier.days} 天"))
    posted = []
    for key, rule, points, reason in wanted:
        got = await award(
            deps, cfg, ext, points, key=key, rule=rule, reason=reason, conn=tx, checked=True
        )
        if got is not None:
            posted.append(got)
            result.awarded.append((reason, points))
    return posted


def current_streak(deps: Deps, last: date | None, streak: int) -> int:
    """The streak as of today: it lapses when yesterday was missed."""
    if last is None:
        return 0
    today = deps.local_now().date()
    return streak if last >= today - timedelta(days=1) else 0


# --- 完善信息 ---------------------------------------------------------------------------------


async def save_profile(deps: Deps, ext: str, values: dict[str, str]) -> list[tuple[str, int]]:
    """Store the form; each chosen field earns once ever, the first time it is filled."""
    cfg, _ = await program()
    row, _ = await PointsProfile.get_or_create(external_userid=ext)
    for name in PROFILE_FIELDS:
        if name in values:
            setattr(row, name, values[name].strip())
    row.updated_at = deps.now()
    await row.save()
    awarded: list[tuple[str, int]] = []
    if not cfg.enabled or not cfg.profile_points:
        return awarded
    for name in cfg.profile_fields:
        if getattr(row, name):
            label = f"完善信息：{PROFILE_FIELDS[name]}"
            got = await award(
                deps,
                cfg,
                ext,
                cfg.profile_points,
                key=f"profile:{ext}:{name}",
                rule="profile",
                reason=label,
            )
            if got is not None:
                awarded.append((label, cfg.profile_points))
    return awarded
