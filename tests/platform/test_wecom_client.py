"""WeComClient against a small fake WeCom on loopback and the embedded Redis."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from bot.embedded_redis import EmbeddedRedis
from bot.metrics import REGISTRY
from bot.ratelimit import MemberWindow, TokenBucket
from bot.settings import load_settings
from bot.wecom import MemberRateLimited, WeComClient, WeComError
from bot.wecom_errors import explained_codes

USER_GET = "/cgi-bin/user/get"
SEND = "/cgi-bin/message/send"


class FakeWeCom:
    """The WeCom paths the client uses; `faults[path]` holds errcodes (or "drop") to answer
    before answering normally."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.faults: dict[str, list[int | str]] = defaultdict(list)
        self.tokens: dict[str, str] = {}  # token -> corpsecret
        self.expired: set[str] = set()
        self.requests: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.issued = 0
        self.base = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/cgi-bin/gettoken", self.gettoken)
        app.router.add_route("*", "/cgi-bin/{tail:.*}", self.api)
        return app

    async def gettoken(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        await asyncio.sleep(0.05)  # long enough for concurrent callers to pile up
        secret = request.query.get("corpsecret", "")
        if secret == "wrong":
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        self.issued += 1
        token = f"TOKEN{self.issued}x{secret[:3]}"
        self.tokens[token] = secret
        return web.json_response({"errcode": 0, "access_token": token, "expires_in": 7200})

    async def api(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.hits[path] += 1
        if self.faults[path]:
            fault = self.faults[path].pop(0)
            if fault == "drop":
                # Not HTTP at all, then hang up: the client sees a protocol error.
                assert request.transport is not None
                request.transport.write(b"garbage\r\n\r\n")
                request.transport.close()
                return web.Response()
            if fault == "slow":
                await asyncio.sleep(0.3)
                return web.json_response({"errcode": 0})
            return web.json_response({"errcode": fault, "errmsg": "injected"})
        token = request.query.get("access_token", "")
        if token in self.expired:
            return web.json_response({"errcode": 42001, "errmsg": "access_token expired"})
        if token not in self.tokens:
            return web.json_response({"errcode": 40014, "errmsg": "invalid access_token"})
        body: dict[str, Any] = {}
        if request.content_type == "application/json":
            body = await request.json()
        elif request.content_type.startswith("multipart/"):
            post = await request.post()
            media = post["media"]
            assert isinstance(media, web.FileField)
            body = {"filename": media.filename, "data": media.file.read().decode()}
        self.requests[path].append({"query": dict(request.query), "json": body, "token": token})
        return web.json_response({"errcode": 0, "errmsg": "ok", **self.answer(request, body)})

    def answer(self, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        path, q = request.path, request.query
        if path == USER_GET:
            return {"userid": q["userid"], "name": "张三"}
        if path == "/cgi-bin/get_jsapi_ticket":
            return {"ticket": f"jsapi{self.hits[path]}", "expires_in": 7200}
        if path == "/cgi-bin/ticket/get":
            return {"ticket": f"{q['type']}{self.hits[path]}", "expires_in": 7200}
        if path == "/cgi-bin/externalcontact/get":
            cursor = q.get("cursor", "")
            follow = [{"userid": "u2" if cursor else "u1"}]
            return {
                "external_contact": {"name": "客户"},
                "follow_user": follow,
                "next_cursor": "" if cursor else "c2",
            }
        if path == "/cgi-bin/externalcontact/list":
            return {"external_userid": ["wmA", "wmB"]}
        if path == "/cgi-bin/media/upload":
            return {"type": q["type"], "media_id": f"M-{body['filename']}-{body['data']}"}
        if path == "/cgi-bin/auth/getuserinfo":
            return {"userid": "zhangsan", "user_ticket": "T", "openid": ""}
        return {}


class FakeTime:
    """A clock that moves only when told to (or when the client sleeps, if `advance`)."""

    def __init__(self, advance: bool = True) -> None:
        self.now = 1_700_000_000.0
        self.advance = advance
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.advance:
            self.now += seconds
        await asyncio.sleep(0.002)


@pytest.fixture
async def fake(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> AsyncIterator[FakeWeCom]:
    f = FakeWeCom()
    server = await aiohttp_server(f.app())
    f.base = str(server.make_url("")).rstrip("/")
    yield f


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


MakeClient = Callable[..., WeComClient]


@pytest.fixture
def make_client(
    fake: FakeWeCom,
    redis: Redis,
    session: aiohttp.ClientSession,
) -> MakeClient:
    def make(
        time: FakeTime | None = None,
        redis_client: Redis | None = None,
        http: aiohttp.ClientSession | None = None,
        **wecom: Any,
    ) -> WeComClient:
        t = time or FakeTime()
        wecom = {"api_base": fake.base, "timeout": 2.0, **wecom}
        s = load_settings(None, environ={}, overrides={"wecom": wecom})
        return WeComClient(
            s,
            redis_client or redis,
            http or session,
            sleep=t.sleep,
            clock=t.clock,
        )

    return make


def calls(endpoint: str, errcode: str) -> float:
    labels = {"endpoint": endpoint, "errcode": errcode}
    return REGISTRY.get_sample_value("scrmbot_wecom_calls_total", labels) or 0.0


# --- tokens --------------------------------------------------------------------------------


async def test_one_gettoken_for_20_concurrent_calls(
    fake: FakeWeCom, make_client: MakeClient
) -> None:
    client = make_client()
    users = await asyncio.gather(*(client.get_user(f"u{i}") for i in range(20)))
    assert [u["userid"] for u in users] == [f"u{i}" for i in range(20)]
    assert fake.hits["/cgi-bin/gettoken"] == 1
    assert fake.hits[USER_GET] == 20


async def test_two_clients_on_one_redis_share_the_token(
    fake: FakeWeCom, make_client: MakeClient, redis_server: EmbeddedRedis
) -> None:
    other_redis = Redis.from_url(redis_server.url)
    async with aiohttp.ClientSession() as other_http:
        a = make_client()
        b = make_client(redis_client=other_redis, http=other_http)
        await asyncio.gather(*(c.get_user("u") for c in [a, b] * 10))
    await other_redis.aclose()
    assert fake.hits["/cgi-bin/gettoken"] == 1
    assert len({r["token"] for r in fake.requests[USER_GET]}) == 1


async def test_each_secret_has_its_own_token_and_keys_hide_secrets(
    fake: FakeWeCom, make_client: MakeClient, redis: Redis
) -> None:
    client = make_client()
    await client.get_user("u")
    assert await client.list_external_contacts("u") == ["wmA", "wmB"]
    assert sorted(fake.tokens.values()) == ["sandbox-app-secret", "sandbox-contact-secret"]
    assert fake.requests["/cgi-bin/externalcontact/list"][0]["token"].endswith("san")
    keys = [k.decode() for k in await redis.keys("*")]
    assert keys and not any("secret" in k for k in keys)


async def test_expired_token_is_refreshed_once_and_the_call_retried(
    fake: FakeWeCom, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client()
    await client.get_user("u")
    fake.expired.update(fake.tokens)
    assert (await client.get_user("u"))["userid"] == "u"
    assert fake.hits["/cgi-bin/gettoken"] == 2
    assert fake.hits[USER_GET] == 3
    ours = " ".join(r.getMessage() for r in caplog.records if r.name.startswith("bot"))
    assert "refreshing the access_token" in ours
    assert not any(tok in ours for tok in fake.tokens) and "secret" not in ours.replace(
        "(app secret)", ""
    )


async def test_the_token_is_read_from_redis_once_for_a_burst(
    fake: FakeWeCom, make_client: MakeClient
) -> None:
    """Within a few seconds a process reuses the token it read; one WeCom refuses is dropped
    here too, and the next call reads the new one."""
    client = make_client()
    reads = 0
    shared = client.cache.get

    async def counted(key: str, fetch: Any) -> str:
        nonlocal reads
        reads += 1
        return await shared(key, fetch)

    client.cache.get = counted  # type: ignore[method-assign]
    for i in range(20):
        await client.get_user(f"u{i}")
    assert reads == 1 and fake.hits["/cgi-bin/gettoken"] == 1
    fake.expired.update(fake.tokens)
    assert (await client.get_user("u"))["userid"] == "u"
    assert reads == 2 and fake.hits["/cgi-bin/gettoken"] == 2
    tokens = {r["token"] for r in fake.requests[USER_GET][-1:]}
    assert tokens and not tokens & set(fake.expired)


async def test_a_token_error_twice_is_raised_after_one_refresh(
    fake: FakeWeCom, make_client: MakeClient
) -> None:
    client = make_client()
    fake.faults[USER_GET] = [40014, 40014]
    with pytest.raises(WeComError) as err:
        await client.get_user("u")
    assert err.value.errcode == 40014
    assert fake.hits["/cgi-bin/gettoken"] == 2
    assert fake.hits[USER_GET] == 2


async def test_a_wrong_secret_is_tried_once_by_all_waiters(
    fake: FakeWeCom, make_client: MakeClient
) -> None:
    client = make_client(secret="wrong")
    results = await asyncio.gather(
        *(client.get_user("u") for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, WeComError) and r.errcode == 40001 for r in results)
    assert fake.hits["/cgi-bin/gettoken"] == 1
    assert "wecom.secret" in results[0].explain()  # type: ignore[union-attr]


# --- retries -------------------------------------------------------------------------------


async def test_45009_and_minus_1_are_retried_with_backoff(
    fake: FakeWeCom, make_client: MakeClient
) -> None:
    t = FakeTime()
    client = make_client(time=t)
    before = calls(USER_GET, "45009")
    fake.faults[USER_GET] = [45009, -1, 45033]
    assert (await client.get_user("u"))["userid"] == "u"
    assert fake.hits[USER_GET] == 4
    assert calls(USER_GET, "45009") == before + 1
    assert len(t.sleeps) == 3
    for attempt, delay in enumerate(t.sleeps):
        ceiling = 0.5 * 2**attempt
        assert ceiling / 2 <= delay <= ceiling


async def test_retries_stop_at_max_retries(fake: FakeWeCom, make_client: MakeClient) -> None:
    client = make_client(max_retries=2)
    fake.faults[USER_GET] = [-1] * 5
    with pytest.raises(WeComError) as err:
        await client.get_user("u")
    assert err.value.errcode == -1
    assert fake.hits[USER_GET] == 3


async def test_48002_is_not_retried_and_is_explained(
    fake: FakeWeCom, make_client: MakeClient
) -> None:
    t = FakeTime()
    client = make_client(time=t)
    fake.faults["/cgi-bin/externalcontact/list"] = [48002]
    with pytest.raises(WeComError) as err:
        await client.list_external_contacts("u")
    exc = err.value
    assert (exc.errcode, exc.endpoint) == (48002, "/cgi-bin/externalcontact/list")
    assert fake.hits["/cgi-bin/externalcontact/list"] == 1
    assert t.sleeps == []
    assert "not permitted" in exc.explain()
    assert "客户联系 API 权限" in exc.hint_zh and "可调用接口的应用" in exc.hint_zh


def test_every_required_code_has_an_explanation() -> None:
    required = {48002, 60020, 40014, 42001, 41001, 45009, 45033, -1, 84061, 40096, 60011}
    required |= {41051, 40029, 42012, 301002}
    assert required <= explained_codes()
    assert "企业可信IP" in WeComError(60020, "x", "/p").hint_zh
    hint = WeComError(60011, "x", "/p").hint_zh
    assert "通讯录权限" in hint and "2022" in hint
    unknown = WeComError(99999, "odd", "/p")
    assert "99999" in unknown.hint_zh and "99999" in unknown.explain()


async def test_network_errors_are_retried_and_never_leak_the_token(
    fake: FakeWeCom, make_client: MakeClient
) -> None:
    client = make_client(max_retries=2)
    before = calls(USER_GET, "network")
    fake.faults[USER_GET] = ["drop"]
    assert (await client.get_user("u"))["userid"] == "u"
    assert calls(USER_GET, "network") == before + 1
    fake.faults[USER_GET] = ["drop"] * 3
    with pytest.raises(WeComError) as err:
        await client.get_user("u")
    assert err.value.network and err.value.errcode == -1
    assert not any(tok in str(err.value) for tok in fake.tokens)
    assert fake.hits[USER_GET] == 2 + 3


async def test_unknown_codes_are_not_retried(fake: FakeWeCom, make_client: MakeClient) -> None:
    client = make_client()
    fake.faults[USER_GET] = [60111]
    with pytest.raises(WeComError):
        await client.get_user("ghost")
    assert fake.hits[USER_GET] == 1


async def test_timeouts_are_retried(fake: FakeWeCom, make_client: MakeClient) -> None:
    client = make_client(timeout=0.1)
    await client.get_user("warm")  # the token, fetched at normal speed
    fake.faults[USER_GET] = ["slow"]
    assert (await client.get_user("u"))["userid"] == "u"
    assert fake.hits[USER_GET] == 3


# --- rate limits ---------------------------------------------------------------------------


async def test_token_bucket_takes_capacity_then_asks_to_wait(
    redis: Redis, redis_server: EmbeddedRedis
) -> None:
    t = FakeTime(advance=False)
    other = Redis.from_url(redis_server.url)
    a = TokenBucket(redis, "t:bucket", 10, clock=t.clock)  # 10/min: 5 burst, 1 per 6 s
    b = TokenBucket(other, "t:bucket", 10, clock=t.clock)  # another process, same Redis
    waits = [await (a if i % 2 else b).try_take("/p") for i in range(8)]
    await other.aclose()
    assert waits[:5] == [0.0] * 5
    assert all(5.9 <= w <= 6.1 for w in waits[5:6])
    assert await a.try_take("/other") == 0.0  # buckets are per endpoint
    t.now += 6
    assert await a.try_take("/p") == 0.0
    assert await a.try_take("/p") > 0


async def test_token_bucket_holds_a_burst_back(fake: FakeWeCom, make_client: MakeClient) -> None:
    t = FakeTime(advance=False)
    client = make_client(time=t, rate_per_minute=10)
    tasks = [asyncio.create_task(client.get_user(f"u{i}")) for i in range(8)]
    for _ in range(500):
        if fake.hits[USER_GET] >= 5:
            break
        await asyncio.sleep(0.01)
    for _ in range(20):  # let the held-back calls poll a few more times
        await asyncio.sleep(0.005)
    assert fake.hits[USER_GET] == 5
    assert sum(task.done() for task in tasks) == 5
    t.now += 60  # a minute later the bucket is full again
    await asyncio.gather(*tasks)
    assert fake.hits[USER_GET] == 8


async def test_token_bucket_gives_many_tokens_in_one_take_up_to_what_it_holds(
    redis: Redis,
) -> None:
    t = FakeTime(advance=False)
    bucket = TokenBucket(redis, "t:many", 10, clock=t.clock)  # 5 burst, 1 per 6 s
    assert await bucket.take("/p", 3) == (3, 0.0)
    taken, wait = await bucket.take("/p", 4)  # only two left
    assert taken == 2 and 5.9 <= wait <= 6.1
    assert (await bucket.take("/p", 1))[0] == 0


async def test_a_reservation_takes_a_sets_rate_tokens_in_one_round_trip(
    fake: FakeWeCom, make_client: MakeClient
) -> None:
    t = FakeTime(advance=False)
    client = make_client(time=t, rate_per_minute=10)  # 5 burst
    await client.access_token()  # gettoken has a bucket of its own
    assert await client.reserve(USER_GET, 3) == 3
    takes = 0
    take = client.bucket.take

    async def counting(key: str, wanted: int) -> tuple[int, float]:
        nonlocal takes
        takes += 1
        return await take(key, wanted)

    client.bucket.take = counting  # type: ignore[method-assign]
    await asyncio.gather(*(client.get_user(f"u{i}") for i in range(3)))
    assert takes == 0  # the three calls used the reserved tokens
    # The reservation counted against the shared rate: two tokens are left, then none.
    await asyncio.gather(*(client.get_user(f"v{i}") for i in range(2)))
    assert takes == 2 and fake.hits[USER_GET] == 5
    assert await client.reserve(USER_GET, 3) == 0


def card_msg(n: int) -> dict[str, Any]:
    return {"msgtype": "text", "text": {"content": f"第{n}条"}}


async def test_31st_message_to_a_member_in_a_minute_is_deferred(
    fake: FakeWeCom, make_client: MakeClient
) -> None:
    t = FakeTime()
    client = make_client(time=t)
    for i in range(30):
        await client.send_message(["zhangsan"], card_msg(i))
    with pytest.raises(MemberRateLimited) as err:
        await client.send_message(["zhangsan", "lisi"], card_msg(31))
    assert err.value.userids == ["zhangsan"]
    assert 59 <= err.value.retry_after <= 60
    assert err.value.sent is not None
    sent = fake.requests[SEND]
    assert len(sent) == 31 and sent[-1]["json"]["touser"] == "lisi"
    assert {r["json"]["agentid"] for r in sent} == {1000002}


async def test_a_short_wait_for_a_member_is_waited_out(
    fake: FakeWeCom, make_client: MakeClient, redis_server: EmbeddedRedis
) -> None:
    t = FakeTime()
    client = make_client(time=t)
    for i in range(30):
        await client.send_message(["zhangsan"], card_msg(i))
    t.now += 58
    other_redis = Redis.from_url(redis_server.url)  # the limit holds across processes
    other = make_client(time=t, redis_client=other_redis)
    result = await other.send_message(["zhangsan"], card_msg(31))
    await other_redis.aclose()
    assert result["errcode"] == 0
    assert t.sleeps and 1.9 <= t.sleeps[-1] <= 2.0
    assert len(fake.requests[SEND]) == 31


async def test_member_window_counts_each_member(redis: Redis) -> None:
    t = FakeTime(advance=False)
    window = MemberWindow(redis, "t:msg", 2, clock=t.clock)
    assert await window.take(["a", "b"]) == {}
    assert await window.take(["a"]) == {}
    waits = await window.take(["a", "b"])
    assert list(waits) == ["a"] and waits["a"] == 60.0
    t.now += 60
    assert await window.take(["a"]) == {}


# --- tickets and helpers -------------------------------------------------------------------


async def test_tickets_are_cached_per_kind(fake: FakeWeCom, make_client: MakeClient) -> None:
    client, again = make_client(), make_client()
    jsapi = await asyncio.gather(*(c.get_jsapi_ticket() for c in [client, again] * 5))
    agent = await asyncio.gather(*(c.get_agent_ticket() for c in [client, again] * 5))
    assert set(jsapi) == {"jsapi1"} and set(agent) == {"agent_config1"}
    assert fake.hits["/cgi-bin/get_jsapi_ticket"] == 1
    assert fake.hits["/cgi-bin/ticket/get"] == 1


async def test_template_cards_sent_and_updated(fake: FakeWeCom, make_client: MakeClient) -> None:
    client = make_client()
    card = {"card_type": "button_interaction", "task_id": "t1"}
    await client.send_template_card(["a", "b", "a"], card)
    sent = fake.requests[SEND][0]["json"]
    assert sent == {
        "msgtype": "template_card",
        "template_card": card,
        "touser": "a|b",
        "agentid": 1000002,
    }
    await client.update_template_card(["a"], "RC", {"button": {"replace_name": "已处理"}})
    update = fake.requests["/cgi-bin/message/update_template_card"][0]["json"]
    assert update == {
        "userids": ["a"],
        "agentid": 1000002,
        "response_code": "RC",
        "button": {"replace_name": "已处理"},
    }
    with pytest.raises(ValueError):
        await client.update_template_card(["a"], "RC", {"card": {}})
    with pytest.raises(ValueError):
        await client.send_message([], card_msg(1))


async def test_external_contact_follow_users_are_paged(
    fake: FakeWeCom, make_client: MakeClient
) -> None:
    contact = await make_client().get_external_contact("wmA")
    assert [f["userid"] for f in contact["follow_user"]] == ["u1", "u2"]
    assert contact["external_contact"]["name"] == "客户"
    pages = fake.requests["/cgi-bin/externalcontact/get"]
    assert [p["query"].get("cursor") for p in pages] == [None, "c2"]
    assert all(p["token"].endswith("san") for p in pages)  # the contact secret's token


async def test_helpers_send_what_wecom_expects(fake: FakeWeCom, make_client: MakeClient) -> None:
    client = make_client()
    assert await client.upload_media("image", "a.png", b"PNG") == "M-a.png-PNG"
    assert await client.auth_user_info("CODE") == {"userid": "zhangsan", "user_ticket": "T"}
    await client.mark_tag("u", "wmA", add=["t1"])
    await client.send_welcome_msg("WC", "欢迎")
    await client.groupchat_list()
    assert fake.requests["/cgi-bin/externalcontact/mark_tag"][0]["json"] == {
        "userid": "u",
        "external_userid": "wmA",
        "add_tag": ["t1"],
        "remove_tag": [],
    }
    assert fake.requests["/cgi-bin/externalcontact/send_welcome_msg"][0]["json"] == {
        "welcome_code": "WC",
        "text": {"content": "欢迎"},
    }
    assert fake.requests["/cgi-bin/externalcontact/groupchat/list"][0]["json"]["limit"] == 100
    fake.faults["/cgi-bin/externalcontact/list"] = [84061]
    assert await client.list_external_contacts("nobody") == []
