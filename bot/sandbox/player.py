"""Playing customers and staff against the sandbox WeCom, for the features' demo seeds and
their 模拟 buttons: `POST /sandbox/api/play/<action>` on the sandbox this process talks to.
Only a sandbox on this machine may be played (never a real WeCom)."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bot.http import ApiError

Play = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


def sandbox_enabled(api_base: str) -> bool:
    """Whether `api_base` is a sandbox on this machine (localhost or a loopback address)."""
    host = urlsplit(api_base).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@asynccontextmanager
async def sandbox_player(
    api_base: str, refusal: str = "只有连接沙箱企业微信时才能模拟"
) -> AsyncIterator[Play]:
    """`play(action, body)` on one HTTP session; a refusal (409) when `api_base` is not a
    local sandbox, a 502 naming the sandbox's answer when an action fails."""
    base = api_base.rstrip("/")
    if not sandbox_enabled(base):
        raise ApiError(409, refusal)
    async with aiohttp.ClientSession() as session:

        async def play(action: str, body: dict[str, Any]) -> dict[str, Any]:
            async with session.post(f"{base}/sandbox/api/play/{action}", json=body) as resp:
                if resp.status != 200:
                    raise ApiError(502, f"沙箱模拟失败：{(await resp.text())[:200]}")
                data: dict[str, Any] = await resp.json()
                return data

        yield play
