"""Customer moments APIs (externalcontact/*moment*) and media/upload_attachment, answered as
WeCom answers them (peers.md W8-W10); the rules live in `bot.sandbox.moments`."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.sandbox.apiutil import api, corp_of, int_field, ok, paginate, read_body, str_list
from bot.sandbox.corp import Corp
from bot.sandbox.errors import SandboxError
from bot.sandbox.moments import BAD_PARAMETER, Moment

routes = web.RouteTableDef()
P = "/cgi-bin/externalcontact"
MONTH = 30 * 24 * 3600  # get_moment_list windows are at most one month (W9)


@api(routes, "POST", "/cgi-bin/media/upload_attachment")
async def upload_attachment(request: web.Request) -> dict[str, Any]:
    media_type = request.query.get("media_type", "")
    if request.query.get("attachment_type") not in ("1", "2"):
        raise SandboxError(BAD_PARAMETER, "attachment_type must be 1 (moments) or 2 (catalog)")
    size = 0
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        async for part in reader:
            size += len(await part.read())  # type: ignore[union-attr]
    else:
        size = len(await request.read())
    att = corp_of(request).store_attachment(media_type, size)
    return ok(type=att.media_type, media_id=att.media_id, created_at=str(int(att.created_at)))


@api(routes, "POST", f"{P}/add_moment_task")
async def add_moment_task(request: web.Request) -> dict[str, Any]:
    body = await read_body(request)
    text = body.get("text") or {}
    attachments = body.get("attachments") or []
    visible = body.get("visible_range") or {}
    if not isinstance(text, dict) or not isinstance(attachments, list):
        raise SandboxError(47001, "text must be an object and attachments a list")
    if not isinstance(visible, dict):
        raise SandboxError(47001, "visible_range must be an object")
    senders = visible.get("sender_list") or {}
    customers = visible.get("external_contact_list") or {}
    if not isinstance(senders, dict) or not isinstance(customers, dict):
        raise SandboxError(47001, "sender_list and external_contact_list must be objects")
    departments = senders.get("department_list") or []
    if not isinstance(departments, list) or not all(isinstance(d, int) for d in departments):
        raise SandboxError(47001, "department_list must be a list of integers")
    job = _corp(request).add_moment_task(
        str(text.get("content", "")),
        attachments,
        str_list(senders, "user_list"),
        departments,
        str_list(customers, "tag_list"),
    )
    return ok(jobid=job.jobid)


@api(routes, "GET", f"{P}/get_moment_task_result")
async def get_moment_task_result(request: web.Request) -> dict[str, Any]:
    corp = _corp(request)
    job = corp.moment_job(request.query.get("jobid", ""))
    if not corp.job_done(job):
        return ok(status=2, type="add_moment_task")
    result = {
        "errcode": 0,
        "errmsg": "ok",
        "moment_id": job.moment.moment_id,
        "invalid_sender_list": {
            "user_list": job.invalid_users,
            "department_list": job.invalid_departments,
        },
        "invalid_external_contact_list": {"tag_list": job.invalid_tags},
    }
    return ok(status=3, type="add_moment_task", result=result)


@api(routes, "POST", f"{P}/cancel_moment_task")
async def cancel_moment_task(request: web.Request) -> dict[str, Any]:
    body = await read_body(request)
    _corp(request).cancel_moment_task(str(body.get("moment_id", "")))
    return ok()


def _corp(request: web.Request) -> Corp:
    corp = corp_of(request)
    corp.check_moments_api()
    return corp


def moment_json(m: Moment) -> dict[str, Any]:
    out: dict[str, Any] = {
        "moment_id": m.moment_id,
        "creator": m.creator,
        "create_time": m.create_time,
        "create_type": m.create_type,
        "visible_type": 0 if m.tag_ids else 1,
        "text": {"content": m.text},
    }
    for att in m.attachments:
        kind = att.get("msgtype")
        if kind == "image":
            out.setdefault("image", []).append({"media_id": att["image"]["media_id"]})
        elif kind == "video":
            out["video"] = {"media_id": att["video"]["media_id"], "thumb_media_id": ""}
        elif kind == "link":
            out["link"] = {"title": att["link"].get("title", ""), "url": att["link"]["url"]}
    return out


@api(routes, "POST", f"{P}/get_moment_list")
async def get_moment_list(request: web.Request) -> dict[str, Any]:
    body = await read_body(request)
    start, end = int_field(body, "start_time", 0), int_field(body, "end_time", 0)
    if not start or not end or end < start or end - start > MONTH:
        raise SandboxError(BAD_PARAMETER, "start_time/end_time required, at most one month apart")
    filter_type = int_field(body, "filter_type", 2)
    if filter_type not in (0, 1, 2):
        raise SandboxError(BAD_PARAMETER, "filter_type is 0, 1 or 2")
    found = _corp(request).moments_between(start, end, str(body.get("creator", "")), filter_type)
    page, cursor = paginate(found, str(body.get("cursor", "")), int_field(body, "limit", 20), 20)
    return ok(next_cursor=cursor, moment_list=[moment_json(m) for m in page])


@api(routes, "POST", f"{P}/get_moment_task")
async def get_moment_task(request: web.Request) -> dict[str, Any]:
    body = await read_body(request)
    moment = _corp(request).get_moment(str(body.get("moment_id", "")))
    if moment.create_type != 0:
        raise SandboxError(BAD_PARAMETER, "get_moment_task works for enterprise moments only")
    rows = [
        {"userid": s.userid, "publish_status": s.publish_status} for s in moment.senders.values()
    ]
    page, cursor = paginate(rows, str(body.get("cursor", "")), int_field(body, "limit", 500), 1000)
    return ok(next_cursor=cursor, task_list=page)


def _sender(request_body: dict[str, Any], moment: Moment) -> Any:
    userid = str(request_body.get("userid", ""))
    sender = moment.senders.get(userid)
    if sender is None:
        raise SandboxError(BAD_PARAMETER, f"{userid!r} is not a sender of this moment")
    return sender


@api(routes, "POST", f"{P}/get_moment_customer_list")
async def get_moment_customer_list(request: web.Request) -> dict[str, Any]:
    body = await read_body(request)
    moment = _corp(request).get_moment(str(body.get("moment_id", "")))
    sender = _sender(body, moment)
    rows = [{"userid": sender.userid, "external_userid": e} for e in sender.visible_to]
    page, cursor = paginate(rows, str(body.get("cursor", "")), int_field(body, "limit", 500), 1000)
    return ok(next_cursor=cursor, customer_list=page)


@api(routes, "POST", f"{P}/get_moment_send_result")
async def get_moment_send_result(request: web.Request) -> dict[str, Any]:
    """The customers who can see one member's post of the moment."""
    body = await read_body(request)
    moment = _corp(request).get_moment(str(body.get("moment_id", "")))
    sender = _sender(body, moment)
    rows = [{"external_userid": e} for e in sender.visible_to]
    page, cursor = paginate(rows, str(body.get("cursor", "")), int_field(body, "limit", 3000), 5000)
    return ok(next_cursor=cursor, customer_list=page)


@api(routes, "POST", f"{P}/get_moment_comments")
async def get_moment_comments(request: web.Request) -> dict[str, Any]:
    """Who commented and liked, and when: WeCom gives no comment text (W9)."""
    body = await read_body(request)
    moment = _corp(request).get_moment(str(body.get("moment_id", "")))
    sender = _sender(body, moment)
    comments = [
        {"external_userid": c.external_userid, "create_time": c.create_time}
        for c in moment.comments
        if c.userid == sender.userid
    ]
    likes = [
        {"external_userid": c.external_userid, "create_time": c.create_time}
        for c in moment.likes
        if c.userid == sender.userid
    ]
    return ok(comment_list=comments, like_list=likes)
