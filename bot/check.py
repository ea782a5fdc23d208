"""`scrmbot check`: validate the configuration and the WeCom permissions, one line per check
with ✓/✗ and, for a failure, what to configure."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from redis.asyncio import Redis

from bot.router import Router
from bot.settings import Settings, secret_problem
from bot.wecom_errors import WeComError

DIRECTORY_DENIED = frozenset({60011, 48002})
DIRECTORY_HINT = (
    "configure the app's visible range (通讯录权限) so the app secret can read the directory; "
    "since 2022 the customer-contact secret cannot read members or departments"
)


def _line(ok: bool, name: str, detail: str = "") -> bool:
    print(f"{'✓' if ok else '✗'} {name}{(' — ' + detail) if detail else ''}")  # noqa: T201
    return ok


def _explain(exc: Exception) -> str:
    if isinstance(exc, WeComError):
        hint = DIRECTORY_HINT if exc.errcode in DIRECTORY_DENIED else ""
        return f"{exc.explain()}" + (f"; fix: {hint}" if hint else f"; fix: {exc.hint_zh}")
    return f"{type(exc).__name__}: {exc}"


async def _try(name: str, call: Callable[[], Awaitable[Any]]) -> bool:
    try:
        await call()
    except Exception as exc:
        return _line(False, name, _explain(exc))
    return _line(True, name)


async def contact_way_usage(settings: Settings) -> bool:
    """Live contact and join ways against WeCom's shared quota (W1) and our guard."""
    from bot.contact_ways import usage
    from storage.db import init_db

    cfg = settings.contact_ways
    try:
        ctx = await init_db(settings.database.url, create_schema=False)
    except Exception as exc:
        return _line(False, "contact ways counted", _explain(exc))
    try:
        live = await usage()
    finally:
        await ctx.close_connections()
    detail = f"{live:,} live of WeCom's {cfg.quota:,}; new ones refused from {cfg.max_live:,}"
    if live >= cfg.max_live:
        detail += "; fix: delete unused ways or raise contact_ways.max_live"
    return _line(live < cfg.max_live, "contact ways and join ways", detail)


async def feature_checks(settings: Settings, client: Any, routers: list[Router]) -> bool:
    """Each feature's own lines (`@router.check`), with the database open for them."""
    from storage.db import init_db

    hooks = [(r.name, hook) for r in routers for hook in r.check_hooks]
    if not hooks:
        return True
    try:
        ctx = await init_db(settings.database.url, create_schema=False)
    except Exception as exc:
        return _line(False, "database for the features' checks", _explain(exc))
    ok = True
    try:
        for name, hook in hooks:
            try:
                lines = await hook(client, settings)
            except Exception as exc:
                ok = _line(False, f"{name} checks", _explain(exc)) and ok
                continue
            for line in lines:
                ok = _line(line.ok, line.name, line.detail) and ok
    finally:
        await ctx.close_connections()
    return ok


async def run_checks(settings: Settings, routers: list[Router] | None = None) -> bool:
    from bot.embedded_redis import EmbeddedRedis
    from bot.runtime import default_routers
    from bot.wecom import WeComClient

    ok = _line(True, "configuration loaded", f"corp {settings.wecom.corp_id}")
    problem = secret_problem(settings)
    ok = _line(problem is None, "security.secret is a private random secret", problem or "") and ok
    embedded = None if settings.redis.url else EmbeddedRedis(persist=False)
    redis = Redis.from_url(embedded.start() if embedded else settings.redis.url)
    try:
        async with aiohttp.ClientSession() as session:
            client = WeComClient(settings, redis, session)
            checks: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
                ("gettoken with the app secret", lambda: client.access_token("app")),
                (
                    "gettoken with the customer-contact secret",
                    lambda: client.access_token("contact"),
                ),
                ("department/list with the app secret", client.list_departments),
                (
                    "department/list with the customer-contact secret (expected to fail since 2022)",
                    lambda: client.call("GET", "/cgi-bin/department/list", secret="contact"),
                ),
                ("get_corp_tag_list with the customer-contact secret", client.get_corp_tag_list),
            ]
            for name, call in checks:
                passed = await _try(name, call)
                ok = ok and (passed or "expected to fail" in name)
            chosen = default_routers() if routers is None else routers
            ok = await feature_checks(settings, client, chosen) and ok
    except Exception as exc:
        return _line(False, "WeCom reachable", _explain(exc))
    finally:
        await redis.aclose()
        if embedded:
            embedded.stop()
    return await contact_way_usage(settings) and ok
