"""A validly signed callback replayed after the freshness window is refused (403, logged once);
WeCom's own retries, which reuse the first timestamp within seconds, still pass."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from bot.embedded_redis import EmbeddedRedis
from storage.core import InboxEvent
from tests.harness import Stack, running_stack
from tests.platform.test_pipeline import ADD_XML


async def _post(stack: Stack, xml: str, timestamp: int) -> int:
    params, body = stack.driver.crypto.encrypt_callback(xml, timestamp=str(timestamp))
    url = stack.app_url + "/wecom/callback"
    async with stack.session.post(url, params=params, data=body) as resp:
        return resp.status


async def test_old_signed_callbacks_are_refused(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url, routers=[]) as stack:
        corp = stack.settings.wecom.corp_id
        now = int(time.time())
        caplog.set_level(logging.WARNING, logger="bot.callback")
        assert await _post(stack, ADD_XML.format(corp=corp, ext="old"), now - 3600) == 403
        assert await _post(stack, ADD_XML.format(corp=corp, ext="future"), now + 3600) == 403
        rejected = [r for r in caplog.records if "outside the 600s window" in r.getMessage()]
        assert len(rejected) == 2
        fresh = ADD_XML.format(corp=corp, ext="fresh")
        assert await _post(stack, fresh, now - 20) == 200
        assert await _post(stack, fresh, now - 20) == 200  # a retry reuses the timestamp
        assert await InboxEvent.all().count() == 1


async def test_the_window_is_a_setting(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    inbox = {"callback_max_age_seconds": 7200}
    async with running_stack(tmp_path, db_url, redis_server.url, routers=[], inbox=inbox) as s:
        xml = ADD_XML.format(corp=s.settings.wecom.corp_id, ext="old")
        assert await _post(s, xml, int(time.time()) - 3600) == 200
