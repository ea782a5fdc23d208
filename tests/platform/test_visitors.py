"""The core's visitor pieces: the client address behind trusted proxies, the per-minute limit
shared by processes, and a page's minimum identity level."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request
from redis.asyncio import Redis

from bot.client_address import client_address
from bot.ratelimit import SharedMinute
from bot.settings import ConfigError, load_settings
from bot.visitors import Assurance, PublicVisitor, require
from storage.visitors import Visitor


def _request(peer: str, forwarded: str = "") -> object:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    transport_info = {"peername": (peer, 40000)}

    class Transport:
        def get_extra_info(self, name: str, default: object = None) -> object:
            return transport_info.get(name, default)

    return make_mocked_request("GET", "/r/x", headers=headers, transport=Transport())


def test_forwarded_for_only_from_trusted_proxies() -> None:
    spoofed = _request("198.51.100.9", "1.2.3.4")
    assert client_address(spoofed, []) == "198.51.100.9"  # type: ignore[arg-type]
    assert client_address(spoofed, ["10.0.0.0/8"]) == "198.51.100.9"  # type: ignore[arg-type]
    chain = _request("10.0.0.2", "1.2.3.4, 203.0.113.5, 10.0.0.1")
    # the nearest hop a trusted proxy saw; what the client wrote further left is not believed
    assert client_address(chain, ["10.0.0.0/8"]) == "203.0.113.5"  # type: ignore[arg-type]
    only_proxies = _request("10.0.0.2", "10.0.0.1")
    assert client_address(only_proxies, ["10.0.0.0/8"]) == "10.0.0.2"  # type: ignore[arg-type]
    v6 = _request("::1", "2001:db8::7")
    assert client_address(v6, ["::1"]) == "2001:db8::7"  # type: ignore[arg-type]


async def test_limit_is_shared_by_processes_through_redis(redis: Redis) -> None:
    now = [600.0]
    one = SharedMinute(redis, "t:rl", clock=lambda: now[0], sync_every=0)
    two = SharedMinute(redis, "t:rl", clock=lambda: now[0], sync_every=0)
    assert all(one.hit("k", 5) for _ in range(3))
    await one.sync()
    assert all(two.hit("k", 5) for _ in range(3))  # each process alone is under the limit
    await two.sync()  # ... but the sum (6) is over it
    assert not two.hit("k", 5)
    await one.sync()
    one.hit("k", 5)
    await one.sync()
    assert not one.hit("k", 5)
    assert one.hit("other", 5)
    now[0] += 60
    assert one.hit("k", 5) and two.hit("k", 5)  # a new minute
    assert one.hit("once", 120)
    await one.sync()
    assert await redis.keys("t:rl:*:once") == []  # far below the limit: no Redis work


async def test_limit_holds_without_redis() -> None:
    gone = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    limit = SharedMinute(gone, "t:rl", clock=lambda: 0.0, sync_every=0)
    assert [limit.hit("k", 2) for _ in range(3)] == [True, True, False]
    await limit.sync()  # best effort: no error
    await gone.aclose()


def test_require_a_minimum_level() -> None:
    row = Visitor(id="v1")
    anonymous = PublicVisitor("v1", row, "", Assurance.ANONYMOUS)
    page = require(anonymous, Assurance.TOKEN)
    assert page is not None and page.status == 403
    assert "顾问发给您的链接" in (page.text or "")
    oauth_page = require(anonymous, Assurance.OAUTH)
    assert oauth_page is not None and "微信" in (oauth_page.text or "")
    token = PublicVisitor("v1", row, "wm_1", Assurance.TOKEN)
    assert require(token, Assurance.TOKEN) is None
    assert require(token, Assurance.OAUTH) is not None
    assert Assurance.OAUTH.label == "oauth"


def test_trusted_proxies_setting_is_checked() -> None:
    env = {"SCRMBOT_SERVER__TRUSTED_PROXIES": "[10.0.0.0/8, 192.168.1.7]"}
    assert load_settings(environ=env).server.trusted_proxies == ["10.0.0.0/8", "192.168.1.7"]
    with pytest.raises(ConfigError, match="trusted_proxies"):
        load_settings(environ={"SCRMBOT_SERVER__TRUSTED_PROXIES": "[proxy.local]"})
    assert load_settings(environ={}).server.trusted_proxies == []
