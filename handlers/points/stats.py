"""The console's numbers: per-group daily sign-ins and join / leave counts (for the charts),
the home tile, and abuse signals for review (many customers from one device or address,
新人积分 farmed by join / leave churn, a burst of earning after a rule change)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, time, timedelta
from typing import Any

from aiohttp import web

from bot.auth_types import Principal, Role
from bot.deps import Deps
from bot.home import today
from bot.http import RequestContext, int_param, json_ok
from bot.periods import at_local
from bot.router_types import Tile
from handlers.points.config import program
from handlers.points.router import router
from storage.facts import Customer, CustomerGroup, GroupMembershipEvent
from storage.points import PointsBlock, PointsEntry, PointsProgram, PointsSignin

SHARED_DEVICE = 3  # customers signing in from one browser or address in the window
CHURN_QUITS = 2  # quits from scoped groups in the window, with newcomer points


def _days(deps: Deps, count: int) -> list[date]:
    last = deps.local_now().date()
    return [last - timedelta(days=n) for n in range(count - 1, -1, -1)]


@router.get("/api/points/stats", role=Role.ADMIN)
async def stats(ctx: RequestContext) -> web.StreamResponse:
    deps = ctx.deps
    tz = deps.settings.tz
    days = _days(deps, int_param(ctx.request, "days", 14, 1, 90))
    cfg, _ = await program()
    groups = (
        CustomerGroup.all() if not cfg.chat_ids else CustomerGroup.filter(chat_id__in=cfg.chat_ids)
    )
    names = {str(c): str(n) for c, n in await groups.values_list("chat_id", "name")}
    signins: dict[str, Counter[str]] = defaultdict(Counter)
    rows = await PointsSignin.filter(day__gte=days[0], chat_id__in=list(names)).values_list(
        "chat_id", "day"
    )
    for chat, day in rows:
        signins[str(chat)][str(day)] += 1
    start = at_local(days[0], time(0), tz).astimezone(UTC)
    joins: dict[str, Counter[str]] = defaultdict(Counter)
    quits: dict[str, Counter[str]] = defaultdict(Counter)
    facts = await GroupMembershipEvent.filter(
        at__gte=start, member_type=2, chat_id__in=list(names)
    ).values_list("chat_id", "kind", "at")
    for chat, kind, at in facts:
        day = str(at.astimezone(tz).date())
        (joins if kind == "join" else quits)[str(chat)][day] += 1
    labels = [str(d) for d in days]
    return json_ok(
        {
            "days": labels,
            "groups": [
                {
                    "chat_id": chat,
                    "name": name or chat,
                    "signins": [signins[chat][d] for d in labels],
                    "joins": [joins[chat][d] for d in labels],
                    "quits": [quits[chat][d] for d in labels],
                }
                for chat, name in sorted(names.items(), key=lambda kv: kv[1])
            ],
        }
    )


@router.tile
async def points_tiles(deps: Deps, user: Principal) -> list[Tile]:
    if user.role < Role.ADMIN:
        return []
    cfg, _ = await program()
    if not cfg.enabled:
        return []
    day = deps.local_now().date()
    start, end = today(deps)
    signed = await PointsSignin.filter(day=day).count()
    earned = await PointsEntry.filter(at__gte=start, at__lt=end, amount__gt=0, kind="earn").count()
    return [
        Tile("今日签到", signed, link="#社群积分", order=60),
        Tile("今日积分发放笔数", earned, link="#社群积分", order=61),
    ]


# --- abuse signals --------------------------------------------------------------------------


async def signals(deps: Deps, window_days: int = 30) -> dict[str, Any]:
    since_day = deps.local_now().date() - timedelta(days=window_days)
    since = at_local(since_day, time(0), deps.settings.tz).astimezone(UTC)
    blocked = {str(e) for e in await PointsBlock.all().values_list("external_userid", flat=True)}
    shared: list[dict[str, Any]] = []
    rows = await PointsSignin.filter(day__gte=since_day).values_list(
        "visitor_id", "address", "external_userid"
    )
    for index, label in ((0, "同一设备"), (1, "同一网络地址")):
        by: dict[str, set[str]] = defaultdict(set)
        for row in rows:
            if row[index]:
                by[str(row[index])].add(str(row[2]))
        for key, members in by.items():
            if len(members) >= SHARED_DEVICE:
                shared.append({"kind": label, "key": key, "customers": sorted(members)})
    quits = Counter(
        str(m)
        for m in await GroupMembershipEvent.filter(
            kind="quit", member_type=2, at__gte=since
        ).values_list("member_id", flat=True)
    )
    churners = [e for e, n in quits.items() if n >= CHURN_QUITS]
    farmed = await PointsEntry.filter(rule="newcomer", external_userid__in=churners).values_list(
        "external_userid", flat=True
    )
    churn = [{"external_userid": str(e), "quits": quits[str(e)]} for e in farmed]
    burst = await _burst(deps)
    exts: set[str] = {str(c["external_userid"]) for c in churn}
    for found in shared:
        exts.update(found["customers"])
    names = {
        str(e): str(n)
        for e, n in await Customer.filter(external_userid__in=sorted(exts)).values_list(
            "external_userid", "name"
        )
    }
    return {
        "shared": shared,
        "churn": churn,
        "burst": burst,
        "names": names,
        "blocked": sorted(blocked & exts),
    }


async def _burst(deps: Deps) -> dict[str, Any] | None:
    """Earning in the day after the last rule change against the week before it."""
    row = await PointsProgram.get_or_none(id=1)
    if row is None or row.updated_at is None or row.version < 2:
        return None
    changed = row.updated_at
    after = await PointsEntry.filter(
        kind="earn", at__gte=changed, at__lt=changed + timedelta(days=1)
    ).count()
    before = await PointsEntry.filter(
        kind="earn", at__gte=changed - timedelta(days=7), at__lt=changed
    ).count()
    daily = before / 7
    return {
        "changed_at": changed.isoformat(),
        "after": after,
        "daily_before": round(daily, 1),
        "flagged": after >= 20 and after > 3 * max(daily, 1),
    }


@router.get("/api/points/signals", role=Role.ADMIN)
async def signals_view(ctx: RequestContext) -> web.StreamResponse:
    window = int_param(ctx.request, "days", 30, 1, 180)
    return json_ok(await signals(ctx.deps, window))
