"""获客链接 mode through the sandbox WeCom: one link per activity (the app's secret), each
poster's QR code the link's URL with the participant's channel, the add through it credited
once however often WeCom delivers it, a quota unit used; the link follows the staff and is
deleted N days after the end; the editor refuses the mode while only the 客户联系 secret may
call the API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot import contact_ways
from bot.check import run_checks
from bot.embedded_redis import EmbeddedRedis
from bot.sandbox.errors import SandboxError
from bot.wecom_errors import WeComError
from handlers.fission import participants, router
from handlers.fission.check import NAME
from handlers.fission.pages import personal_url
from handlers.fission.poster import DEFAULT_SIZE, layout_for
from storage.contact_ways import ContactWay, WayKind
from storage.db import init_db
from storage.fission import FissionAttempt, FissionHelp, FissionParticipant
from tests.auth.support import build_app, csrf, sign_in
from tests.fission.test_admin import body as activity_body
from tests.fission.test_sandbox_chain import (
    join_token,
    market_corp,
    qr_matches,
    running_activity,
    sync_directory,
)
from tests.harness import running_stack
from tests.sop.test_check import REAL_SECRET
from tests.support import wait_until

LINK_OPTIONS = {"customer_script": "帮我扫一下，谢谢！", "qr_kind": "link"}


async def test_a_link_mode_activity_end_to_end(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, corp=market_corp()) as stack:
        await sync_directory(stack)
        activity = await running_activity(stack, options=LINK_OPTIONS)
        corp = stack.corp
        await stack.driver.customer_adds_staff("zhangsan", name="小王", welcome=False)
        await stack.run_jobs()
        wang = next(c.external_userid for c in corp.customers.values() if c.name == "小王")

        link_url = personal_url(stack.deps, activity.id, wang)
        query = link_url[link_url.index("?") :]
        base = f"{stack.app_url}/f/{activity.id}"
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as phone:
            async with phone.get(link_url) as r:
                page = await r.text()
            async with phone.post(
                base + "/join" + query, data={"token": join_token(page)}, allow_redirects=False
            ) as r:
                assert r.status == 303, await r.text()
            async with phone.get(base + "/poster.png" + query) as r:
                assert r.status == 200 and r.content_type == "image/png"
                png = await r.read()

        participant = await FissionParticipant.get(activity_id=activity.id)
        link = await ContactWay.get(kind=WayKind.LINK, feature="fission")
        assert link.owner_key == str(activity.id)
        sandbox_link = corp.get_link(link.config_id)
        assert (
            sorted(sandbox_link.users) == ["lisi", "zhangsan"] and link.qr_code == sandbox_link.url
        )
        assert not await ContactWay.filter(kind=WayKind.CONTACT).exists()  # no way quota used
        calls = await stack.sandbox_calls(
            "/cgi-bin/externalcontact/customer_acquisition/create_link"
        )
        assert [c["secret"] for c in calls] == ["app"]
        # the poster's QR code is exactly the link's URL with the participant's channel
        expected = f"{sandbox_link.url}?customer_channel=f%3A{participant.code}"
        box = layout_for({}, DEFAULT_SIZE)["qr"]
        assert qr_matches(png, box, expected)

        # a friend opens that URL and adds; WeCom delivers the add three times
        channel = parse_qs(urlsplit(expected).query)["customer_channel"][0]
        assert channel == f"f:{participant.code}"
        result = await stack.driver.customer_opens_acquisition_link(
            link.config_id, channel, name="好友甲"
        )
        await stack.driver.deliver_raw(result.xml, times=2)
        await stack.run_jobs()
        helper = result.info["external_userid"]
        assert corp.follows_of_customer(helper)[0].state == channel
        await wait_until(lambda: len(corp.welcome_messages) == 1)
        assert "感谢你为 小王 助力" in str(corp.welcome_messages[0].payload["text"]["content"])
        helps = await FissionHelp.filter(activity_id=activity.id)
        assert [(h.helper, h.participant_id) for h in helps] == [(helper, participant.id)]
        outcomes = await FissionAttempt.filter(activity_id=activity.id).values_list(
            "outcome", flat=True
        )
        assert list(map(str, outcomes)) == ["counted"]
        quota = await stack.deps.wecom.acquisition_quota()
        assert (quota["total"], quota["balance"]) == (1000, 999)

        # a second poster reuses the activity's one link
        other = await participants.join(stack.deps, activity, "wm_second")
        again = await participants.poster_qr(stack.deps, activity, other)
        assert again.key == link.config_id and f"f%3A{other.code}" in again.text
        assert len(corp.acquisition_links) == 1


async def test_the_link_follows_the_staff_and_is_deleted_after_the_end(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, corp=market_corp()) as stack:
        await sync_directory(stack)
        deps = stack.deps
        activity = await running_activity(stack, options=LINK_OPTIONS)
        p = await participants.join(deps, activity, "wm_someone")
        qr = await participants.poster_qr(deps, activity, p)
        activity.staff = ["lisi"]
        await activity.save()
        assert await participants.update_ways(deps, activity) == (1, 0)
        assert stack.corp.get_link(qr.key).users == ["lisi"]  # the same URL, new staff
        added = await stack.driver.customer_opens_acquisition_link(qr.key, f"f:{p.code}")
        assert added.xml and "<UserID><![CDATA[lisi]]>" in added.xml

        # ended 8 days ago, kept 7 days: deleted in WeCom by the registry's cron
        activity.end_at = deps.now() - timedelta(days=8)
        activity.way_keep_days = 7
        await activity.save()
        assert await participants.expire_ways(activity) == 1
        assert await contact_ways.delete_expired(deps) == 1
        assert not stack.corp.acquisition_links
        assert not await ContactWay.filter(kind=WayKind.LINK).exists()
        try:
            await stack.driver.customer_opens_acquisition_link(qr.key, f"f:{p.code}")
            raise AssertionError("a deleted link still adds")
        except SandboxError as exc:
            assert exc.errcode == 40058
        # links never count against the contact-way quota
        assert await contact_ways.usage() == 0


async def test_the_editor_offers_the_mode_only_when_the_app_may_call_it(
    tmp_path: Path,
    db_url: str,
    redis_server: EmbeddedRedis,
    aiohttp_client: Callable[[web.Application], Awaitable[TestClient]],
) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, corp=market_corp()) as stack:
        await sync_directory(stack)
        deps = stack.deps
        client = await aiohttp_client(build_app(deps))
        await sign_in(client, deps, "admin")
        url = "/api/fission/activities"
        wanted = activity_body(staff=["zhangsan"], qr_kind="link")

        # the app is not in 可调用应用: only the 客户联系 secret could reach the API, and
        # WeCom refuses that one too
        stack.corp.acquisition_api_allowed = False
        status = await (await client.get("/api/fission/acquisition")).json()
        assert status["available"] is False and "可调用应用" in status["message"]
        resp = await client.post(url, json=wanted, headers=csrf(client))
        err = await resp.json()
        assert resp.status == 409 and err["field"] == "qr_kind" and "可调用应用" in err["error"]
        assert (await client.get(url)).status == 200
        assert (await (await client.get(url)).json())["total"] == 0
        try:
            await deps.wecom.call(
                "GET", "/cgi-bin/externalcontact/customer_acquisition_quota", secret="contact"
            )
            raise AssertionError("the 客户联系 secret was let through")
        except WeComError as exc:
            assert exc.errcode == 48002

        stack.corp.acquisition_api_allowed = True
        stack.corp.acquisition_balance = 321
        status = await (await client.get("/api/fission/acquisition")).json()
        assert (status["available"], status["total"], status["balance"]) == (True, 1000, 321)
        resp = await client.post(url, json=wanted, headers=csrf(client))
        made = await resp.json()
        assert resp.status == 201 and made["qr_kind"] == "link", made
        # the mode once chosen stays editable even if WeCom withdraws the permission later
        stack.corp.acquisition_api_allowed = False
        resp = await client.post(f"{url}/{made['id']}", json=wanted, headers=csrf(client))
        assert resp.status == 200, await resp.text()
        resp = await client.post(
            f"{url}/{made['id']}", json=activity_body(staff=["zhangsan"]), headers=csrf(client)
        )
        assert resp.status == 200 and (await resp.json())["qr_kind"] == "way"


async def test_scrmbot_check_names_the_missing_permission(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_stack(
        tmp_path,
        db_url,
        redis_server.url,
        corp=market_corp(),
        routers=[router],
        security={"secret": REAL_SECRET},
    ) as stack:
        await sync_directory(stack)
        assert await run_checks(stack.settings, [router]) is True
        out = capsys.readouterr().out
        assert f"✓ {NAME} — no activity uses it; 获客 quota left 1000 of 1000" in out

        stack.corp.acquisition_api_allowed = False
        await init_db(stack.settings.database.url, create_schema=False)  # check closed ours
        assert await run_checks(stack.settings, [router]) is True  # the mode is optional
        assert f"✓ {NAME} — no activity uses it; WeCom" in capsys.readouterr().out
        await init_db(stack.settings.database.url, create_schema=False)
        await running_activity(stack, options=LINK_OPTIONS)
        assert await run_checks(stack.settings, [router]) is False
        out = capsys.readouterr().out
        assert f"✗ {NAME} — used by 春季好友助力" in out and "可调用应用" in out
