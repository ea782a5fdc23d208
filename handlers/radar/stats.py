"""Analytics API: per radar (overview, levels, rankings, funnel, customers, paths, network,
staff, PDF drop-off), batch tagging and Excel export; staff see only their own shares."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pydantic
from aiohttp import web
from tortoise.functions import Count

from bot.auth_types import Principal, Role
from bot.http import (
    ApiError,
    RequestContext,
    XlsxWriter,
    day_param,
    json_ok,
    page_params,
    read_json,
    scope_userids,
)
from handlers.facts import mark_tags
from handlers.radar import network, queries
from handlers.radar.common import get_radar, int_param
from handlers.radar.followup import _tag_owner
from handlers.radar.router import router
from storage.directory import Staff
from storage.facts import Customer
from storage.radar import Radar, Share, Visit
from storage.sql import fetch_dicts

EXPORT_LIMIT = 200_000
RADAR_PATH = r"/api/radar/radars/{id:\d+}"
PROFILE_FIELDS = ("radar_id", "started_at", "duration_seconds", "progress", "level")
CHANNELS = {"single": "单聊", "group": "群聊", "forward": "客户转发"}
EXPORT_CHUNK = 2000


def _user(ctx: RequestContext) -> Principal:
    assert ctx.user is not None
    return ctx.user


async def _scope(ctx: RequestContext) -> set[str] | None:
    return await scope_userids(_user(ctx))


async def _sends(radar_id: int, scope: set[str] | None) -> tuple[dict[str, int], int]:
    """Sends per staff member, and how many distinct customers they went to (single chats)."""
    query = Share.filter(radar_id=radar_id)
    if scope is not None:
        query = query.filter(userid__in=sorted(scope))
    per = await query.group_by("userid").annotate(n=Count("id")).values("userid", "n")
    reached = (
        await query.filter(external_userid__not="")
        .distinct()
        .values_list("external_userid", flat=True)
    )
    return {str(r["userid"]): int(r["n"]) for r in per}, len(reached)


class Names:
    """Display names for people (customers, anonymous visitors) and staff."""

    def __init__(self, customers: dict[str, str], staff: dict[str, str], avatars: dict[str, str]):
        self.customers, self.staff, self.avatars = customers, staff, avatars

    @classmethod
    async def load(cls, keys: Iterable[str], staff: Iterable[str] = ()) -> Names:
        exts = sorted({k for k in keys if k})
        rows = await Customer.filter(external_userid__in=exts).values_list(
            "external_userid", "name", "avatar"
        )
        people = await Staff.filter(userid__in=sorted(set(staff))).values_list("userid", "name")
        return cls(
            {str(k): str(n) for k, n, _ in rows},
            {str(k): str(v) for k, v in people},
            {str(k): str(a) for k, _, a in rows if a},
        )

    def person(self, key: str) -> str:
        return self.customers.get(key) or (key if key.startswith("wm") else f"访客{key[:6]}")

    def staff_name(self, userid: str) -> str:
        return self.staff.get(userid, userid)


def _midnight(ctx: RequestContext) -> datetime:
    local = ctx.deps.local_now()
    return datetime.combine(local.date(), time(0), tzinfo=local.tzinfo).astimezone(UTC)


@router.get(RADAR_PATH + "/stats", role=Role.STAFF)
async def overview_view(ctx: RequestContext) -> web.StreamResponse:
    radar = await get_radar(int_param(ctx))
    scope, since, seconds = await _scope(ctx), _midnight(ctx), _seconds(ctx)
    live = ctx.request.query.get("live") == "1"  # the console's live refresh: numbers only
    sends, reached = await _sends(radar.id, scope)
    people = queries.analytics(radar.id, scope, since, seconds, details=not live)
    if scope is None:  # the summary's pass and the count of visits per staff side by side
        found, (today, visits) = await asyncio.gather(
            people, queries.whole_counts(radar.id, since, per_staff=not live)
        )
        totals = queries.whole_totals(found["sums"], today)
    else:
        found = await people
        totals, visits = await queries.visit_totals(radar.id, scope, since, per_staff=not live)
    levels = found["level"]
    overview = queries.overview(totals, levels, sum(sends.values()))
    if live:
        return json_ok({"overview": overview, "levels": queries.level_table(levels)})
    ranks = {by: queries.ranking(found.get(by, []), by) for by in ("visits", "duration")}
    staff = queries.staff_rows(found.get("staff", []), visits, sends)
    names = await Names.load(
        [r["ext"] for rows in ranks.values() for r in rows], [s["userid"] for s in staff]
    )
    pages = sum(int(f.get("pages", 0)) for f in radar.files)
    return json_ok(
        {
            "radar": {
                "id": radar.id,
                "name": radar.name,
                "title": radar.title,
                "type": radar.type.value,
                "measured": radar.type.value != "link",
                "pages": pages,
            },
            "overview": overview,
            "levels": queries.level_table(levels),
            "rank_visits": _ranked(ranks["visits"], names),
            "rank_duration": _ranked(ranks["duration"], names),
            "funnel": queries.funnel(levels, reached, seconds),
            "pages": queries.page_readers(found.get("page", []), pages)
            if radar.type.value == "pdf"
            else [],
            "staff": [s | {"name": names.staff_name(s["userid"])} for s in staff],
        }
    )


def _ranked(rows: list[dict[str, Any]], names: Names) -> list[dict[str, Any]]:
    return [
        {
            "key": r["key"],
            "name": names.person(r["ext"] or r["key"]),
            "visits": int(r["visits"]),
            "duration": int(r["duration"] or 0),
        }
        for r in rows
    ]


def _seconds(ctx: RequestContext) -> int:
    raw = ctx.request.query.get("seconds", "10")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6 or int(raw) > 86_400:
        raise ApiError(400, "查看时长必须是 0 到 86400 之间的整数（秒）", "seconds")
    return int(raw)


async def _filters(ctx: RequestContext) -> dict[str, Any]:
    q = ctx.request.query
    tz = ctx.deps.settings.tz
    out: dict[str, Any] = {"staff": q.get("userid", "").strip()[:64]}
    if text := q.get("q", "").strip()[:64]:
        found = Customer.filter(name__icontains=text).limit(1000)
        out["keys"] = set(await found.values_list("external_userid", flat=True)) | {text}
        out["q"] = text
    since, until = day_param(ctx.request, "since", tz), day_param(ctx.request, "until", tz)
    out["since"] = since and since.astimezone(UTC)  # stored times compare as UTC text on SQLite
    # a date "until" includes that whole day
    if until is not None:
        until = until + timedelta(days=1) if len(q.get("until", "")) <= 10 else until
        out["until"] = until.astimezone(UTC)
    return out


def _customer_json(r: dict[str, Any], names: Names) -> dict[str, Any]:
    key = r["ext"] or r["key"]
    return {
        "key": r["key"],
        "name": names.person(key),
        "avatar": names.avatars.get(key, ""),
        "external_userid": r["ext"] or "",
        "staff": r["staff"],
        "staff_name": names.staff_name(r["staff"]),
        "level": int(r["level"]),
        "last_at": r["last_at"],
        "last_duration": r["last_duration"],
        "best_progress": int(r["best"] or 0),
        "last_channel": CHANNELS.get(r["last_channel"], ""),
        "visits": int(r["visits"]),
        "brought": int(r["brought"]),
    }


async def _customer_page(
    ctx: RequestContext, radar_id: int, offset: int, limit: int
) -> tuple[int, list[dict[str, Any]]]:
    total, rows = await queries.customers(
        radar_id, await _scope(ctx), await _filters(ctx), offset, limit
    )
    names = await Names.load([r["ext"] for r in rows], [r["staff"] for r in rows])
    missing = [r["key"] for r in rows if "brought" not in r]  # the summary has it
    counts = await network.brought(radar_id, missing)
    return total, [_customer_json({"brought": counts.get(r["key"], 0)} | r, names) for r in rows]


@router.get(RADAR_PATH + "/customers", role=Role.STAFF)
async def customers_view(ctx: RequestContext) -> web.StreamResponse:
    radar = await get_radar(int_param(ctx))
    page, size = page_params(ctx.request)
    total, items = await _customer_page(ctx, radar.id, (page - 1) * size, size)
    return json_ok({"total": total, "items": items, "page": page, "size": size})


EXPORT_HEADERS = [
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


@router.get(RADAR_PATH + "/customers.xlsx", role=Role.STAFF)
async def customers_export(ctx: RequestContext) -> web.StreamResponse:
    """The whole filtered table as .xlsx: read a chunk at a time, the workbook built and
    streamed off the event loop."""
    radar = await get_radar(int_param(ctx))
    scope, filters = await _scope(ctx), await _filters(ctx)
    sheet = XlsxWriter(EXPORT_HEADERS, ctx.deps.settings.tz)
    async for chunk in queries.export_chunks(radar.id, scope, filters, EXPORT_LIMIT, EXPORT_CHUNK):
        names = await Names.load([r["ext"] for r in chunk], [r["staff"] for r in chunk])
        await sheet.add(_cells(_customer_json(r, names)) for r in chunk)
    return await sheet.response(ctx.request, "雷达客户分析.xlsx")


def _cells(r: dict[str, Any]) -> list[Any]:
    return [
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


@router.get(RADAR_PATH + r"/people/{key:[A-Za-z0-9_-]{1,64}}", role=Role.STAFF)
async def person_view(ctx: RequestContext) -> web.StreamResponse:
    """The source path (staff → … → this person) and the social network below them."""
    radar = await get_radar(int_param(ctx))
    key = ctx.request.match_info["key"]
    found = await network.source_path(radar.id, key, await _scope(ctx))
    if found is None:
        raise ApiError(404, "该客户没有访问过这个雷达")
    staff, chain = found
    tree, keys = await network.network(radar.id, key)
    names = await Names.load([c["key"] for c in chain] + keys, [staff])
    path = [{"name": names.staff_name(staff), "kind": "staff"}] + [
        {"name": names.person(c["key"]), "kind": "customer", "level": c["level"], "key": c["key"],
         "at": c["at"]}
        for c in chain
    ]  # fmt: skip

    def named(node: dict[str, Any]) -> dict[str, Any]:
        kids = [named(c) for c in node["children"]]
        return node | {"name": names.person(node["key"]), "children": kids}

    return json_ok({"path": path, "network": named(tree)})


class TagIn(pydantic.BaseModel):
    external_userids: list[str] = pydantic.Field(min_length=1, max_length=200, title="客户")
    tag_ids: list[str] = pydantic.Field(min_length=1, max_length=20, title="标签")


@router.post("/api/radar/tags", role=Role.ADMIN)
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


@router.get("/api/radar/mine", role=Role.STAFF)
async def mine_view(ctx: RequestContext) -> web.StreamResponse:
    """The sidebar: my sends and how the customers I sent to opened them (in SQL)."""
    me = _user(ctx).userid
    sends = dict(
        await Share.filter(userid=me)
        .group_by("radar_id")
        .annotate(n=Count("id"))
        .values_list("radar_id", "n")
    )
    visits = {
        int(r["radar_id"]): r
        for r in await fetch_dicts(
            f"""SELECT radar_id, COUNT(*) AS visits, COUNT(DISTINCT {queries.PK}) AS visitors
            FROM radar_visit WHERE root_userid = ? GROUP BY radar_id""",
            [me],
        )
    }
    ids = {int(k) for k in sends} | set(visits)
    out: list[dict[str, Any]] = []
    for radar in await Radar.filter(id__in=ids):
        seen = visits.get(radar.id, {})
        out.append(
            {
                "id": radar.id,
                "title": radar.title,
                "deleted": radar.deleted,
                "sends": int(sends.get(radar.id, 0)),
                "visits": int(seen.get("visits", 0)),
                "visitors": int(seen.get("visitors", 0)),
            }
        )
    out.sort(key=lambda r: (-r["visits"], -r["sends"]))
    return json_ok({"radars": out})


@router.get("/api/radar/profile", role=Role.STAFF)
async def profile_view(ctx: RequestContext) -> web.StreamResponse:
    """The customer profile block: this customer's radar visits that I may see."""
    ext = ctx.request.query.get("external_userid", "").strip()[:64]
    if not ext:
        raise ApiError(400, "缺少客户 ID", "external_userid")
    query = Visit.filter(external_userid=ext)
    scope = await scope_userids(_user(ctx))
    if scope is not None:
        query = query.filter(root_userid__in=sorted(scope))
    rows = await query.order_by("-started_at").limit(50).values(*PROFILE_FIELDS)
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
