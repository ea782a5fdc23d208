"""Helpers shared by the radar views and jobs: path parameters, ordering, the short-lived
caches the public landing page reads on every open, and the live channel name."""

from __future__ import annotations

import asyncio
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import quote

from bot.http import ApiError, RequestContext, path_id
from storage.radar import Radar, Share

SHARE_PURPOSE = "radar.share"
FROM_PURPOSE = "radar.from"
BEAT_PURPOSE = "radar.beat"
MOVES = ("up", "down", "top", "bottom")
Move = Literal["up", "down", "top", "bottom"]


_URL_SAFE = "!#$%&'()*+,/:;=?@[]~-._"
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def link_target(url: str) -> str | None:
    """The link radar's target as it may go into a Location header: http(s) in any case (the
    scheme written lower-case), no control characters or spaces, anything beyond ASCII
    percent-encoded; None when unusable."""
    scheme, sep, rest = url.strip().partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest or _CONTROL.search(rest):
        return None
    return f"{scheme.lower()}://{quote(rest, safe=_URL_SAFE)}"


def live_channel(radar_id: int) -> str:
    return f"scrmbot:radar:live:{radar_id}"


def int_param(ctx: RequestContext, name: str = "id") -> int:
    return path_id(ctx.request, name)


async def get_radar(radar_id: int) -> Radar:
    radar = await Radar.get_or_none(id=radar_id, deleted=False)
    if radar is None:
        raise ApiError(404, "雷达不存在或已删除")
    return radar


class Ordered(Protocol):
    id: Any
    order: int

    async def save(self, *args: Any, **kwargs: Any) -> None: ...


def reorder(items: list[Any], item_id: int, move: Move) -> list[Any]:
    """The items in their new order after moving one of them (up, down, top, bottom)."""
    ids = [i.id for i in items]
    if item_id not in ids:
        raise ApiError(404, "找不到该记录")
    pos = ids.index(item_id)
    item = items.pop(pos)
    target = {"up": max(pos - 1, 0), "down": min(pos + 1, len(items)), "top": 0}.get(
        move, len(items)
    )
    items.insert(target, item)
    return items


async def save_order(items: list[Any]) -> None:
    for index, item in enumerate(items):
        if item.order != index:
            item.order = index
            await item.save(update_fields=["order"])


# --- caches for the landing page ------------------------------------------------------------


@dataclass(frozen=True)
class ShareInfo:
    id: int
    radar_id: int
    userid: str
    external_userid: str
    chat_id: str


class _TTLCache:
    """A small in-process cache; a radar edit is visible within `ttl` seconds everywhere."""

    def __init__(self, ttl: float, size: int = 10_000) -> None:
        self.ttl, self.size = ttl, size
        self._data: OrderedDict[Any, tuple[float, Any]] = OrderedDict()
        self._loading: dict[Any, asyncio.Future[Any]] = {}

    async def load(self, key: Any, fetch: Callable[[], Awaitable[Any]]) -> Any:
        """The cached value, or else one `fetch` shared by every caller that misses the key
        while it runs: when a popular link's entry expires, the requests in flight wait for
        one query instead of each running its own. None (not found) is not cached."""
        found = self.get(key)
        if found is not None:
            return found
        pending = self._loading.get(key)
        if pending is None:
            pending = self._loading[key] = asyncio.ensure_future(self._fetch(key, fetch))
        # shielded: a caller that goes away (a closed connection) does not cancel the others'
        return await asyncio.shield(pending)

    async def _fetch(self, key: Any, fetch: Callable[[], Awaitable[Any]]) -> Any:
        try:
            value = await fetch()
            if value is not None:
                self.put(key, value)
            return value
        finally:
            del self._loading[key]

    def get(self, key: Any) -> Any:
        hit = self._data.get(key)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def put(self, key: Any, value: Any) -> None:
        self._data[key] = (time.monotonic() + self.ttl, value)
        self._data.move_to_end(key)
        while len(self._data) > self.size:
            self._data.popitem(last=False)

    def drop(self, key: Any) -> None:
        self._data.pop(key, None)


_shares = _TTLCache(3600)  # a share never changes
_radars = _TTLCache(2)


def cached_share(token: str) -> ShareInfo | None:
    """The share of a token already looked up (and so already verified) in this process."""
    found: ShareInfo | None = _shares.get(token)
    return found


async def share_by_token(token: str) -> ShareInfo | None:
    async def fetch() -> ShareInfo | None:
        row = await Share.get_or_none(token=token)
        if row is None:
            return None
        return ShareInfo(row.id, row.radar_id, row.userid, row.external_userid, row.chat_id)  # type: ignore[attr-defined]

    found: ShareInfo | None = await _shares.load(token, fetch)
    return found


async def radar_cached(radar_id: int) -> Radar | None:
    found: Radar | None = await _radars.load(radar_id, lambda: Radar.get_or_none(id=radar_id))
    return found


def forget_radar(radar_id: int) -> None:
    _radars.drop(radar_id)


def clear_caches() -> None:
    """Forget every cached share and radar (tests; a database swapped under a process)."""
    from handlers.radar import page

    _shares._data.clear()
    _radars._data.clear()
    page.clear()
