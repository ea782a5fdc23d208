"""`scrmbot check` against the sandbox: each secret's permissions, explained in words."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.check import run_checks
from bot.embedded_redis import EmbeddedRedis
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
