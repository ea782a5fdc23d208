"""Customer-contact APIs (externalcontact/*), callable with the contact secret or the app's."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.sandbox.apiutil import api, corp_of, int_field, ok, paginate, read_body, str_list
from bot.sandbox.corp import Corp
from bot.sandbox.errors import SandboxError
from bot.sandbox.models import (
    Customer,
    FollowRelation,
    GroupChat,
    TagGroup,
    WelcomeMessage,
)

routes = web.RouteTableDef()
P = "/cgi-bin/externalcontact"


def customer_json(c: Customer) -> dict[str, Any]:
    data: dict[str, Any] = {
        "external_userid": c.external_userid,
        "name": c.name,
        "avatar": c.avatar,
        "type": c.type,
        "gender": c.gender,
    }
    if c.unionid:
        data["unionid"] = c.unionid
    if c.type == 2:
        data["corp_name"] = c.corp_name
    return data


def follow_json(corp: Corp, rel: FollowRelation, tag_objects: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "userid": rel.userid,
        "remark": rel.remark,
        "description": rel.description,
        "createtime": rel.createtime,
        "remark_mobiles": [],
        "oper_userid": rel.oper_userid,
        "add_way": rel.add_way,
    }
    if rel.state:
        data["state"] = rel.state
    if tag_objects:
        data["tags"] = []
        for tag_id in rel.tag_ids:
            group, tag = corp.find_tag(tag_id)
            data["tags"].append(
                {"group_name": group.group_name, "tag_name": tag.name, "tag_id": tag.id, "type": 1}
            )
    else:
        data["tag_id"] = list(rel.tag_ids)
    return data


@api(routes, "GET", f"{P}/get")
async def get_contact(request: web.Request) -> dict[str, Any]:
    corp = corp_of(request)
    customer = corp.get_customer(request.query.get("external_userid", ""))
    follows = [
        follow_json(corp, r, True) for r in corp.follows_of_customer(customer.external_userid)
    ]
    if not follows:
        raise SandboxError(84061, "no staff member follows this customer")
    return ok(external_contact=customer_json(customer), follow_user=follows, next_cursor="")


@api(routes, "GET", f"{P}/list")
async def list_contacts(request: web.Request) -> dict[str, Any]:
    corp = corp_of(request)
    userid = request.query.get("userid", "")
    corp.get_staff(userid)
    ids = [r.external_userid for r in corp.follows_of_staff(userid)]
    if not ids:  # WeCom answers 84061 for a member with no customers, not an empty list
        raise SandboxError(84061, f"{userid} has no customers")
    return ok(external_userid=ids)


@api(routes, "GET", f"{P}/get_follow_user_list")
async def follow_user_list(request: web.Request) -> dict[str, Any]:
    return ok(follow_user=sorted({u for u, _ in corp_of(request).follows}))


@api(routes, "POST", f"{P}/batch/get_by_user")
async def batch_get_by_user(request: web.Request) -> dict[str, Any]:
    body, corp = await read_body(request), corp_of(request)
    userids = str_list(body, "userid_list")
    if not userids or len(userids) > 100:
        raise SandboxError(40058, "userid_list needs 1..100 userids")
    for userid in userids:
        corp.get_staff(userid)
    rels = [r for u in userids for r in corp.follows_of_staff(u)]
    page, cursor = paginate(rels, str(body.get("cursor", "")), int_field(body, "limit", 50), 100)
    items = [
        {
            "external_contact": customer_json(corp.customers[r.external_userid]),
            "follow_info": follow_json(corp, r, False),
        }
        for r in page
    ]
    return ok(external_contact_list=items, next_cursor=cursor)


@api(routes, "POST", f"{P}/groupchat/list")
async def groupchat_list(request: web.Request) -> dict[str, Any]:
    body, corp = await read_body(request), corp_of(request)
    owners = str_list(body.get("owner_filter") or {}, "userid_list")
    chats = [g for g in corp.groups.values() if not owners or g.owner in owners]
    status = int_field(body, "status_filter", 0)
    chats = [g for g in chats if status == 0 or g.status != 0]
    page, cursor = paginate(chats, str(body.get("cursor", "")), int_field(body, "limit", 0), 1000)
    return ok(
        group_chat_list=[{"chat_id": g.chat_id, "status": g.status} for g in page],
        next_cursor=cursor,
    )


def group_json(corp: Corp, chat: GroupChat, need_name: bool) -> dict[str, Any]:
    members = []
    for m in chat.members:
        item: dict[str, Any] = {
            "userid": m.userid,
            "type": m.type,
            "join_time": m.join_time,
            "join_scene": m.join_scene,
            "group_nickname": m.group_nickname,
        }
        if m.invitor:
            item["invitor"] = {"userid": m.invitor}
        person = corp.staff.get(m.userid) or corp.customers.get(m.userid)
        if need_name and person is not None:
            item["name"] = person.name
        customer = corp.customers.get(m.userid)
        if customer is not None and customer.unionid:
            item["unionid"] = customer.unionid
        members.append(item)
    return {
        "chat_id": chat.chat_id,
        "name": chat.name,
        "owner": chat.owner,
        "create_time": chat.create_time,
        "notice": chat.notice,
        "member_list": members,
        "admin_list": [{"userid": u} for u in chat.admin_list],
        "member_version": chat.member_version,
    }


@api(routes, "POST", f"{P}/groupchat/get")
async def groupchat_get(request: web.Request) -> dict[str, Any]:
    body, corp = await read_body(request), corp_of(request)
    chat = corp.get_group(str(body.get("chat_id", "")))
    return ok(group_chat=group_json(corp, chat, int_field(body, "need_name", 0) == 1))


def tag_group_json(group: TagGroup) -> dict[str, Any]:
    tags = [
        {
            "id": t.id,
            "name": t.name,
            "create_time": t.create_time,
            "order": t.order,
            "deleted": False,
        }
        for t in group.tags
    ]
    return {
        "group_id": group.group_id,
        "group_name": group.group_name,
        "create_time": group.create_time,
        "order": group.order,
        "deleted": False,
        "tag": tags,
    }


@api(routes, "POST", f"{P}/get_corp_tag_list")
async def get_corp_tag_list(request: web.Request) -> dict[str, Any]:
    body, corp = await read_body(request), corp_of(request)
    tag_ids, group_ids = str_list(body, "tag_id"), str_list(body, "group_id")
    groups = []
    for group in corp.tag_groups.values():
        data = tag_group_json(group)
        if tag_ids:
            data["tag"] = [t for t in data["tag"] if t["id"] in tag_ids]
        if (not group_ids or group.group_id in group_ids) and (data["tag"] or not tag_ids):
            groups.append(data)
    return ok(tag_group=groups)


@api(routes, "POST", f"{P}/add_corp_tag")
async def add_corp_tag(request: web.Request) -> dict[str, Any]:
    body, corp = await read_body(request), corp_of(request)
    tags = body.get("tag") or []
    names = [str(t.get("name", "")) for t in tags if isinstance(t, dict)]
    if not names or not all(names):
        raise SandboxError(40058, "tag needs at least one {name}")
    group_id, group_name = str(body.get("group_id", "")), str(body.get("group_name", ""))
    if not group_id and not group_name:
        raise SandboxError(40058, "group_id or group_name is required")
    group = corp.add_tags(group_name, names, group_id, int_field(body, "order", 0))
    data = tag_group_json(group)
    data["tag"] = [t for t in data["tag"] if t["name"] in names]
    return ok(tag_group=data)


@api(routes, "POST", f"{P}/del_corp_tag")
async def del_corp_tag(request: web.Request) -> dict[str, Any]:
    body = await read_body(request)
    tag_ids, group_ids = str_list(body, "tag_id"), str_list(body, "group_id")
    if not tag_ids and not group_ids:
        raise SandboxError(40058, "tag_id or group_id is required")
    corp_of(request).delete_tags(tag_ids, group_ids)
    return ok()


@api(routes, "POST", f"{P}/mark_tag")
async def mark_tag(request: web.Request) -> dict[str, Any]:
    body = await read_body(request)
    add, remove = str_list(body, "add_tag"), str_list(body, "remove_tag")
    if not add and not remove:
        raise SandboxError(40058, "add_tag or remove_tag is required")
    userid, ext = str(body.get("userid", "")), str(body.get("external_userid", ""))
    corp_of(request).mark_tag(userid, ext, add, remove)
    return ok()


@api(routes, "POST", f"{P}/send_welcome_msg")
async def send_welcome_msg(request: web.Request) -> dict[str, Any]:
    body, corp = await read_body(request), corp_of(request)
    attachments = body.get("attachments") or []
    if not isinstance(attachments, list) or len(attachments) > 9:
        raise SandboxError(40058, "attachments: at most 9")
    if not body.get("text") and not attachments:
        raise SandboxError(44004, "text or attachments is required")
    code = corp.use_welcome_code(str(body.get("welcome_code", "")))
    payload = {"text": body.get("text"), "attachments": attachments}
    corp.welcome_messages.append(
        WelcomeMessage(code.userid, code.external_userid, payload, corp.clock())
    )
    return ok()


@api(routes, "POST", f"{P}/unionid_to_external_userid")
async def unionid_to_external_userid(request: web.Request) -> dict[str, Any]:
    body, corp = await read_body(request), corp_of(request)
    unionid = str(body.get("unionid", ""))
    if not unionid:
        raise SandboxError(40058, "unionid is required")
    match = next((c for c in corp.customers.values() if c.unionid == unionid), None)
    if match is None or not corp.follows_of_customer(match.external_userid):
        return ok(pending_id="p" + unionid[-20:])
    return ok(external_userid=match.external_userid)


@api(routes, "POST", "/cgi-bin/idconvert/batch/external_userid_to_pending_id")
async def external_userid_to_pending_id(request: web.Request) -> dict[str, Any]:
    """The pending ids unionid_to_external_userid gave these customers before they were."""
    body, corp = await read_body(request), corp_of(request)
    ids = body.get("external_userid")
    if not isinstance(ids, list) or not ids:
        raise SandboxError(40058, "external_userid is required")
    if len(ids) > 100:
        raise SandboxError(40058, "external_userid exceeds 100")
    result = []
    for ext in ids:
        customer = corp.customers.get(str(ext))
        if customer is not None and customer.unionid:
            result.append({"external_userid": ext, "pending_id": "p" + customer.unionid[-20:]})
    return ok(result=result)
