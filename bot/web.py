"""The aiohttp application: callback endpoint, operations endpoints, static files, and the
features' HTTP routes from the dispatcher (each wrapped with auth by `bot.http.wrap_view`)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot import callback, headers
from bot.crypto import WeComCrypto
from bot.deps import utcnow
from bot.lifecycle import settle_heap
from bot.logs import request_id
from bot.metrics import REGISTRY, refused, scrape_allowed
from bot.router import Router
from bot.runtime import Runtime
from bot.settings import Settings
from bot.static import add_static
from bot.web_keys import DEPS_KEY

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
RUNTIME_KEY = web.AppKey("runtime", Runtime)
REQUEST_ID_KEY = web.RequestKey("request_id", str)
# Request ids: unique per process by a counter, across processes by a random prefix (a random
# id per request costs a system call on every callback).
_RID_PREFIX = secrets.token_hex(4)
_rid_counter = itertools.count(1)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request id, one access log line, and no traceback ever reaches the client."""
    from bot.http import ApiError, error_response

    rid = request.headers.get("X-Request-Id", "")[:64] or f"{_RID_PREFIX}{next(_rid_counter):x}"
    request[REQUEST_ID_KEY] = rid
    request_id.set(rid)  # this handler runs in its own task: the value ends with it
    start = time.perf_counter()
    try:
        response = await handler(request)
    except ApiError as exc:
        log.info("api error %s on %s %s: %s", exc.status, request.method, request.path, exc.message)
        response = error_response(exc)
    except web.HTTPException as exc:
        # A plain response (returning the exception itself is deprecated in aiohttp).
        response = web.Response(
            status=exc.status, reason=exc.reason, body=exc.body, headers=exc.headers
        )
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unhandled error on %s %s (request %s)", request.method, request.path, rid)
        response = web.json_response(
            {"error": "服务器内部错误，请稍后重试", "request_id": rid}, status=500
        )
    response.headers["X-Request-Id"] = rid
    log.debug(
        "%s %s %s %.1fms",
        request.method,
        request.path,
        response.status,
        (time.perf_counter() - start) * 1000,
    )
    return response


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    from tortoise import connections

    deps = request.app[DEPS_KEY]
    checks: dict[str, str] = {}
    try:
        await connections.get("default").execute_query("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        await asyncio.wait_for(deps.redis.ping(), 2)
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return web.json_response({"ready": ok, **checks}, status=200 if ok else 503)


async def metrics(request: web.Request) -> web.Response:
    from bot.inbox import update_gauges

    deps = request.app[DEPS_KEY]
    if not scrape_allowed(request, deps.settings.security.metrics_token):
        return refused()
    await update_gauges(deps.now())
    return web.Response(
        body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


async def settled(app: web.Application) -> None:
    """Appended last to `on_startup` by the processes that serve (not by tests' apps, whose
    objects come and go): see `settle_heap`."""
    settle_heap()


def create_app(
    settings: Settings,
    *,
    routers: list[Router] | None = None,
    clock: Callable[[], datetime] = utcnow,
    runtime: Runtime | None = None,
    migrate: bool = True,
) -> web.Application:
    """Build the app. Pass `runtime` to share one already-open Runtime (the demo does);
    `migrate=False` only checks that `scrmbot migrate` was run (production web processes)."""
    from bot.http import wrap_view

    app = web.Application(middlewares=[request_context], client_max_size=64 * 1024 * 1024)
    rt = runtime or Runtime(settings, routers, clock, create_schema=migrate)
    app[RUNTIME_KEY] = rt

    async def resources(app: web.Application) -> AsyncIterator[None]:
        if runtime is not None:
            app[DEPS_KEY] = rt.deps
            yield
            return
        async with rt:
            app[DEPS_KEY] = rt.deps
            yield

    async def stopping(app: web.Application) -> None:
        await rt.shutdown()  # before aiohttp waits on in-flight requests (live streams)

    app.cleanup_ctx.append(resources)
    headers.setup(app, settings)
    app.on_shutdown.append(stopping)
    wc = settings.wecom
    callback.setup(app, WeComCrypto(wc.token, wc.encoding_aes_key, wc.corp_id))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    for route in rt.routers_http():
        app.router.add_route(route.method, route.path, wrap_view(route))
    add_static(app, "/static/", STATIC_DIR)  # compressed and cacheable
    return app
