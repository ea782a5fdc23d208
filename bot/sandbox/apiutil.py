"""Shared pieces of the sandbox's WeCom API handlers."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.sandbox.corp import Corp
from bot.sandbox.errors import SandboxError

ApiHandler = Callable[[web.Request], Awaitable[dict[str, Any]]]


@dataclass
class SandboxConfig:
    corp_id: str
    secrets: dict[str, str]  # kind ("app", "contact") → secret
    agent_id: int


@dataclass
class Fault:
    path: str
    errcode: int
    count: int
    delay_ms: int = 0


@dataclass
class CallRecord:
    method: str
    path: str
    errcode: int
    secret_kind: str
    at: float


@dataclass
class ApiState:
    faults: list[Fault] = field(default_factory=list)
    calls: list[CallRecord] = field(default_factory=list)


CORP_KEY = web.AppKey("sandbox_corp", Corp)
CONFIG_KEY = web.AppKey("sandbox_config", SandboxConfig)
API_STATE_KEY = web.AppKey("sandbox_api_state", ApiState)


def corp_of(request: web.Request) -> Corp:
    return request.app[CORP_KEY]


def ok(**fields: Any) -> dict[str, Any]:
    return {"errcode": 0, "errmsg": "ok", **fields}


async def read_body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise SandboxError(47001, "body is not JSON") from None
    if not isinstance(body, dict):
        raise SandboxError(47001, "body must be a JSON object")
    return body


def str_list(body: dict[str, Any], key: str) -> list[str]:
    value = body.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SandboxError(47001, f"{key} must be a list of strings")
    return value


def int_field(body: dict[str, Any], key: str, default: int) -> int:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise SandboxError(47001, f"{key} must be an integer")
    try:
        return int(value)
    except ValueError:
        raise SandboxError(47001, f"{key} must be an integer") from None


def paginate(items: list[Any], cursor: str, limit: int, max_limit: int) -> tuple[list[Any], str]:
    """WeCom-style opaque cursor paging; the cursor is the next offset."""
    if not 1 <= limit <= max_limit:
        raise SandboxError(40058, f"limit must be 1..{max_limit}")
    start = 0
    if cursor:
        if not cursor.startswith("c") or not cursor[1:].isdigit():
            raise SandboxError(40058, "invalid cursor")
        start = int(cursor[1:])
    page = items[start : start + limit]
    end = start + len(page)
    return page, f"c{end}" if end < len(items) else ""


def api(routes: web.RouteTableDef, method: str, path: str) -> Callable[[ApiHandler], ApiHandler]:
    """Register a handler that returns the answer's fields; the middleware makes the JSON."""

    def register(fn: ApiHandler) -> ApiHandler:
        async def view(request: web.Request) -> web.StreamResponse:
            return web.json_response(await fn(request))

        routes.route(method, path)(view)
        return fn

    return register
