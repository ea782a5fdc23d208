"""Caps on long-lived responses (server-sent events): each holds a socket and a Redis
connection for up to half an hour, so one person opening hundreds would exhaust the process's
file descriptors and take /readyz and the public pages down with them. Counted per web
process, which is what runs out."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator

from bot.http import ApiError, RequestContext


class StreamSlots:
    def __init__(self) -> None:
        self.total = 0
        self.per_user: Counter[str] = Counter()

    @contextlib.asynccontextmanager
    async def take(self, who: str, per_user: int, total: int) -> AsyncIterator[None]:
        if self.per_user[who] >= per_user:
            raise ApiError(
                429, f"同时打开的实时页面过多（每人最多 {per_user} 个），请关闭其他页面后重试"
            )
        if self.total >= total:
            raise ApiError(429, "服务器当前实时连接过多，请稍后重试")
        self.per_user[who] += 1
        self.total += 1
        try:
            yield
        finally:
            self.total -= 1
            self.per_user[who] -= 1
            if not self.per_user[who]:
                del self.per_user[who]


SLOTS = StreamSlots()


def open_stream(ctx: RequestContext) -> contextlib.AbstractAsyncContextManager[None]:
    """`async with open_stream(ctx): ...` around a streaming view; over a cap it is a 429."""
    limits = ctx.deps.settings.server
    who = ctx.user.userid if ctx.user else f"ip:{ctx.request.remote}"
    return SLOTS.take(who, limits.max_streams_per_user, limits.max_streams)
