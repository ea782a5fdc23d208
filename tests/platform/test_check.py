"""`scrmbot check` against the sandbox: each secret's permissions, explained in words."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.check import run_checks
from bot.embedded_redis import EmbeddedRedis
from storage.contact_ways import ContactWay
from tests.harness import running_stack

REAL_SECRET = "Qm3v8K1xZp4T9wLr2Yh6Nc7Bd5Fg0Sj-aE_uXo"


async def test_check_explains_the_2022_directory_rule(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_stack(
        tmp_path, db_url, redis_server.url, routers=[], security={"secret": REAL_SECRET}
    ) as stack:
        assert await run_checks(stack.settings) is True
    out = capsys.readouterr().out
    assert "✓ security.secret is a private random secret" in out
    assert "✓ gettoken with the app secret" in out
    assert "✗ department/list with the customer-contact secret (expected to fail" in out
    assert "since 2022 the customer-contact secret cannot read" in out
    assert (
        "✓ contact ways and join ways — 0 live of WeCom's 500,000; new ones refused from 450,000"
        in out
    )


async def test_check_fails_on_a_wrong_secret(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, routers=[]) as stack:
        bad = stack.settings.model_copy(
            update={"wecom": stack.settings.wecom.model_copy(update={"secret": "wrong"})}
        )
        assert await run_checks(bad) is False
    out = capsys.readouterr().out
    assert "✗ gettoken with the app secret" in out


async def test_check_fails_on_the_development_secret(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, routers=[]) as stack:
        assert await run_checks(stack.settings) is False
    out = capsys.readouterr().out
    assert "✗ security.secret is a private random secret — [security.secret] is the public" in out
    assert "✓ gettoken with the app secret" in out  # the other checks still run and explain


async def test_check_shows_contact_ways_against_the_quota(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_stack(
        tmp_path, db_url, redis_server.url, routers=[], security={"secret": REAL_SECRET}
    ) as stack:
        for n in range(3):
            await ContactWay.create(
                kind="contact", config_id=f"c{n}", feature="t", purpose="p", owner_key=str(n)
            )
        ways = stack.settings.contact_ways.model_copy(update={"max_live": 3})
        assert await run_checks(stack.settings.model_copy(update={"contact_ways": ways})) is False
    out = capsys.readouterr().out
    assert (
        "✗ contact ways and join ways — 3 live of WeCom's 500,000; new ones refused from 3" in out
    )
    assert "fix: delete unused ways or raise contact_ways.max_live" in out
