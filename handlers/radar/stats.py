"""Analytics API: per radar (overview, levels, rankings, funnel, customers, paths, network,
staff, PDF drop-off), batch tagging and Excel export; staff see only their own shares."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

import pydantic
from aiohttp import web

from bot.auth_types import Principal, Role
from bot.http import (
    ApiError,
    RequestContext,
    day_param,
    json_ok,
    page_params,
    read_json,
    scope_userids,
    xlsx_response,
)
from bot.router import Router
from handlers.facts import mark_tags
from handlers.radar import analysis
from handlers.radar.common import get_radar, int_param
from handlers.radar.followup import _tag_owner
from storage.directory import Staff
from storage.facts import Customer
from storage.radar import Radar, Share, Visit

FIELDS = (
    "visitor_id",
    "external_userid",
    "parent_visitor_id",
    "level",
    "root_userid",
    "channel",
    "started_at",
    "duration_seconds",
    "progress",
    "max_page",
)
CHANNELS = {"single": "单聊", "group": "群聊", "forward": "客户转发"}


def _user(ctx: RequestContext) -> Principal:
    assert ctx.user is not None
    return ctx.user


async def _rows(ctx: RequestContext, radar_id: int) -> list[dict[str, Any]]:
    query = Visit.filter(radar_id=radar_id)
    scope = await scope_userids(_user(ctx))
    if scope is not None:
        query = query.filter(root_userid__in=sorted(scope))
    return list(await query.values(*FIELDS))


async def _sends(ctx: RequestContext, radar_id: int) -> dict[str, int]:
    query = Share.filter(radar_id=radar_id)
    scope = await scope_userids(_user(ctx))
    if scope is not None:
        query = query.filter(userid__in=sorted(scope))
    out: dict[str, int] = {}
    for uid in await query.values_list("userid", flat=True):
        out[str(uid)] = out.get(str(uid), 0) + 1
    return out


class Names:
    """Display names for people (customers, anonymous visitors) and staff, loaded once."""

    def __init__(self, customers: dict[str, str], staff: dict[str, str]) -> None:
        self.customers, self.staff = customers, staff

    @classmethod
    async def load(cls, folks: dict[str, analysis.Person]) -> Names:
        exts = [p.external_userid for p in folks.values() if p.external_userid]
        rows = await Customer.filter(external_userid__in=exts).values_list(
            "external_userid", "name"
        )
        staff = await Staff.all().values_list("userid", "name")
        return cls({str(k): str(v) for k, v in rows}, {str(k): str(v) for k, v in staff})

    def person(self, p: analysis.Person) -> str:
        if p.external_userid:
            return self.customers.get(p.external_userid) or p.external_userid
        return f"访客{p.key[:6]}"

    def staff_name(self, userid: str) -> str:
        return self.staff.get(userid, userid)


def _midnight(ctx: RequestContext) -> datetime:
    local = ctx.deps.local_now()
    return datetime.combine(local.date(), time(0), tzinfo=local.tzinfo)


async def overview_view(ctx: RequestContext) -> web.StreamResponse:
    radar = await get_radar(int_param(ctx))
    rows = await _rows(ctx, radar.id)
    sends = await _sends(ctx, radar.id)
    folks = analysis.people(rows)
    overview = analysis.overview(rows, _midnight(ctx), sum(sends.values()))
    if ctx.request.query.get("live") == "1":  # the console's live refresh: numbers only
        return json_ok({"overview": overview, "levels": analysis.levels(folks)})
    names = await Names.load(folks)
    seconds = _seconds(ctx)

    def rank(key: Any) -> list[dict[str, Any]]:
        top = sorted(folks.values(), key=key)[:10]
        return [
            {"key": p.key, "name": names.person(p), "visits": p.visits, "duration": p.duration}
            for p in top
        ]

    pages = sum(int(f.get("pages", 0)) for f in radar.files)
    return json_ok(
        {
            "radar": {
                "id": radar.id,
                "name": radar.name,
                "title": radar.title,
                "type": radar.type.value,
                "measured": radar.type.value != "link",
            },
            "overview": overview,
            "levels": analysis.levels(folks),
            "rank_visits": rank(lambda p: (-p.visits, p.key)),
            "rank_duration": rank(lambda p: (-p.duration, p.key)),
            "funnel": analysis.funnel(folks, sum(sends.values()), seconds),
            "pages": analysis.page_dropoff(folks, pages) if radar.type.value == "pdf" else [],
            "staff": [
                s | {"name": names.staff_name(s["userid"])}
                for s in analysis.staff_rows(rows, sends)
            ],
        }
    )


def _seconds(ctx: RequestContext) -> int:
    raw = ctx.request.query.get("seconds", "10")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6 or int(raw) > 86_400:
        raise ApiError(400, "查看时长必须是 0 到 86400 之间的整数（秒）", "seconds")
    return int(raw)


async def _customer_rows(ctx: RequestContext) -> tuple[list[dict[str, Any]], Names]:
    radar = await get_radar(int_param(ctx))
    folks = analysis.people(await _rows(ctx, radar.id))
    names = await Names.load(folks)
    q = ctx.request.query
    text, staff = q.get("q", "").strip()[:64], q.get("userid", "").strip()
    tz = ctx.deps.settings.tz
    since, until = day_param(ctx.request, "since", tz), day_param(ctx.request, "until", tz)
    out = []
    for p in sorted(
        folks.values(), key=lambda p: p.last_at.timestamp() if p.last_at else 0.0, reverse=True
    ):
        name = names.person(p)
        local = p.last_at.astimezone(tz) if p.last_at else None
        if text and text not in name and text != p.external_userid:
            continue
        if staff and p.staff != staff:
            continue
        if local and since and local.date() < since.date():
            continue
        if local and until and local.date() > until.date():
            continue
        out.append(
            {
                "key": p.key,
                "name": name,
                "external_userid": p.external_userid,
                "staff": p.staff,
                "staff_name": names.staff_name(p.staff),
                "level": p.level,
                "last_at": p.last_at,
                "last_duration": p.last_duration,
                "best_progress": p.best_progress,
                "last_channel": CHANNELS.get(p.last_channel, ""),
                "visits": p.visits,
                "brought": len(p.children),
            }
        )
    return out, names


async def customers_view(ctx: RequestContext) -> web.StreamResponse:
    rows, _ = await _customer_rows(ctx)
    page, size = page_params(ctx.request)
    return json_ok({"total": len(rows), "items": rows[(page - 1) * size : page * size]})


async def customers_export(ctx: RequestContext) -> web.StreamResponse:
    rows, _ = await _customer_rows(ctx)
    headers = [
        "客户",
        "所属成员",
        "客户层级",
        "最近访问时间",
        "最近查看时长(秒)",
        "最久查看进度(%)",
        "最近点击渠道",
        "访问总次数",
        "分享客户数",
    ]
    data = [
        [
            r["name"],
            r["staff_name"],
            f"{r['level']}级",
            r["last_at"],
            r["last_duration"],
            r["best_progress"],
            r["last_channel"],
            r["visits"],
            r["brought"],
        ]
        for r in rows
    ]
    return xlsx_response("雷达客户分析.xlsx", headers, data, ctx.deps.settings.tz)


async def person_view(ctx: RequestContext) -> web.StreamResponse:
    """The source path (staff → … → this person) and the social network below them."""
    radar = await get_radar(int_param(ctx))
    folks = analysis.people(await _rows(ctx, radar.id))
    key = ctx.request.match_info["key"]
    if key not in folks:
        raise ApiError(404, "该客户没有访问过这个雷达")
    names = await Names.load(folks)
    chain = analysis.path_to(folks, key)
    root = folks[chain[0]].staff
    path = [{"name": names.staff_name(root), "kind": "staff"}] + [
        {"name": names.person(folks[k]), "kind": "customer", "level": folks[k].level, "key": k}
        for k in chain
    ]
    return json_ok({"path": path, "network": analysis.tree(folks, key, names.person)})


class TagIn(pydantic.BaseModel):
    external_userids: list[str] = pydantic.Field(min_length=1, max_length=200)
    tag_ids: list[str] = pydantic.Field(min_length=1, max_length=20)


async def batch_tag(ctx: RequestContext) -> web.StreamResponse:
    body = await read_json(ctx.request, TagIn)
    user = _user(ctx)
    done, skipped = 0, []
    for ext in dict.fromkeys(body.external_userids):
        owner = await _tag_owner(user.userid, ext)
        if owner is None:
            skipped.append(ext)
            continue
        await mark_tags(
            ctx.deps,
            userid=owner,
            external_userid=ext,
            add=body.tag_ids,
            remove=[],
            by=user.userid,
            feature="radar",
        )
        done += 1
    return json_ok({"tagged": done, "skipped": skipped})


async def mine_view(ctx: RequestContext) -> web.StreamResponse:
    """The sidebar: my sends and how the customers I sent to opened them."""
    me = _user(ctx).userid
    shares = await Share.filter(userid=me).values_list("radar_id", flat=True)
    visits = await Visit.filter(root_userid=me).values(*FIELDS, "radar_id")
    radars = {
        r.id: r for r in await Radar.filter(id__in=set(shares) | {v["radar_id"] for v in visits})
    }
    out: list[dict[str, Any]] = []
    for rid, radar in radars.items():
        rows = [v for v in visits if v["radar_id"] == rid]
        folks = analysis.people(rows)
        out.append(
            {
                "id": rid,
                "title": radar.title,
                "deleted": radar.deleted,
                "sends": sum(1 for s in shares if s == rid),
                "visits": len(rows),
                "visitors": len(folks),
            }
        )
    out.sort(key=lambda r: (-r["visits"], -r["sends"]))
    return json_ok({"radars": out})


async def profile_view(ctx: RequestContext) -> web.StreamResponse:
    """The customer profile block: this customer's radar visits that I may see."""
    ext = ctx.request.query.get("external_userid", "").strip()[:64]
    if not ext:
        raise ApiError(400, "缺少客户 ID", "external_userid")
    query = Visit.filter(external_userid=ext)
    scope = await scope_userids(_user(ctx))
    if scope is not None:
        query = query.filter(root_userid__in=sorted(scope))
    rows = await query.order_by("-started_at").limit(50).values(*FIELDS, "radar_id")
    titles = dict(
        await Radar.filter(id__in={r["radar_id"] for r in rows}).values_list("id", "title")
    )
    items = [
        {
            "radar_id": r["radar_id"],
            "title": titles.get(r["radar_id"], ""),
            "at": r["started_at"],
            "duration": r["duration_seconds"],
            "progress": r["progress"],
            "level": r["level"],
        }
        for r in rows
    ]
    return json_ok({"items": items})


def register(router: Router) -> None:
    rid = r"/api/radar/radars/{id:\d+}"
    router.get(rid + "/stats", role=Role.STAFF)(overview_view)
    router.get(rid + "/customers", role=Role.STAFF)(customers_view)
    router.get(rid + "/customers.xlsx", role=Role.STAFF)(customers_export)
    router.get(rid + r"/people/{key:[A-Za-z0-9_-]{1,64}}", role=Role.STAFF)(person_view)
    router.post("/api/radar/tags", role=Role.ADMIN)(batch_tag)
    router.get("/api/radar/mine", role=Role.STAFF)(mine_view)
    router.get("/api/radar/profile", role=Role.STAFF)(profile_view)
