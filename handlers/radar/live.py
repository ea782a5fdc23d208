"""Server-sent events for the console's radar page, fed by Redis pub/sub (so visits recorded
by any web process reach every open console). A stopping process ends every open stream at
once (the browser reconnects to another process), so a deploy never waits on a keepalive."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from bot.auth_types import Role
from bot.deps import Deps
from bot.http import ApiError, RequestContext
from bot.streams import open_stream
from handlers.radar.common import get_radar, int_param, live_channel
from handlers.radar.router import router
from handlers.radar.toolbar import may_see
from storage.radar import Radar

KEEPALIVE = 15.0
MAX_SECONDS = 30 * 60  # the browser's EventSource reconnects by itself


class LiveStreams:
    """The open streams of this process, so shutdown can end them."""

    def __init__(self) -> None:
        self.closing = asyncio.Event()
        self.open = 0

    def close_all(self) -> None:
        self.closing.set()


@router.resource
async def live_streams(deps: Deps) -> AsyncIterator[LiveStreams]:
    yield LiveStreams()


@router.on_shutdown
async def close_live_streams(deps: Deps) -> None:
    deps.resource(live_streams).close_all()


async def _next_message(pubsub: Any, closing: asyncio.Event) -> dict[str, Any] | None:
    """The next pub/sub message; None after a quiet KEEPALIVE or when closing."""
    get = asyncio.ensure_future(
        pubsub.get_message(ignore_subscribe_messages=True, timeout=KEEPALIVE)
    )
    stop = asyncio.ensure_future(closing.wait())
    try:
        await asyncio.wait({get, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (get, stop):
            task.cancel()
    if closing.is_set() or get.cancelled():
        return None
    message: dict[str, Any] | None = get.result()
    return message


@router.get(r"/api/radar/radars/{id:\d+}/live", role=Role.STAFF)
async def live_view(ctx: RequestContext) -> web.StreamResponse:
    assert ctx.user is not None
    streams: LiveStreams = ctx.deps.resource(live_streams)
    radar = await get_radar(int_param(ctx))
    if not await may_see(ctx.user, radar):
        raise ApiError(404, "雷达不存在或已删除")  # as for a radar that does not exist
    async with open_stream(ctx):  # per-person and per-process caps: a 429 past them
        return await _stream(ctx, radar, streams)


async def _stream(ctx: RequestContext, radar: Radar, streams: LiveStreams) -> web.StreamResponse:
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
    streams.open += 1
    try:
        while loop.time() < deadline:
            message = await _next_message(pubsub, streams.closing)
            if streams.closing.is_set():
                break
            if message is None:
                await response.write(b": keepalive\n\n")
                continue
            data = message["data"]
            text = data.decode() if isinstance(data, bytes) else str(data)
            await response.write(f"event: visit\ndata: {text}\n\n".encode())
    except ConnectionResetError:
        pass
    finally:
        streams.open -= 1
        with contextlib.suppress(Exception):
            await pubsub.unsubscribe()
            await pubsub.aclose()  # type: ignore[no-untyped-call]
    return response
