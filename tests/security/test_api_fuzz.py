"""Hostile query values never make an /api GET route answer 5xx, whoever asks.

The routes come from the dispatcher and each route's parameters from its source
(`query_params`), over the demo corp with every feature's demo data."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import aiohttp

from bot.auth import SESSION_COOKIE
from bot.demo import seed_features
from bot.embedded_redis import EmbeddedRedis
from bot.router import HttpRoute
from bot.sandbox.corp import Corp
from bot.sandbox.demo import seed_demo_corp
from storage.core import ConsoleRole
from storage.directory import Staff
from storage.facts import Customer
from tests.harness import Stack, running_stack
from tests.security.query_params import query_params
from tests.support import session_value

HOSTILE = [
    "²",  # a digit to str.isdigit(), not to int()
    "１２",  # full-width digits
    "9" * 20,  # overflows a 64-bit column
    "-1",
    "9999-12-31",  # overflows once a day is added
    "0001-01-01T00:00:00+14:00",
    "2024-13-45",
    "",
    "x" * 5000,
    "a\x00b",
    "' OR 1=1 --",
    "%",
]
# Streams never end by themselves; their limits have their own tests.
SKIP = {"/api/radar/radars/{id:\\d+}/live"}
ROLES = ("staff", "dept_admin", "admin")


def _fill(path: str, customer: str) -> str:
    path = re.sub(r"\{external_userid\}", customer, path)
    path = re.sub(r"\{name\}", "nothing.pdf", path)
    path = re.sub(r"\{key[^}]*\}", "somebody", path)
    return re.sub(r"\{id[^}]*\}", "1", path)


async def _sessions(stack: Stack) -> dict[str, str]:
    admins = stack.settings.security.super_admins
    staff = await Staff.filter(status=1).exclude(userid__in=admins).order_by("userid").first()
    assert staff is not None and staff.departments
    await ConsoleRole.create(userid="dept-boss", role="dept_admin", departments=staff.departments)
    users = {"staff": staff.userid, "dept_admin": "dept-boss", "admin": "admin"}
    return {role: await session_value(stack.deps, userid) for role, userid in users.items()}


async def _probe(session: aiohttp.ClientSession, url: str, cookie: str) -> int:
    async with session.get(url, headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}) as resp:
        await resp.read()
        return resp.status


def _routes(stack: Stack) -> list[HttpRoute]:
    return [
        r
        for r in stack.runtime.routers_http()
        if r.method == "GET" and r.path.startswith("/api/") and r.path not in SKIP
    ]


async def test_no_5xx_for_hostile_query_values(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    corp = seed_demo_corp(Corp())
    async with running_stack(tmp_path, db_url, redis_server.url, corp=corp) as stack:
        await seed_features(stack.runtime)
        customer = (await Customer.all().order_by("external_userid").first()).external_userid  # type: ignore[union-attr]
        cookies = await _sessions(stack)
        failures, probes, params_seen = [], 0, 0
        async with aiohttp.ClientSession() as session:
            for route in _routes(stack):
                base = stack.app_url + _fill(route.path, customer)
                names = sorted(query_params(route.view))
                params_seen += len(names)
                for role in ROLES:
                    for name in names:
                        for value in HOSTILE:
                            url = f"{base}?{quote(name)}={quote(value)}"
                            status = await _probe(session, url, cookies[role])
                            probes += 1
                            if status >= 500:
                                failures.append((role, route.path, name, value[:20], status))
        assert params_seen >= 40, "the parameter finder stopped finding parameters"
        assert probes > 1000
        assert not failures, "\n".join(map(str, failures))
