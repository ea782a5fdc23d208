"""Real `scrmbot worker` processes against a real redis-server started on a free port, and a
tiny WeCom stand-in whose contact lookups can be held (a job "in flight")."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from bot import inbox
from bot.deps import Deps
from bot.events import parse_event
from storage.core import InboxEvent, InboxStatus

ADD_XML = (
    "<xml><ToUserName><![CDATA[{corp}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
    "<CreateTime>{ts}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
    "<Event><![CDATA[change_external_contact]]></Event>"
    "<ChangeType><![CDATA[add_external_contact]]></ChangeType>"
    "<UserID><![CDATA[{staff}]]></UserID><ExternalUserID><![CDATA[{ext}]]></ExternalUserID>"
    "</xml>"
)


async def until(cond: Callable[[], Awaitable[bool] | bool], what: str, limit: float = 60.0) -> None:
    """Wait for a condition (polling); the limit only bounds a failing test."""
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        result = cond()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


class FakeWeCom:
    """gettoken, and externalcontact/get answering 84061 (customer gone) — after `release`
    while `hold` is on."""

    def __init__(self) -> None:
        self.held = asyncio.Event()
        self.held.set()
        self.arrived = 0
        self.server: TestServer | None = None

    def hold(self) -> None:
        self.held.clear()

    def release(self) -> None:
        self.held.set()

    async def _token(self, request: web.Request) -> web.Response:
        return web.json_response({"errcode": 0, "access_token": "tok", "expires_in": 7200})

    async def _contact(self, request: web.Request) -> web.Response:
        self.arrived += 1
        await self.held.wait()
        return web.json_response({"errcode": 84061, "errmsg": "not external contact"})

    async def _other(self, request: web.Request) -> web.Response:
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/cgi-bin/gettoken", self._token)
        app.router.add_get("/cgi-bin/externalcontact/get", self._contact)
        app.router.add_route("*", "/{tail:.*}", self._other)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return f"http://127.0.0.1:{self.server.port}"

    async def close(self) -> None:
        self.release()
        if self.server is not None:
            await self.server.close()


def worker_env(data_dir: Path, db_url: str, redis_url: str, api_base: str, **extra: Any) -> dict:
    env = {
        **os.environ,
        "SCRMBOT_DATABASE__URL": db_url,
        "SCRMBOT_REDIS__URL": redis_url,
        "SCRMBOT_STORAGE__DATA_DIR": str(data_dir),
        "SCRMBOT_STORAGE__UPLOAD_DIR": str(data_dir / "up"),
        "SCRMBOT_SECURITY__SECRET": secrets.token_urlsafe(32),
        "SCRMBOT_WECOM__API_BASE": api_base,
        "SCRMBOT_LOGGING__LEVEL": "INFO",
        "SCRMBOT_LOGGING__JSON_FORMAT": "false",
        "SCRMBOT_WORKER__RECONNECT_MAX_SECONDS": "0.5",
    }
    env.update({f"SCRMBOT_{k.upper()}": str(v) for k, v in extra.items()})
    return env


class WorkerProc:
    """`python -m bot.cli worker` (or another command) with its log in a file."""

    def __init__(self, env: dict[str, str], log_path: Path, command: str = "worker") -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", command],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: int = signal.SIGTERM) -> None:
        self.proc.send_signal(sig)

    async def wait(self, limit: float = 60.0) -> int:
        await until(lambda: not self.alive(), "the process to exit", limit)
        return int(self.proc.returncode)

    def stop(self) -> None:
        if self.alive():
            self.proc.kill()
            self.proc.wait()
        self._log.close()


async def store_add(deps: Deps, ext: str, ts: int = 1_700_000_000, staff: str = "zhangsan") -> int:
    """A callback row stored and enqueued one by one, as a card click is."""
    xml = ADD_XML.format(corp=deps.settings.wecom.corp_id, ts=ts, staff=staff, ext=ext)
    row, _ = await inbox.store(xml, parse_event(xml), deps.now())
    await inbox.enqueue(deps, row)
    return int(row.id)


async def is_done(row_id: int) -> bool:
    return await InboxEvent.filter(id=row_id, status=InboxStatus.DONE).exists()
