"""Visitor identity through the service account's OAuth, against the whole stack (the sandbox
plays the 服务号): a forwarded link opened by a customer known only through OAuth is theirs;
failures fall back to the weaker identities; a browser goes round at most once."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from bot.deps import Deps
from bot.embedded_redis import EmbeddedRedis
from bot.sandbox.corp import Corp
from bot.sandbox.mp import MP_APP_ID, MP_SECRET
from bot.settings import WeChatMpSettings
from handlers import facts as facts_pkg
from handlers.facts.sync import full_sync
from handlers.radar import followup, visits
from handlers.radar import router as radar_router
from handlers.radar.common import clear_caches
from handlers.system import router as system_router
from storage.facts import FollowRelation, TimelineEntry
from storage.radar import Visit
from storage.visitors import Visitor
from tests.harness import Stack, running_stack
from tests.radar.support import make_radar, make_share, open_link

ANN, BEN, CARL = "wmOauthAnn0001", "wmOauthBen0002", "wmOauthCarl003"
WECHAT_UA = "Mozilla/5.0 (iPhone) MicroMessenger/8.0.50"


def oauth_corp() -> Corp:
    corp = Corp()
    corp.add_department(2, "销售部")
    corp.add_staff("alice", "艾丽丝", [2])
    corp.add_staff("bob", "鲍勃", [2])
    corp.add_customer("安娜", ANN, unionid="oUnionAnn000000000000000001")
    corp.add_customer("本杰明", BEN, unionid="oUnionBen000000000000000002")
    corp.add_customer("卡尔", CARL, unionid="oUnionCarl00000000000000003")  # no one's customer yet
    corp.add_follow("alice", ANN, "", 1, int(time.time()) - 86400)
    corp.add_follow("bob", BEN, "", 1, int(time.time()) - 86400)
    corp.add_tags("意向", ["看过资料"])
    return corp


@pytest.fixture
async def stack(tmp_path: Path, db_url: str, redis_server: EmbeddedRedis) -> AsyncIterator[Stack]:
    clear_caches()
    routers = [system_router, facts_pkg.router, radar_router]
    async with running_stack(
        tmp_path, db_url, redis_server.url, corp=oauth_corp(), routers=routers
    ) as s:
        s.settings.wechat_mp = WeChatMpSettings(
            app_id=MP_APP_ID, secret=MP_SECRET, oauth_base=s.sandbox_url, api_base=s.sandbox_url
        )
        await full_sync({"deps": s.deps})
        yield s


def wechat() -> aiohttp.ClientSession:
    """A phone's WeChat browser: its own cookies (kept for 127.0.0.1 too)."""
    jar = aiohttp.CookieJar(unsafe=True)
    return aiohttp.ClientSession(cookie_jar=jar, headers={"User-Agent": WECHAT_UA})


async def open_in_wechat(
    browser: aiohttp.ClientSession, link: str, customer: str = ""
) -> tuple[int, str, str]:
    """Open `link`; at the service account's OAuth, be `customer` (or deny when empty).
    Returns (status, final URL, whether OAuth was shown: "oauth" or "")."""
    resp = await browser.get(link, allow_redirects=False)
    if resp.status != 302 or "/connect/oauth2/authorize" not in resp.headers["Location"]:
        return resp.status, str(resp.url), ""
    authorize = resp.headers["Location"]
    assert authorize.endswith("#wechat_redirect")
    choice = {"sandbox_customer": customer} if customer else {"sandbox_deny": "1"}
    page = await browser.get(authorize.split("#")[0] + "&" + urlencode(choice))
    return page.status, str(page.url), "oauth"


async def self_link(stack: Stack, html: str) -> str:
    """The page's own forwardable URL (`?from=` this visitor), as landing.js would set it."""
    marker = '"self": "'
    start = html.index(marker) + len(marker)
    return stack.app_url + html[start : html.index('"', start)]


async def test_forward_opened_by_a_customer_known_only_through_oauth(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(followup, "ACTIVE_WITHIN", 0)
    monkeypatch.setattr(visits, "FINALIZE_AFTER", 0.2)
    tag = next(iter(stack.corp.tag_ids()))
    radar = await make_radar(stack.deps, tag_ids=[tag])
    share = await make_share(stack.deps, radar, "alice", ANN)
    link = f"{stack.app_url}/r/{share.token}"
    async with wechat() as ann, wechat() as ben:
        status, url, via = await open_in_wechat(ann, link, ANN)
        assert (status, via) == (200, "oauth")
        page = await (await ann.get(link, allow_redirects=False)).text()  # no second round
        forwarded = await self_link(stack, page)
        assert "from=" in forwarded

        status, url, via = await open_in_wechat(ben, forwarded, BEN)
        assert (status, via) == (200, "oauth")
        query = parse_qs(urlsplit(url).query)
        assert query["from"] == [forwarded.split("from=")[1]]  # the level survives OAuth
    first = await Visit.filter(level=1).first()
    second = await Visit.get(level=2)
    assert first is not None and first.external_userid == ANN
    assert (second.external_userid, second.channel, second.root_userid) == (BEN, "forward", "alice")
    visitor = await Visitor.get(id=second.visitor_id)
    assert visitor.openid and visitor.unionid == "oUnionBen000000000000000002"
    await stack.run_jobs()
    assert tag in stack.corp.get_follow("bob", BEN).tag_ids  # tags on the customer's relation
    cards = [m for m in stack.corp.inbox("alice") if m.msgtype == "template_card"]
    assert any("本杰明" in str(c.payload) for c in cards), [c.payload for c in cards]
    assert await TimelineEntry.exists(external_userid=BEN, kind="radar_view")


async def test_denied_oauth_falls_back_without_a_loop(stack: Stack) -> None:
    radar = await make_radar(stack.deps)
    share = await make_share(stack.deps, radar, "alice", ANN)
    link = f"{stack.app_url}/r/{share.token}"
    async with wechat() as phone:
        status, _, via = await open_in_wechat(phone, link)  # denied: the share's customer
        assert (status, via) == (200, "oauth")
        again = await phone.get(link + "?from=x", allow_redirects=False)
        assert again.status == 200  # the attempt is remembered: never sent round again
    visit_rows = await Visit.all().values_list("external_userid", flat=True)
    assert visit_rows == [ANN, ANN]
    assert await Visitor.all().count() == 0  # nothing learnt: no row for the browser
    assert len(set(await Visit.all().values_list("visitor_id", flat=True))) == 1


async def test_mapping_error_leaves_the_forward_anonymous(stack: Stack) -> None:
    radar = await make_radar(stack.deps)
    share = await make_share(stack.deps, radar, "alice", ANN)
    link = f"{stack.app_url}/r/{share.token}"
    await stack.session.post(
        stack.sandbox_url + "/sandbox/api/faults",
        json={
            "path": "/cgi-bin/externalcontact/unionid_to_external_userid",
            "errcode": 60020,
            "count": 5,
        },
    )
    async with wechat() as ann, wechat() as ben:
        await open_in_wechat(ann, link, ANN)  # mapping fails: the share's customer still
        page = await (await ann.get(link)).text()
        status, _, via = await open_in_wechat(ben, await self_link(stack, page), BEN)
        assert (status, via) == (200, "oauth")
    levels = await Visit.all().order_by("started_at").values_list("level", "external_userid")
    assert sorted(levels) == [(1, ANN), (1, ANN), (2, "")]


async def test_bad_code_and_no_cookie_never_loop(stack: Stack) -> None:
    radar = await make_radar(stack.deps)
    share = await make_share(stack.deps, radar, "alice", "")
    link = f"{stack.app_url}/r/{share.token}"
    async with wechat() as phone:
        resp = await phone.get(f"{link}/oauth?code=forged&state=nope", allow_redirects=False)
        assert resp.status == 302 and resp.headers["Location"].endswith("?oa=1")
        page = await phone.get(resp.headers["Location"].replace("/r/", f"{stack.app_url}/r/"))
        assert page.status == 200
    async with aiohttp.ClientSession(headers={"User-Agent": WECHAT_UA}) as no_cookies:
        back = await no_cookies.get(link + "?oa=1", allow_redirects=False)
        assert back.status == 200  # a browser that drops cookies still reaches the page
    assert await Visit.filter(external_userid="").count() == 2


async def test_off_by_default_and_only_inside_wechat(
    client: TestClient, deps: Deps, corp: None
) -> None:
    assert not deps.settings.wechat_mp.enabled
    share = await make_share(deps, await make_radar(deps))
    status, _ = await open_link(client, f"/r/{share.token}")
    assert status == 200
    deps.settings.wechat_mp = WeChatMpSettings(app_id="wx0123456789abcdef", secret="s3cret")
    client.session.cookie_jar.clear()
    assert (await client.get(f"/r/{share.token}", allow_redirects=False)).status == 200
    resp = await client.get(
        f"/r/{share.token}?from=abc.def",
        allow_redirects=False,
        headers={"User-Agent": WECHAT_UA},
    )
    assert resp.status == 302
    location = resp.headers["Location"]
    parts = urlsplit(location)
    assert location.startswith("https://open.weixin.qq.com/connect/oauth2/authorize?")
    assert parts.fragment == "wechat_redirect"
    q = parse_qs(parts.query)
    assert q["appid"] == ["wx0123456789abcdef"] and q["scope"] == ["snsapi_base"]
    assert q["response_type"] == ["code"] and q["state"][0].isalnum()
    assert q["redirect_uri"] == [deps.url(f"/r/{share.token}/oauth?from=abc.def")]


async def test_friends_only_opens_once_the_visitor_adds_the_advisor(stack: Stack) -> None:
    """WeChat knows the visitor, WeCom answers a pending_id (not a customer yet); after they add
    the advisor the same phone sees the content — page and files — without another OAuth."""
    radar = await make_radar(stack.deps, friends_only=True)
    share = await make_share(stack.deps, radar, "alice", "")  # sent to a group
    link = f"{stack.app_url}/r/{share.token}"
    file_url = f"{link}/f/{radar.files[0]['name']}"
    async with wechat() as carl:
        status, _, via = await open_in_wechat(carl, link, CARL)
        assert (status, via) == (403, "oauth")
        visitor = await Visitor.get()
        assert visitor.pending_id and not visitor.external_userid
        assert (await carl.get(file_url)).status == 403
        await stack.driver.customer_adds_staff("alice", CARL)
        await stack.run_jobs()
        await visitor.refresh_from_db()
        assert (visitor.external_userid, visitor.pending_id) == (CARL, "")
        again = await carl.get(link, allow_redirects=False)
        assert again.status == 200  # no OAuth round: the browser is known
        assert (await carl.get(file_url)).status == 200
    assert await Visit.filter(external_userid=CARL).count() == 1


async def test_pending_visitor_is_looked_up_again_on_a_later_open(stack: Stack) -> None:
    """Without the add event (it may come late), a later open asks WeCom again."""
    radar = await make_radar(stack.deps, friends_only=True)
    share = await make_share(stack.deps, radar, "alice", "")
    link = f"{stack.app_url}/r/{share.token}"
    async with wechat() as carl:
        assert (await open_in_wechat(carl, link, CARL))[:1] == (403,)
        stack.corp.add_follow("alice", CARL, "", 1, int(time.time()))
        await Visitor.all().update(checked_at=None)  # the recheck interval has passed
        await FollowRelation.create(
            userid="alice", external_userid=CARL, added_at=stack.deps.now()
        )  # what the facts module records from the add event
        assert (await carl.get(link, allow_redirects=False)).status == 200
    assert (await Visitor.get()).external_userid == CARL
