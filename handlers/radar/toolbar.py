"""Chat toolbar: the radars a staff member may send, and creating a share at the moment of a
send (a signed, unguessable token; raw content URLs are never handed out)."""

from __future__ import annotations

from typing import Any

import pydantic
from aiohttp import web
from tortoise.expressions import Q

from bot.auth_types import Principal, Role
from bot.http import ApiError, RequestContext, json_ok, read_json
from handlers.facts import department_tree
from handlers.radar.common import SHARE_PURPOSE
from handlers.radar.router import router
from storage.directory import Staff
from storage.facts import FollowRelation
from storage.radar import Radar, RadarGroup, Share

UNGROUPED = "未分组"
TYPE_LABELS = {"link": "链接", "pdf": "PDF", "images": "图片", "video": "视频"}


async def visible_groups(user: Principal) -> list[RadarGroup]:
    """Groups whose visible departments (and their sub-departments) include one of mine."""
    staff = await Staff.get_or_none(userid=user.userid)
    mine = {int(d) for d in (staff.departments if staff else [])}
    out = []
    for group in await RadarGroup.all().order_by("order", "id"):
        if (
            user.sees_all
            or not group.departments
            or mine & await department_tree(frozenset(int(d) for d in group.departments))
        ):
            out.append(group)
    return out


async def may_see(user: Principal, radar: Radar) -> bool:
    """A radar in a group visible to this staff member, or in no group (for everyone)."""
    gid = radar.group_id  # type: ignore[attr-defined]
    if user.sees_all or gid is None:
        return True
    return gid in {g.id for g in await visible_groups(user)}


def _item(radar: Radar) -> dict[str, Any]:
    return {
        "id": radar.id,
        "name": radar.name,
        "title": radar.title,
        "description": radar.description,
        "type": radar.type.value,
        "type_label": TYPE_LABELS[radar.type.value],
        "has_cover": bool(radar.cover),
    }


@router.get("/api/radar/toolbar", role=Role.STAFF)
async def toolbar_list(ctx: RequestContext) -> web.StreamResponse:
    assert ctx.user is not None
    groups = await visible_groups(ctx.user)
    q = ctx.request.query.get("q", "").strip().lower()[:64]
    radars = await Radar.filter(
        Q(group_id__in=[g.id for g in groups]) | Q(group_id__isnull=True), deleted=False
    ).order_by("order", "id")
    out = []
    # A radar saved without a group is for everyone, listed last under 未分组.
    for gid, name in [(g.id, g.name) for g in groups] + [(None, UNGROUPED)]:
        items = [
            _item(r)
            for r in radars
            if r.group_id == gid  # type: ignore[attr-defined]
            and (not q or q in r.title.lower() or q in r.name.lower())
        ]
        if items or (not q and gid is not None):
            out.append({"id": gid, "name": name, "radars": items})
    return json_ok({"groups": out})


class ShareIn(pydantic.BaseModel):
    radar_id: int = pydantic.Field(title="雷达")
    external_userid: str = pydantic.Field("", max_length=64, title="客户")
    chat_id: str = pydantic.Field("", max_length=64, title="客户群")


@router.post("/api/radar/shares", role=Role.STAFF)
async def create_share(ctx: RequestContext) -> web.StreamResponse:
    assert ctx.user is not None
    body = await read_json(ctx.request, ShareIn)
    if bool(body.external_userid) == bool(body.chat_id):
        raise ApiError(400, "请在与客户的单聊或客户群中发送雷达", "external_userid")
    radar = await Radar.get_or_none(id=body.radar_id, deleted=False)
    groups = {g.id for g in await visible_groups(ctx.user)} | {None}  # None: 未分组
    if radar is None or radar.group_id not in groups:  # type: ignore[attr-defined]
        raise ApiError(404, "雷达不存在或您无权发送", "radar_id")
    if body.external_userid and not await FollowRelation.exists(
        userid=ctx.user.userid, external_userid=body.external_userid, active=True
    ):
        raise ApiError(403, "只能发送给您自己的客户", "external_userid")
    deps = ctx.deps
    share = await Share.create(
        token=deps.signer.token(SHARE_PURPOSE),
        radar_id=radar.id,
        userid=ctx.user.userid,
        external_userid=body.external_userid,
        chat_id=body.chat_id,
        created_at=deps.now(),
    )
    link = deps.url(f"/r/{share.token}")
    news = {
        "link": link,
        "title": radar.title,
        "desc": radar.description,
        "imgUrl": f"{link}/cover" if radar.cover else deps.url("/static/radar/cover.png"),
    }
    return json_ok({"token": share.token, "url": link, "news": news}, status=201)
