"""Live streams are capped per person and per process: past the cap a 429 in Chinese, and
the rest of the service keeps answering."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from bot.deps import Deps
from bot.http import ApiError
from bot.streams import SLOTS, StreamSlots
from tests.auth.support import sign_in
from tests.radar.support import make_radar


@contextlib.asynccontextmanager
async def _streams(client: TestClient, url: str, n: int) -> AsyncIterator[list[ClientResponse]]:
    opened = []
    try:
        for _ in range(n):
            resp = await client.get(url)
            assert resp.status == 200
            assert await resp.content.readline() == b"retry: 3000\n"  # the stream is live
            opened.append(resp)
        yield opened
    finally:
        for resp in opened:
            resp.close()


async def test_a_person_gets_three_streams(client: TestClient, deps: Deps, corp: None) -> None:
    radar = await make_radar(deps)
    url = f"/api/radar/radars/{radar.id}/live"
    await sign_in(client, deps, "alice")
    async with _streams(client, url, 3):
        refused = await client.get(url)
        assert refused.status == 429
        assert "每人最多 3 个" in (await refused.json())["error"]
        assert SLOTS.per_user["alice"] == 3
        await sign_in(client, deps, "bob")  # another person still gets theirs
        async with _streams(client, url, 1):
            assert (await client.get("/api/radar/radars")).status in (200, 403)


async def test_the_process_cap() -> None:
    slots = StreamSlots()
    async with slots.take("a", 3, 2), slots.take("b", 3, 2):
        with pytest.raises(ApiError) as err:
            async with slots.take("c", 3, 2):
                pass
        assert err.value.status == 429
    assert (slots.total, dict(slots.per_user)) == (0, {})
    async with slots.take("c", 3, 2):  # freed on the way out
        assert slots.total == 1


def test_caps_are_settings() -> None:
    from bot.settings import load_settings

    s = load_settings(None, environ={"SCRMBOT_SERVER__MAX_STREAMS_PER_USER": "5"})
    assert (s.server.max_streams_per_user, s.server.max_streams) == (5, 200)
