"""The welcome arbiter: one welcome per add by feature priority, decided on its own lane
(no worker runs here), and the reason plus a fallback card when none can be sent."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.embedded_redis import EmbeddedRedis
from bot.events import ExternalContactEvent, event_from_dict
from bot.metrics import WELCOMES
from bot.router import Router
from bot.sandbox.corp import Corp
from bot.welcome import Welcome, arbitrate
from handlers.welcome import router as welcome_router
from storage.core import WelcomeLog
from storage.welcome import DefaultWelcome
from tests.harness import Stack, running_stack
from tests.support import logged_statements

SEND = "/cgi-bin/externalcontact/send_welcome_msg"


def probes() -> Router:
    router = Router("probe")

    @router.welcome(priority=30)
    async def fission(deps: object, event: ExternalContactEvent) -> Welcome | None:
        return Welcome("裂变活动欢迎语") if event.state.startswith("fx") else None

    @router.welcome(priority=20)
    async def channel(deps: object, event: ExternalContactEvent) -> Welcome | None:
        if event.state.startswith(("fx", "ch")):
            return Welcome("渠道欢迎语", [{"msgtype": "link", "link": {"title": "t", "url": "u"}}])
        return None

    @router.welcome(priority=25)
    async def broken(deps: object, event: ExternalContactEvent) -> Welcome | None:
        raise RuntimeError("a failing provider is skipped")

    return router


def corp(clock: list[float] | None = None) -> Corp:
    c = Corp(clock=(lambda: clock[0]) if clock else __import__("time").time)
    c.add_staff("lina", "李娜")
    return c


async def decided(external_userid: str) -> WelcomeLog:
    """Wait (bounded) for the lane's decision; no worker is run by these tests."""
    for _ in range(500):
        row = await WelcomeLog.get_or_none(external_userid=external_userid)
        if row is not None and row.status != "pending":
            return row
        await asyncio.sleep(0.02)
    raise AssertionError(f"no welcome decision for {external_userid}")


async def add(stack: Stack, state: str = "") -> str:
    result = await stack.driver.customer_adds_staff("lina", state=state, name="王芳")
    assert result.status == 200
    return str(result.info["external_userid"])


async def test_priority_picks_one_welcome_per_add(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    routers = [welcome_router, probes()]
    async with running_stack(tmp_path, db_url, redis_server.url, corp=corp(), routers=routers) as s:
        await DefaultWelcome.create(id=1, enabled=True, text="默认欢迎语")
        expected = {"fx-1": "裂变活动欢迎语", "ch-1": "渠道欢迎语", "": "默认欢迎语"}
        for state, text in expected.items():
            ext = await add(s, state)
            row = await decided(ext)
            assert row.status == "sent" and row.reason == "", row
            sent = [m for m in s.corp.welcome_messages if m.external_userid == ext]
            assert [m.payload["text"]["content"] for m in sent] == [text]
        providers = [r.provider for r in await WelcomeLog.all().order_by("id")]
        assert providers == ["probe.fission", "probe.channel", "welcome.default_welcome"]
        await s.run_jobs()  # the worker's safety net decides nothing twice
        assert len(s.corp.welcome_messages) == 3
        assert len(await s.sandbox_calls(SEND)) == 3


async def test_no_code_when_the_console_has_a_welcome(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    c = corp()
    c.console_welcome.add("lina")
    async with running_stack(tmp_path, db_url, redis_server.url, corp=c, routers=[probes()]) as s:
        row = await decided(await add(s, "ch-2"))
        assert (row.status, row.reason, row.fallback_sent) == ("not_sent", "no_code", True)
        card = s.corp.inbox("lina")[-1].card or {}
        assert card["main_title"]["title"] == "欢迎语未自动发送"
        assert card["sub_title_text"] == "渠道欢迎语"
        assert await s.sandbox_calls(SEND) == []


async def test_late_add_is_dropped_with_a_metric(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    import time

    clock = [time.time() - 30]  # the add happened 30 s ago: past WeCom's 20 s
    before = WELCOMES.labels("late")._value.get()
    async with running_stack(
        tmp_path, db_url, redis_server.url, corp=corp(clock), routers=[probes()]
    ) as s:
        row = await decided(await add(s, "fx-3"))
        assert (row.status, row.reason, row.fallback_sent) == ("not_sent", "late", True)
        assert WELCOMES.labels("late")._value.get() == before + 1
        assert await s.sandbox_calls(SEND) == []
        assert (s.corp.inbox("lina")[-1].card or {})["sub_title_text"] == "裂变活动欢迎语"


async def test_code_used_by_another_app_is_41051(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    c = corp()
    c.other_app_welcomes = True
    async with running_stack(tmp_path, db_url, redis_server.url, corp=c, routers=[probes()]) as s:
        row = await decided(await add(s, "ch-4"))
        assert (row.status, row.reason, row.fallback_sent) == ("not_sent", "41051", True)
        assert [c["errcode"] for c in await s.sandbox_calls(SEND)] == [41051]
        assert s.corp.welcome_messages == []


async def test_no_provider_no_fallback(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with running_stack(
        tmp_path, db_url, redis_server.url, corp=corp(), routers=[welcome_router]
    ) as s:
        row = await decided(await add(s))
        assert (row.status, row.reason, row.fallback_sent) == ("not_sent", "no_provider", False)
        assert s.corp.inbox("lina") == []


async def test_an_add_no_provider_welcomes_is_decided_in_one_statement(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    """Nothing will be sent: the decision is the row's INSERT alone (no claim, then update),
    and a second run (the worker's safety net) decides nothing."""
    async with running_stack(tmp_path, db_url, redis_server.url, corp=corp(), routers=[]) as s:
        event = event_from_dict(
            {
                "MsgType": "event",
                "Event": "change_external_contact",
                "ChangeType": "add_external_contact",
                "UserID": "lina",
                "ExternalUserID": "wmNoProvider",
                "CreateTime": "1700000000",
            }
        )
        assert isinstance(event, ExternalContactEvent)
        with logged_statements() as statements:
            row = await arbitrate(s.deps, event)
            again = await arbitrate(s.deps, event)
        assert row and not again
        assert statements.count == 2  # one INSERT each run
        stored = await WelcomeLog.get(external_userid="wmNoProvider")
        assert (stored.status, stored.reason, stored.provider) == ("not_sent", "no_provider", "")
        assert stored.decided_at is not None
        assert s.corp.inbox("lina") == []
