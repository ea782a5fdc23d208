"""An activity's data: the funnel (staff → participants → completed → new customers → prizes
redeemed), per staff member and per day, the invite tree, risk signals with a review queue, and
the Excel exports. Everything is derived from the fact rows."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from bot.auth_types import Role
from bot.deps import Deps
from bot.http import ApiError, RequestContext, json_ok, read_json, xlsx_response
from cards.fission import OUTCOME_LABELS
from handlers.fission.admin import BASE, load
from handlers.fission.router import router
from handlers.fission.schedule import staff_of
from storage.directory import Staff
from storage.facts import Customer
from storage.fission import (
    AwardState,
    FissionActivity,
    FissionAttempt,
    FissionAward,
    FissionHelp,
    FissionParticipant,
    FissionReview,
    FissionTier,
    FissionVisit,
)

BURST_WINDOW = timedelta(minutes=10)
BURST_HELPS = 5  # this many counted helps inside the window is a burst
QUICK_DELETES = 2  # this many revoked helps flags a participant
FRESH_CHAIN = 3  # helpers of theirs who joined and brought helpers within an hour
SHARED_DEVICE = 2  # customers on one browser
SHARED_ADDRESS = 3  # customers behind one address (a carrier NAT or an office is common)


def _day(at: datetime, tz: Any) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d")


async def _rows(
    activity: FissionActivity,
) -> tuple[list[FissionParticipant], list[FissionHelp], list[FissionAward]]:
    parts = await FissionParticipant.filter(activity_id=activity.id).order_by("joined_at", "id")
    helps = await FissionHelp.filter(activity_id=activity.id).order_by("added_at", "id")
    awards = await FissionAward.filter(activity_id=activity.id)
    return list(parts), list(helps), list(awards)


async def funnel(deps: Deps, activity: FissionActivity) -> dict[str, Any]:
    tz = deps.settings.tz
    parts, helps, awards = await _rows(activity)
    counted = [h for h in helps if h.revoked_at is None]
    completed = {a.participant_id for a in awards}
    redeemed = [a for a in awards if a.state is AwardState.GIVEN]
    owner = {p.id: p.userid for p in parts}
    staff = await staff_of(deps, activity)
    names = dict(
        await Staff.filter(userid__in=staff + [p.userid for p in parts]).values_list(
            "userid", "name"
        )
    )
    per_staff: dict[str, Counter[str]] = defaultdict(Counter)
    for p in parts:
        per_staff[p.userid]["participants"] += 1
    for pid in completed:
        per_staff[owner.get(pid, "")]["completed"] += 1
    for h in counted:
        per_staff[h.userid]["new_customers"] += 1
    for a in redeemed:
        per_staff[owner.get(a.participant_id, "")]["redeemed"] += 1
    per_day: dict[str, Counter[str]] = defaultdict(Counter)
    for p in parts:
        per_day[_day(p.joined_at, tz)]["participants"] += 1
    for h in counted:
        per_day[_day(h.added_at, tz)]["new_customers"] += 1
    for a in awards:
        per_day[_day(a.awarded_at, tz)]["completed"] += 1
    for a in redeemed:
        if a.given_at is not None:
            per_day[_day(a.given_at, tz)]["redeemed"] += 1
    keys = ("participants", "completed", "new_customers", "redeemed")
    return {
        "funnel": {
            "staff": len(staff),
            "participants": len(parts),
            "completed": len(completed),
            "new_customers": len(counted),
            "redeemed": len(redeemed),
        },
        "staff": [
            {"userid": u, "name": names.get(u, u)} | {k: c[k] for k in keys}
            for u, c in sorted(per_staff.items(), key=lambda kv: -kv[1]["new_customers"])
            if u
        ],
        "days": [{"day": d} | {k: c[k] for k in keys} for d, c in sorted(per_day.items())],
    }


async def tree(activity: FissionActivity) -> list[dict[str, Any]]:
    """Participants under the participant whose poster brought them; each with their counted
    helpers. Roots are the participants nobody brought."""
    parts, helps, _ = await _rows(activity)
    by_parent: dict[int | None, list[FissionParticipant]] = defaultdict(list)
    ids = {p.id for p in parts}
    for p in parts:
        by_parent[p.invited_by if p.invited_by in ids else None].append(p)
    helpers: dict[int, list[FissionHelp]] = defaultdict(list)
    for h in helps:
        helpers[h.participant_id].append(h)

    def node(p: FissionParticipant, depth: int) -> dict[str, Any]:
        return {
            "id": p.id,
            "name": p.name or "客户",
            "helps": sum(1 for h in helpers[p.id] if h.revoked_at is None),
            "helpers": [
                {"name": h.helper_name or "好友", "revoked": h.revoked_at is not None}
                for h in helpers[p.id]
            ],
            "children": [node(c, depth + 1) for c in by_parent[p.id]] if depth < 20 else [],
        }

    return [node(p, 0) for p in by_parent[None]]


async def risks(activity: FissionActivity) -> list[dict[str, Any]]:
    """Participants with signals worth a look before their prize is handed out: helpers who
    deleted quickly, bursts of helps, chains of fresh accounts."""
    parts, helps, awards = await _rows(activity)
    by_participant: dict[int, list[FissionHelp]] = defaultdict(list)
    for h in helps:
        by_participant[h.participant_id].append(h)
    joined = {p.external_userid: p for p in parts}
    pending = {a.participant_id for a in awards if a.state is AwardState.WON}
    reviews = {
        int(pid): str(decision)
        for pid, decision in await FissionReview.filter(activity_id=activity.id).values_list(
            "participant_id", "decision"
        )
    }
    seen: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for ext, visitor, address in await FissionVisit.filter(activity_id=activity.id).values_list(
        "external_userid", "visitor_id", "address"
    ):
        seen[str(ext)].append((str(visitor), str(address)))
    flagged = []
    for p in parts:
        mine = by_participant[p.id]
        signals = []
        revoked = sum(1 for h in mine if h.revoked_at is not None)
        if revoked >= QUICK_DELETES:
            signals.append(f"{revoked} 位好友助力后很快删除了员工")
        times = sorted(h.added_at.astimezone(UTC) for h in mine if h.revoked_at is None)
        burst = max(
            (
                sum(1 for t in times[i:] if t - start <= BURST_WINDOW)
                for i, start in enumerate(times)
            ),
            default=0,
        )
        if burst >= BURST_HELPS:
            signals.append(f"10 分钟内集中助力 {burst} 次")
        fresh = 0
        for h in mine:
            child = joined.get(h.helper)
            if child is None:
                continue
            first = min(
                (x.added_at.astimezone(UTC) for x in by_participant[child.id]), default=None
            )
            if first is not None and first - h.added_at.astimezone(UTC) <= timedelta(hours=1):
                fresh += 1
        if fresh >= FRESH_CHAIN:
            signals.append(f"{fresh} 位助力好友加入后立即拉来新的助力（新账号链）")
        signals += _shared(p, mine, seen)
        if signals:
            flagged.append(
                {
                    "participant_id": p.id,
                    "name": p.name or "客户",
                    "userid": p.userid,
                    "signals": signals,
                    "pending_prize": p.id in pending,
                    "review": reviews.get(p.id, ""),
                }
            )
    return flagged


def _shared(
    p: FissionParticipant, mine: list[FissionHelp], seen: dict[str, list[tuple[str, str]]]
) -> list[str]:
    """Helpers (and the participant) who opened the page from one browser or one address."""
    people = [p.external_userid, *{h.helper for h in mine if h.revoked_at is None}]
    devices: dict[str, set[str]] = defaultdict(set)
    addresses: dict[str, set[str]] = defaultdict(set)
    for ext in people:
        for visitor, address in seen.get(ext, []):
            devices[visitor].add(ext)
            addresses[address].add(ext)
    signals = []
    if (same := max((len(v) for v in devices.values()), default=0)) >= SHARED_DEVICE:
        signals.append(f"{same} 位助力相关客户使用同一设备打开活动页")
    if (same := max((len(v) for v in addresses.values()), default=0)) >= SHARED_ADDRESS:
        signals.append(f"{same} 位助力相关客户来自同一网络地址")
    return signals


@router.get(BASE + "/{id}/funnel", role=Role.DEPT_ADMIN)
async def funnel_view(ctx: RequestContext) -> web.StreamResponse:
    activity = await load(ctx)
    data = await funnel(ctx.deps, activity)
    if ctx.request.query.get("format") == "xlsx":
        which = ctx.request.query.get("by", "staff")
        if which not in ("staff", "days"):
            raise ApiError(400, "参数 by 只能是 staff 或 days", "by")
        first = ["员工", "员工账号"] if which == "staff" else ["日期"]
        head = [*first, "参与客户", "完成任务", "带来新客户", "已兑奖"]
        keys = ["name", "userid"] if which == "staff" else ["day"]
        rows = [
            [r[k] for k in keys]
            + [r["participants"], r["completed"], r["new_customers"], r["redeemed"]]
            for r in data[which]
        ]
        label = "按员工" if which == "staff" else "按日期"
        return xlsx_response(f"{activity.name}-{label}.xlsx", head, rows, ctx.deps.settings.tz)
    return json_ok(data)


@router.get(BASE + "/{id}/tree", role=Role.DEPT_ADMIN)
async def tree_view(ctx: RequestContext) -> web.StreamResponse:
    return json_ok({"roots": await tree(await load(ctx))})


@router.get(BASE + "/{id}/risks", role=Role.DEPT_ADMIN)
async def risks_view(ctx: RequestContext) -> web.StreamResponse:
    return json_ok({"items": await risks(await load(ctx))})


class ReviewIn(BaseModel):
    participant_id: int = Field(ge=1, title="参与客户")
    decision: str = Field(pattern="^(ok|hold)$", title="审核结果")


@router.post(BASE + "/{id}/risks/review", role=Role.DEPT_ADMIN)
async def review_view(ctx: RequestContext) -> web.StreamResponse:
    """Record the admin's look at a flagged participant: ok (hand out) or hold (do not)."""
    activity = await load(ctx)
    body = await read_json(ctx.request, ReviewIn)
    if not await FissionParticipant.exists(id=body.participant_id, activity_id=activity.id):
        raise ApiError(404, "参与客户不存在", "participant_id")
    assert ctx.user is not None
    values = {
        "decision": body.decision,
        "reviewed_by": ctx.user.userid,
        "reviewed_at": ctx.deps.now(),
    }
    if not await FissionReview.filter(participant_id=body.participant_id).update(**values):
        await FissionReview.get_or_create(
            defaults=values | {"activity_id": activity.id}, participant_id=body.participant_id
        )
        await FissionReview.filter(participant_id=body.participant_id).update(**values)
    return json_ok({"participant_id": body.participant_id, "review": body.decision})


@router.get(BASE + "/{id}/export", role=Role.DEPT_ADMIN)
async def export_view(ctx: RequestContext) -> web.StreamResponse:
    """Participants with their helps and prizes, or (`?what=attempts`) every help attempt."""
    activity = await load(ctx)
    tz = ctx.deps.settings.tz
    if ctx.request.query.get("what") == "attempts":
        attempts = await FissionAttempt.filter(activity_id=activity.id).order_by("at", "id")
        exts = {a.helper for a in attempts}
        names = dict(
            await Customer.filter(external_userid__in=exts).values_list("external_userid", "name")
        )
        owners = dict(
            await FissionParticipant.filter(activity_id=activity.id).values_list("id", "name")
        )
        rows = [
            [
                names.get(a.helper, a.helper),
                owners.get(a.participant_id, ""),
                a.userid,
                a.at,
                OUTCOME_LABELS.get(str(a.outcome), ""),
            ]
            for a in attempts
        ]
        head = ["助力好友", "为谁助力", "添加员工", "时间", "结果"]
        return xlsx_response(f"{activity.name}-助力记录.xlsx", head, rows, tz)
    parts, helps, awards = await _rows(activity)
    counts = Counter(h.participant_id for h in helps if h.revoked_at is None)
    tiers = {t.id: t.prize for t in await FissionTier.filter(activity_id=activity.id)}
    states = {
        AwardState.WON: "待发放",
        AwardState.GIVEN: "已发放",
        AwardState.OUT_OF_STOCK: "已发完",
    }
    prizes: dict[int, list[str]] = defaultdict(list)
    for a in awards:
        prizes[a.participant_id].append(f"{tiers.get(a.tier_id, '')}（{states[a.state]}）")
    rows = [
        [p.name, p.external_userid, p.userid, p.joined_at, counts[p.id], "、".join(prizes[p.id])]
        for p in parts
    ]
    head = ["客户", "客户ID", "负责员工", "参加时间", "有效助力", "奖品"]
    return xlsx_response(f"{activity.name}-参与客户.xlsx", head, rows, tz)
