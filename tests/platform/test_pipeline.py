"""The callback pipeline end to end: real encryption, the app on loopback, a real Redis,
a burst arq worker, and the sandbox WeCom."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.crypto import WeComCrypto
from bot.embedded_redis import EmbeddedRedis
from bot.events import ExternalContactEvent
from bot.inbox import WELCOME_RUN, requeue_stranded
from bot.router import Router
from storage.core import HandlerRun, InboxEvent, InboxStatus
from tests.harness import Stack, running_stack

ADD_XML = (
    "<xml><ToUserName><![CDATA[{corp}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
    "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType>"
    "<Event><![CDATA[change_external_contact]]></Event>"
    "<ChangeType><![CDATA[add_external_contact]]></ChangeType>"
    "<UserID><![CDATA[zhangsan]]></UserID><ExternalUserID><![CDATA[{ext}]]></ExternalUserID>"
    "</xml>"
)


def recording_router(seen: list[str], fail: bool = False) -> Router:
    router = Router("probe")

    @router.event("change_external_contact", "add_external_contact")
    async def on_add(deps: Any, event: ExternalContactEvent) -> None:
        seen.append(event.external_user_id)
        if fail:
            raise RuntimeError("boom")

    return router


async def post_callback(stack: Stack, xml: str) -> tuple[int, str]:
    crypto: WeComCrypto = stack.driver.crypto
    params, body = crypto.encrypt_callback(xml)
    async with stack.session.post(
        stack.app_url + "/wecom/callback", params=params, data=body
    ) as resp:
        return resp.status, await resp.text()


async def test_delivered_three_times_one_row_one_run(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    seen: list[str] = []
    async with running_stack(
        tmp_path, db_url, redis_server.url, routers=[recording_router(seen)]
    ) as stack:
        xml = ADD_XML.format(corp=stack.settings.wecom.corp_id, ext="wmA")
        # WeCom retries re-send the same plaintext, encrypted anew each time.
        results = [await post_callback(stack, xml) for _ in range(3)]
        assert [r[0] for r in results] == [200, 200, 200]
        await stack.run_jobs()
        assert await InboxEvent.all().count() == 1
        row = await InboxEvent.get()
        assert row.status == InboxStatus.DONE
        assert seen == ["wmA"]
        runs = await HandlerRun.filter(inbox_id=row.id).values_list("handler", flat=True)
        assert sorted(runs) == [WELCOME_RUN, "probe.on_add"]  # each once


async def test_two_distinct_events_same_second_are_not_merged(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    seen: list[str] = []
    async with running_stack(
        tmp_path, db_url, redis_server.url, routers=[recording_router(seen)]
    ) as stack:
        corp = stack.settings.wecom.corp_id
        for ext in ("wmA", "wmB"):  # both FromUserName "sys", same CreateTime
            assert (await post_callback(stack, ADD_XML.format(corp=corp, ext=ext)))[0] == 200
        await stack.run_jobs()
        assert sorted(seen) == ["wmA", "wmB"]


async def test_redis_down_still_acknowledged_then_processed(tmp_path: Path, db_url: str) -> None:
    redis = EmbeddedRedis(str(tmp_path / "redis"), persist=False)
    redis.start()
    seen: list[str] = []
    try:
        async with running_stack(
            tmp_path,
            db_url,
            redis.url,
            routers=[recording_router(seen)],
            inbox={"stranded_after_seconds": 0.01},
        ) as stack:
            redis.kill()
            xml = ADD_XML.format(corp=stack.settings.wecom.corp_id, ext="wmDown")
            status, _ = await post_callback(stack, xml)
            assert status == 200
            row = await InboxEvent.get()
            assert row.status == InboxStatus.PENDING and seen == []
            redis.start_on(redis.port)
            await asyncio.sleep(0.05)
            assert await requeue_stranded(stack.deps) == 1
            await stack.run_jobs()
            assert seen == ["wmDown"]
            assert (await InboxEvent.get()).status == InboxStatus.DONE
    finally:
        redis.stop()


async def test_failing_handler_retried_then_dead_and_isolated(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    seen_bad: list[str] = []
    seen_good: list[str] = []
    async with running_stack(
        tmp_path,
        db_url,
        redis_server.url,
        routers=[recording_router(seen_bad, fail=True), _renamed(recording_router(seen_good))],
        inbox={"max_attempts": 2, "retry_base_seconds": 0.01},
    ) as stack:
        xml = ADD_XML.format(corp=stack.settings.wecom.corp_id, ext="wmX")
        assert (await post_callback(stack, xml))[0] == 200
        await stack.run_jobs()
        row = await InboxEvent.get()
        assert row.status == InboxStatus.DEAD and row.attempts == 2
        assert "boom" in (row.last_error or "")
        assert seen_good == ["wmX"]  # the healthy handler ran once, not again on the retry
        assert len(seen_bad) == 2


def _renamed(router: Router) -> Router:
    router.name = "probe2"
    router.events = [
        type(r)(f"probe2.{r.handler.__name__}", r.event, r.change_type, r.handler)
        for r in router.events
    ]
    return router


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        ("bad_signature", 403),
        ("missing_params", 400),
        ("not_xml", 400),
        ("bad_base64", 400),
        ("oversized", 413),
        ("entity", 400),
    ],
)
async def test_rejections_never_500(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis, mutate: str, status: int
) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, routers=[]) as stack:
        xml = ADD_XML.format(corp=stack.settings.wecom.corp_id, ext="wmR")
        params, body = stack.driver.crypto.encrypt_callback(xml)
        if mutate == "bad_signature":
            params["msg_signature"] = "0" * 40
        elif mutate == "missing_params":
            params.pop("nonce")
        elif mutate == "not_xml":
            body = b"{not xml"
        elif mutate == "bad_base64":
            from bot.crypto import signature

            body = b"<xml><Encrypt>@@@</Encrypt></xml>"
            crypto = stack.driver.crypto
            params["msg_signature"] = signature(
                crypto.token, params["timestamp"], params["nonce"], "@@@"
            )
        elif mutate == "oversized":
            body = b"<xml>" + b"x" * (70 * 1024) + b"</xml>"
        elif mutate == "entity":
            body = b'<!DOCTYPE x [<!ENTITY a "b">]><xml><Encrypt>&a;</Encrypt></xml>'
        async with stack.session.post(
            stack.app_url + "/wecom/callback", params=params, data=body
        ) as resp:
            text = await resp.text()
            assert resp.status == status, text
            assert "Traceback" not in text
        assert await InboxEvent.all().count() == 0


async def test_wrong_corp_is_400(tmp_path: Path, db_url: str, redis_server: EmbeddedRedis) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, routers=[]) as stack:
        wc = stack.settings.wecom
        other = WeComCrypto(wc.token, wc.encoding_aes_key, "ww-someone-else")
        params, body = other.encrypt_callback(ADD_XML.format(corp="x", ext="e"))
        async with stack.session.post(
            stack.app_url + "/wecom/callback", params=params, data=body
        ) as resp:
            assert resp.status == 400


async def test_url_verification_and_ops(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, routers=[]) as stack:
        crypto = stack.driver.crypto
        echo = crypto.encrypt("8964123")
        from bot.crypto import signature

        params = {
            "msg_signature": signature(crypto.token, "1", "n", echo),
            "timestamp": "1",
            "nonce": "n",
            "echostr": echo,
        }
        async with stack.session.get(stack.app_url + "/wecom/callback", params=params) as resp:
            assert resp.status == 200 and await resp.text() == "8964123"
        params["msg_signature"] = "f" * 40
        async with stack.session.get(stack.app_url + "/wecom/callback", params=params) as resp:
            assert resp.status == 403
        async with stack.session.get(stack.app_url + "/readyz") as resp:
            assert resp.status == 200 and (await resp.json())["ready"] is True
        async with stack.session.get(stack.app_url + "/metrics") as resp:
            assert "scrmbot_callbacks_total" in await resp.text()
