"""Console API for radar groups and radars (admins): create, edit, order, delete."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pydantic
from aiohttp import web
from tortoise.expressions import Q
from tortoise.functions import Count

from bot.auth_types import Principal, Role
from bot.http import ApiError, RequestContext, json_ok, parse_id, query_id, read_json
from bot.multipart import Upload
from handlers.radar import uploads
from handlers.radar.common import (
    SHARE_PURPOSE,
    Move,
    forget_radar,
    get_radar,
    int_param,
    link_target,
    reorder,
    save_order,
)
from handlers.radar.router import router
from handlers.radar.toolbar import may_see
from storage.directory import Department
from storage.radar import Radar, RadarGroup, RadarType, Share
from storage.sql import fetch, placeholders


class GroupIn(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(str_strip_whitespace=True)  # "  " is a blank name

    name: str = pydantic.Field(min_length=1, max_length=64, title="分组名称")
    departments: list[int] = pydantic.Field(default_factory=list, max_length=500, title="可见部门")


class GroupPatch(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(str_strip_whitespace=True)

    name: str | None = pydantic.Field(None, min_length=1, max_length=64, title="分组名称")
    departments: list[int] | None = pydantic.Field(None, max_length=500, title="可见部门")


class MoveIn(pydantic.BaseModel):
    to: Move = pydantic.Field(title="移动方向")


def group_json(group: RadarGroup, count: int, names: dict[int, str]) -> dict[str, Any]:
    return {
        "id": group.id,
        "name": group.name,
        "order": group.order,
        "departments": group.departments,
        "department_names": [names.get(int(d), f"已删除的部门 {d}") for d in group.departments],
        "radar_count": count,
    }


async def _department_names() -> dict[int, str]:
    return {int(k): str(v) for k, v in await Department.all().values_list("id", "name")}


def radar_json(radar: Radar) -> dict[str, Any]:
    return {
        "id": radar.id,
        "group_id": radar.group_id,  # type: ignore[attr-defined]
        "name": radar.name,
        "type": radar.type.value,
        "url": radar.url,
        "files": radar.files,
        "page_count": sum(int(f.get("pages", 0)) for f in radar.files),
        "title": radar.title,
        "description": radar.description,
        "cover": radar.cover,
        "friends_only": radar.friends_only,
        "tag_ids": radar.tag_ids,
        "alert": radar.alert,
        "timeline": radar.timeline,
        "order": radar.order,
        "updated_at": radar.updated_at,
    }


async def _groups() -> list[RadarGroup]:
    return await RadarGroup.all().order_by("order", "id")


@router.get("/api/radar/groups", role=Role.STAFF)
async def list_groups(ctx: RequestContext) -> web.StreamResponse:
    counts: dict[int, int] = {}
    for gid in await Radar.filter(deleted=False).values_list("group_id", flat=True):
        key = int(str(gid)) if gid is not None else 0
        counts[key] = counts.get(key, 0) + 1
    names = await _department_names()
    groups = [group_json(g, counts.get(g.id, 0), names) for g in await _groups()]
    # Radars saved without a group (a fresh install has none) are shown under 未分组.
    return json_ok({"groups": groups, "ungrouped": counts.get(0, 0)})


@router.post("/api/radar/groups", role=Role.ADMIN)
async def create_group(ctx: RequestContext) -> web.StreamResponse:
    body = await read_json(ctx.request, GroupIn)
    order = len(await _groups())
    group = await RadarGroup.create(
        name=body.name.strip(), departments=body.departments, order=order
    )
    return json_ok(group_json(group, 0, await _department_names()), status=201)


async def _group(ctx: RequestContext) -> RadarGroup:
    group = await RadarGroup.get_or_none(id=int_param(ctx))
    if group is None:
        raise ApiError(404, "雷达分组不存在")
    return group


@router.route("PATCH", r"/api/radar/groups/{id:\d+}", role=Role.ADMIN)
async def update_group(ctx: RequestContext) -> web.StreamResponse:
    group = await _group(ctx)
    body = await read_json(ctx.request, GroupPatch)
    if body.name is not None:
        group.name = body.name.strip()
    if body.departments is not None:
        group.departments = body.departments
    await group.save()
    count = await Radar.filter(group_id=group.id, deleted=False).count()
    return json_ok(group_json(group, count, await _department_names()))


@router.route("DELETE", r"/api/radar/groups/{id:\d+}", role=Role.ADMIN)
async def delete_group(ctx: RequestContext) -> web.StreamResponse:
    group = await _group(ctx)
    if await Radar.filter(group_id=group.id, deleted=False).exists():
        raise ApiError(400, "分组下还有雷达，请先移出后再删除")
    await Radar.filter(group_id=group.id).update(group_id=None)
    await group.delete()
    return json_ok({"deleted": True})


@router.post(r"/api/radar/groups/{id:\d+}/move", role=Role.ADMIN)
async def move_group(ctx: RequestContext) -> web.StreamResponse:
    group = await _group(ctx)
    body = await read_json(ctx.request, MoveIn)
    await save_order(reorder(await _groups(), group.id, body.to))
    return await list_groups(ctx)


# --- radars ---------------------------------------------------------------------------------


@router.get("/api/radar/radars", role=Role.ADMIN)
async def list_radars(ctx: RequestContext) -> web.StreamResponse:
    query = Radar.filter(deleted=False)
    group_id = query_id(ctx.request, "group_id", "分组")
    if group_id is not None:
        query = query.filter(group_id=group_id)
    if q := ctx.request.query.get("q", "").strip()[:64]:
        query = query.filter(Q(name__icontains=q) | Q(title__icontains=q))
    radars = await query.order_by("order", "id")
    ids = [r.id for r in radars]
    sends = await _counts(Share.filter(radar_id__in=ids))
    visits = await _visit_counts(ids)
    return json_ok(
        {
            "radars": [
                radar_json(r) | {"sends": sends.get(r.id, 0), "visits": visits.get(r.id, 0)}
                for r in radars
            ],
            "limits": {"max_upload_mb": ctx.deps.settings.storage.max_upload_mb},
        }
    )


def visits_per_radar(n: int) -> str:
    """Visits of `n` radars as COUNT(*): the (radar) index answers it alone, where COUNT(id)
    reads every visit row for its id (a viral radar has a million)."""
    return f"""SELECT radar_id, COUNT(*) FROM radar_visit WHERE radar_id IN ({placeholders(n)})
        GROUP BY radar_id"""


async def _visit_counts(ids: list[int]) -> dict[int, int]:
    rows = await fetch(visits_per_radar(len(ids)), ids) if ids else []
    return {int(rid): int(n) for rid, n in rows}


async def _counts(query: Any) -> dict[int, int]:
    """Rows per radar, counted in the database."""
    rows = await query.group_by("radar_id").annotate(n=Count("id")).values_list("radar_id", "n")
    return {int(rid): int(n) for rid, n in rows}


@router.post(r"/api/radar/radars/{id:\d+}/link", role=Role.ADMIN)
async def make_link(ctx: RequestContext) -> web.StreamResponse:
    """复制链接: a link the admin hands out by hand (not bound to a customer or a chat)."""
    radar = await get_radar(int_param(ctx))
    assert ctx.user is not None
    share = await Share.create(
        token=ctx.deps.signer.token(SHARE_PURPOSE),
        radar_id=radar.id,
        userid=ctx.user.userid,
        created_at=ctx.deps.now(),
    )
    return json_ok({"url": ctx.deps.url(f"/r/{share.token}")}, status=201)


@router.get(r"/api/radar/radars/{id:\d+}", role=Role.STAFF)
async def show_radar(ctx: RequestContext) -> web.StreamResponse:
    assert ctx.user is not None
    radar = await get_radar(int_param(ctx))
    if not await may_see(ctx.user, radar):
        raise ApiError(404, "雷达不存在或已删除")  # as for a radar that does not exist
    return json_ok(radar_json(radar))


def _flag(form: uploads.Form, name: str, default: bool) -> bool:
    raw = form.fields.get(name)
    return default if raw is None else raw.strip().lower() in ("1", "true", "on", "yes")


def _text(form: uploads.Form, name: str, label: str, limit: int, required: bool) -> str | None:
    raw = form.fields.get(name)
    if raw is None:
        if required:
            raise ApiError(400, f"请填写{label}", name)
        return None
    value = raw.strip()
    if required and not value:
        raise ApiError(400, f"请填写{label}", name)
    if len(value) > limit:
        raise ApiError(400, f"{label}不能超过 {limit} 个字", name)
    return value


def _tag_ids(form: uploads.Form) -> list[str] | None:
    raw = form.fields.get("tag_ids")
    if raw is None:
        return None
    try:
        value = json.loads(raw) if raw.strip().startswith("[") else raw.split(",")
    except ValueError:
        raise ApiError(400, "标签格式不正确", "tag_ids") from None
    tags = [str(t).strip() for t in value if str(t).strip()]
    if len(tags) > 50 or any(len(t) > 64 for t in tags):
        raise ApiError(400, "标签过多或标签 ID 过长", "tag_ids")
    return tags


async def _apply(ctx: RequestContext, radar: Radar, form: uploads.Form, new: bool) -> None:
    for name, label, limit in (("name", "雷达名称", 64), ("title", "雷达标题", 64)):
        if (value := _text(form, name, label, limit, new)) is not None:
            setattr(radar, name, value)
    if (desc := _text(form, "description", "雷达描述", 256, False)) is not None:
        radar.description = desc
    if "group_id" in form.fields:
        gid = form.fields["group_id"].strip()
        if gid and ((found := parse_id(gid)) is None or not await RadarGroup.exists(id=found)):
            raise ApiError(400, "所选分组不存在", "group_id")
        radar.group_id = int(gid) if gid else None
    radar.friends_only = _flag(form, "friends_only", radar.friends_only)
    radar.alert = _flag(form, "alert", radar.alert)
    radar.timeline = _flag(form, "timeline", radar.timeline)
    if (tags := _tag_ids(form)) is not None:
        radar.tag_ids = tags
    await _content(ctx, radar, form, new)


async def _content(ctx: RequestContext, radar: Radar, form: uploads.Form, new: bool) -> None:
    settings = ctx.deps.settings
    if radar.type is RadarType.LINK:
        url = _text(form, "url", "链接地址", 1024, new)
        if url is not None:
            target = link_target(url)
            if target is None:
                raise ApiError(
                    400, "链接地址必须以 http:// 或 https:// 开头，且不能含空格或换行", "url"
                )
            radar.url = target
    else:
        kind = {"pdf": "pdf", "images": "image", "video": "video"}[radar.type.value]
        got = form.files.get("files", [])
        if kind != "image" and len(got) > 1:
            raise ApiError(400, "只能上传一个文件", "files")
        if len(got) > 30:
            raise ApiError(400, "图片最多 30 张", "files")
        if got:
            radar.files = [await _stored(settings, kind, data) for _, data in got]
        elif new:
            raise ApiError(400, "请上传雷达内容文件", "files")
    if covers := form.files.get("cover"):
        radar.cover = uploads.store(settings, covers[0][1], "image", "封面图", "cover")


async def _stored(settings: Any, kind: str, data: Upload) -> dict[str, Any]:
    if kind == "pdf":  # rewritten for the phone viewer: off the event loop
        return await asyncio.to_thread(uploads.store_pdf, settings, data, "雷达内容")
    name = uploads.store(settings, data, kind, "雷达内容")
    return {"name": name, "size": len(data)}


@router.post("/api/radar/radars", role=Role.ADMIN)
async def create_radar(ctx: RequestContext) -> web.StreamResponse:
    form = await uploads.read_form(ctx.request, ctx.deps.settings)
    try:
        rtype = RadarType(form.fields.get("type", "").strip())
    except ValueError:
        raise ApiError(400, "请选择文件类型：链接、PDF、图片或视频", "type") from None
    assert ctx.user is not None
    radar = Radar(type=rtype, created_by=ctx.user.userid, files=[], tag_ids=[])
    await _apply(ctx, radar, form, new=True)
    radar.order = await Radar.filter(group_id=radar.group_id, deleted=False).count()  # type: ignore[attr-defined]
    await radar.save()
    return json_ok(radar_json(radar), status=201)


@router.route("PATCH", r"/api/radar/radars/{id:\d+}", role=Role.ADMIN)
async def update_radar(ctx: RequestContext) -> web.StreamResponse:
    radar = await get_radar(int_param(ctx))
    form = await uploads.read_form(ctx.request, ctx.deps.settings)
    if "type" in form.fields and form.fields["type"].strip() != radar.type.value:
        raise ApiError(400, "雷达创建后不能修改文件类型，请新建一个雷达", "type")
    await _apply(ctx, radar, form, new=False)
    await radar.save()
    forget_radar(radar.id)
    return json_ok(radar_json(radar))


@router.route("DELETE", r"/api/radar/radars/{id:\d+}", role=Role.ADMIN)
async def delete_radar(ctx: RequestContext) -> web.StreamResponse:
    radar = await get_radar(int_param(ctx))
    radar.deleted = True
    await radar.save(update_fields=["deleted", "updated_at"])
    forget_radar(radar.id)
    return json_ok({"deleted": True})


@router.post(r"/api/radar/radars/{id:\d+}/move", role=Role.ADMIN)
async def move_radar(ctx: RequestContext) -> web.StreamResponse:
    radar = await get_radar(int_param(ctx))
    body = await read_json(ctx.request, MoveIn)
    siblings = await Radar.filter(group_id=radar.group_id, deleted=False).order_by("order", "id")  # type: ignore[attr-defined]
    await save_order(reorder(siblings, radar.id, body.to))
    return json_ok({"moved": True})


@router.get("/api/radar/files/{name}", role=Role.STAFF)
async def admin_file(ctx: RequestContext) -> web.StreamResponse:
    """A stored upload, for staff who may see a radar using it (admins: any)."""
    assert ctx.user is not None
    name = ctx.request.match_info["name"]
    if not ctx.user.sees_all and not await _file_visible(ctx.user, name):
        return web.Response(status=404)
    return uploads.file_response(ctx.deps.settings, name)


async def _file_visible(user: Principal, name: str) -> bool:
    for radar in await Radar.filter(deleted=False).only("id", "group_id", "files", "cover"):
        if (name == radar.cover or any(f.get("name") == name for f in radar.files)) and (
            await may_see(user, radar)
        ):
            return True
    return False
