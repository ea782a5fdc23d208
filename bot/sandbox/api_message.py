"""message/send and message/update_template_card, recorded per recipient."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.sandbox.apiutil import CONFIG_KEY, api, corp_of, int_field, ok, read_body, str_list
from bot.sandbox.cardcheck import check_card, check_recipients
from bot.sandbox.errors import SandboxError

routes = web.RouteTableDef()


def _check_agent(request: web.Request, body: dict[str, Any]) -> None:
    if int_field(body, "agentid", 0) != request.app[CONFIG_KEY].agent_id:
        raise SandboxError(40056, f"agentid {body.get('agentid')!r}")


@api(routes, "POST", "/cgi-bin/message/send")
async def message_send(request: web.Request) -> dict[str, Any]:
    body = await read_body(request)
    _check_agent(request, body)
    corp = corp_of(request)
    touser, toparty = str(body.get("touser", "")), str(body.get("toparty", ""))
    check_recipients(len([u for u in touser.split("|") if u]))
    check_recipients(len([p for p in toparty.split("|") if p]), "toparty", 100)
    userids, invalid = corp.resolve_recipients(touser, toparty)
    if not userids:
        raise SandboxError(81013)
    msgtype = str(body.get("msgtype", ""))
    result = corp.send_app_message(userids, msgtype, {msgtype: body.get(msgtype)})
    return ok(
        invaliduser="|".join(invalid), invalidparty="", invalidtag="", unlicenseduser="", **result
    )


@api(routes, "POST", "/cgi-bin/message/update_template_card")
async def update_template_card(request: web.Request) -> dict[str, Any]:
    body = await read_body(request)
    _check_agent(request, body)
    if "button" in body and isinstance(body["button"], dict):
        update: dict[str, Any] = {"button": body["button"]}
    elif isinstance(body.get("template_card"), dict):
        check_card(body["template_card"])  # refused before the response_code is used up
        update = {"template_card": body["template_card"]}
    else:
        raise SandboxError(40058, "need button.replace_name or template_card")
    userids = str_list(body, "userids")
    check_recipients(len(userids), "userids")
    for key in ("partyids", "tagids"):
        ids = body.get(key) or []
        check_recipients(len(ids) if isinstance(ids, list) else 0, key, 100)
    atall = int_field(body, "atall", 0) == 1
    if not userids and not atall:
        raise SandboxError(81013)
    corp = corp_of(request)
    rc = corp.use_response_code(str(body.get("response_code", "")))
    invalid = corp.update_cards(rc, userids, atall, update)
    return ok(invaliduser=invalid)
