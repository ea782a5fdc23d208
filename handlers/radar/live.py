"""Server-sent events for the console's radar page, fed by Redis pub/sub (so visits recorded
by any web process reach every open console)."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from bot.auth_types import Role
from bot.http import ApiError, RequestContext
from bot.router import Router
from handlers.radar.common import get_radar, int_param, live_channel
from handlers.radar.toolbar import may_see

KEEPALIVE = 15.0
MAX_SECONDS = 30 * 60  # the browser's EventSource reconnects by itself


async def live_view(ctx: RequestContext) -> web.StreamResponse:
    assert ctx.user is not None
    radar = await get_radar(int_param(ctx))
    if not await may_see(ctx.user, radar):
        raise ApiError(404, "雷达不存在或已删除")  # as for a radar that does not exist
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(ctx.request)
    await response.write(b"retry: 3000\n\n")
    pubsub = ctx.deps.redis.pubsub()
    await pubsub.subscribe(live_channel(radar.id))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + MAX_SECONDS
    try:
        while loop.time() < deadline:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=KEEPALIVE)
            if message is None:
                await response.write(b": keepalive\n\n")
                continue
            data = message["data"]
            text = data.decode() if isinstance(data, bytes) else str(data)
            await response.write(f"event: visit\ndata: {text}\n\n".encode())
    except ConnectionResetError:
        pass
    finally:
        with contextlib.suppress(Exception):
            await pubsub.unsubscribe()
            await pubsub.aclose()
    return response


def register(router: Router) -> None:
    router.get(r"/api/radar/radars/{id:\d+}/live", role=Role.STAFF)(live_view)
