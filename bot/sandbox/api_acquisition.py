"""获客链接 APIs (externalcontact/customer_acquisition/*, customer_acquisition_quota); the
rules they keep are in `bot.sandbox.acquisition`."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.sandbox.acquisition import BAD_PARAMETER
from bot.sandbox.apiutil import api, corp_of, int_field, ok, paginate, read_body, str_list
from bot.sandbox.corp import Corp
from bot.sandbox.errors import SandboxError
from bot.sandbox.models import AcquisitionLink

routes = web.RouteTableDef()
P = "/cgi-bin/externalcontact/customer_acquisition"


def _corp(request: web.Request) -> Corp:
    corp = corp_of(request)
    corp.check_acquisition_api()
    return corp


def _range(body: dict[str, Any]) -> tuple[list[str], list[int]]:
    scope = body.get("range")
    if not isinstance(scope, dict):
        raise SandboxError(BAD_PARAMETER, "range {user_list, department_list} is required")
    departments = scope.get("department_list") or []
    if not isinstance(departments, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) for d in departments
    ):
        raise SandboxError(47001, "department_list must be a list of integers")
    return str_list(scope, "user_list"), departments


def _link_id(body: dict[str, Any]) -> str:
    return str(body.get("link_id", ""))


def link_json(link: AcquisitionLink) -> dict[str, Any]:
    return {
        "link_id": link.link_id,
        "link_name": link.link_name,
        "url": link.url,
        "create_time": link.create_time,
    }


@api(routes, "POST", f"{P}/create_link")
async def create_link(request: web.Request) -> dict[str, Any]:
    body, corp = await read_body(request), _corp(request)
    users, departments = _range(body)
    link = corp.create_link(
        str(body.get("link_name", "")),
        users,
        departments,
        f"{request.scheme}://{request.host}",
        skip_verify=bool(body.get("skip_verify", True)),
    )
    if isinstance(body.get("priority_option"), dict):
        link.priority_option = body["priority_option"]
    link.mark_source = bool(body.get("mark_source", False))
    return ok(link=link_json(link))


@api(routes, "POST", f"{P}/list_link")
async def list_link(request: web.Request) -> dict[str, Any]:
    body, corp = await read_body(request), _corp(request)
    ids = list(corp.acquisition_links)
    page, cursor = paginate(ids, str(body.get("cursor", "")), int_field(body, "limit", 100), 100)
    return ok(link_id_list=page, next_cursor=cursor)


@api(routes, "POST", f"{P}/get")
async def get_link(request: web.Request) -> dict[str, Any]:
    body, corp = await read_body(request), _corp(request)
    link = corp.get_link(_link_id(body))
    return ok(
        link={
            "link_name": link.link_name,
            "url": link.url,
            "create_time": link.create_time,
            "skip_verify": link.skip_verify,
            "mark_source": link.mark_source,
        },
        range={"user_list": link.users, "department_list": link.departments},
        priority_option=link.priority_option,
    )


@api(routes, "POST", f"{P}/update_link")
async def update_link(request: web.Request) -> dict[str, Any]:
    body, corp = await read_body(request), _corp(request)
    users, departments = _range(body) if "range" in body else (None, None)
    corp.update_link(
        _link_id(body),
        link_name=str(body["link_name"]) if "link_name" in body else None,
        users=users,
        departments=departments,
        skip_verify=bool(body["skip_verify"]) if "skip_verify" in body else None,
    )
    return ok()


@api(routes, "POST", f"{P}/delete_link")
async def delete_link(request: web.Request) -> dict[str, Any]:
    body, corp = await read_body(request), _corp(request)
    corp.delete_link(_link_id(body))
    return ok()


@api(routes, "POST", f"{P}/customer")
async def customers(request: web.Request) -> dict[str, Any]:
    body, corp = await read_body(request), _corp(request)
    link = corp.get_link(_link_id(body))
    rows = [
        {
            "external_userid": c.external_userid,
            "userid": c.userid,
            "chat_status": c.chat_status,
            "state": c.state,
        }
        for c in link.customers
    ]
    limit = int_field(body, "limit", 1000)
    page, cursor = paginate(rows, str(body.get("cursor", "")), limit, 1000)
    return ok(customer_list=page, next_cursor=cursor)


@api(routes, "POST", f"{P}/statistic")
async def statistic(request: web.Request) -> dict[str, Any]:
    body, corp = await read_body(request), _corp(request)
    link = corp.get_link(_link_id(body))
    start, end = int_field(body, "start_time", 0), int_field(body, "end_time", 0)
    if not start or end < start:
        raise SandboxError(BAD_PARAMETER, "start_time and end_time (≥ start_time) are required")
    return ok(
        click_link_customer_cnt=sum(1 for t in link.clicks if start <= t <= end),
        new_customer_cnt=len(link.customers),
    )


@api(routes, "GET", "/cgi-bin/externalcontact/customer_acquisition_quota")
async def quota(request: web.Request) -> dict[str, Any]:
    corp = _corp(request)
    return ok(
        total=corp.acquisition_total,
        balance=corp.acquisition_balance,
        quota_list=[{"expire_date": corp.now() + 365 * 86400, "balance": corp.acquisition_balance}],
    )
