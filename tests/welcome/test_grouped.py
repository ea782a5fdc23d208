"""The welcome lane claims the adds that arrive together with one INSERT: a WelcomeCode is
still used at most once per add, whether the add comes three times in one group, through two
processes' lanes at once, or its send fails."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from pathlib import Path

from bot.deps import ProcessState
from bot.embedded_redis import EmbeddedRedis
from bot.events import ExternalContactEvent, event_from_dict
from bot.router import Router
from bot.sandbox.corp import Corp
from bot.welcome import Welcome, WelcomeLane, arbitrate_many
from storage.core import WelcomeLog
from tests.harness import Stack, running_stack
from tests.support import Statements, logged_statements

SEND = "/cgi-bin/externalcontact/send_welcome_msg"


def channel() -> Router:
    router = Router("probe")

    @router.welcome(priority=20)
    async def welcome(deps: object, event: ExternalContactEvent) -> Welcome | None:
        if event.state == "ch":
            return Welcome("渠道欢迎语")
        if event.state == "bad":
            return Welcome("")  # WeCom refuses a welcome with neither text nor attachments
        return None

    return router


def corp() -> Corp:
    c = Corp()
    c.add_staff("lina", "李娜")
    return c


def add_event(s: Stack, n: int, state: str) -> ExternalContactEvent:
    external_userid = s.corp.add_customer(f"客户{n}").external_userid
    code = s.corp.issue_welcome_code("lina", external_userid)
    event = event_from_dict(
        {
            "MsgType": "event",
            "Event": "change_external_contact",
            "ChangeType": "add_external_contact",
            "UserID": "lina",
            "ExternalUserID": external_userid,
            "State": state,
            "WelcomeCode": code,
            "CreateTime": str(int(time.time())),
        }
    )
    assert isinstance(event, ExternalContactEvent)
    return event


def counting_inserts() -> contextlib.AbstractContextManager[Statements]:
    return logged_statements("INSERT INTO welcome_log")


def welcomed(s: Stack) -> list[str]:
    """The customers WeCom delivered a welcome to, once per welcome."""
    return sorted(m.external_userid for m in s.corp.welcome_messages)


async def test_a_group_with_copies_of_its_adds_is_one_insert_and_one_send_per_add(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with running_stack(
        tmp_path, db_url, redis_server.url, corp=corp(), routers=[channel()]
    ) as s:
        a, b, c = add_event(s, 1, "ch"), add_event(s, 2, ""), add_event(s, 3, "ch")
        group = [a, a, b, c, b, a]  # WeCom's retries of a and b within the same group
        with counting_inserts() as inserts:
            decided = await arbitrate_many(s.deps, group)
        assert decided == [True, False, True, True, False, False]
        assert inserts.count == 1
        assert welcomed(s) == sorted([a.external_user_id, c.external_user_id])
        assert len(await s.sandbox_calls(SEND)) == 2
        rows = {r.external_userid: r for r in await WelcomeLog.all()}
        assert len(rows) == 3
        assert (rows[a.external_user_id].status, rows[a.external_user_id].provider) == (
            "sent",
            "probe.welcome",
        )
        assert rows[b.external_user_id].reason == "no_provider"
        # A later delivery of the whole group (the worker's safety net) decides nothing.
        assert await arbitrate_many(s.deps, group) == [False] * len(group)
        assert len(await s.sandbox_calls(SEND)) == 2


async def test_two_processes_lanes_racing_use_each_code_once(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with running_stack(
        tmp_path, db_url, redis_server.url, corp=corp(), routers=[channel()]
    ) as s:
        # Two processes: each its own lane and process state, one database.
        lanes = [WelcomeLane(dataclasses.replace(s.deps, state=ProcessState())) for _ in range(2)]
        adds = [add_event(s, n, "ch") for n in range(20)]
        for delivery in range(3):  # every add delivered three times, to either process
            for n, event in enumerate(adds):
                lanes[(n + delivery) % 2].start(event)
            await asyncio.sleep(0)  # let the deliveries of one round meet a running claim
        for lane in lanes:
            await lane.close()
        assert welcomed(s) == sorted(e.external_user_id for e in adds)
        assert len(await s.sandbox_calls(SEND)) == len(adds)  # no code tried twice
        statuses = await WelcomeLog.all().values_list("status", flat=True)
        assert sorted(statuses) == ["sent"] * len(adds)


async def test_a_failed_send_leaves_the_others_of_its_group_sent_and_is_not_retried(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with running_stack(
        tmp_path, db_url, redis_server.url, corp=corp(), routers=[channel()]
    ) as s:
        group = [add_event(s, 1, "ch"), add_event(s, 2, "bad"), add_event(s, 3, "ch")]
        assert await arbitrate_many(s.deps, group) == [True, True, True]
        rows = {r.external_userid: r for r in await WelcomeLog.all()}
        ok1, bad, ok2 = (rows[e.external_user_id] for e in group)
        assert (ok1.status, ok2.status) == ("sent", "sent")
        assert (bad.status, bad.reason, bad.fallback_sent) == ("not_sent", "error", True)
        assert bad.decided_at is not None
        assert (s.corp.inbox("lina")[-1].card or {})["main_title"]["title"] == "欢迎语未自动发送"
        calls = await s.sandbox_calls(SEND)
        assert [c["errcode"] for c in calls].count(0) == 2 and len(calls) == 3
        await s.run_jobs()
        assert await arbitrate_many(s.deps, group) == [False, False, False]
        assert len(await s.sandbox_calls(SEND)) == 3  # the failed code is never tried again


async def test_an_add_reads_no_setting_once_the_default_is_cached(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    from handlers.welcome import router as welcome_router
    from storage.welcome import DefaultWelcome

    async with running_stack(
        tmp_path, db_url, redis_server.url, corp=corp(), routers=[welcome_router]
    ) as s:
        await DefaultWelcome.create(id=1, enabled=True, text="默认欢迎语")
        await arbitrate_many(s.deps, [add_event(s, 1, "")])
        with logged_statements("SELECT") as reads:
            await arbitrate_many(s.deps, [add_event(s, 2, ""), add_event(s, 3, "")])
        assert reads.count == 0
        assert len(s.corp.welcome_messages) == 3
