"""The features' lifecycle runs in every process through Runtime: resources and startup hooks
after Deps exists, shutdown hooks first when the web server stops (before it waits for
in-flight requests), cleanup hooks and resource exits last, in reverse."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.deps import Deps
from bot.embedded_redis import EmbeddedRedis
from bot.router import RegistrationError, Router
from bot.runtime import Runtime
from bot.web import create_app
from tests.conftest import make_settings


def recording_router(log: list[str]) -> tuple[Router, object]:
    router = Router("probe")

    @router.resource
    async def counter(deps: Deps) -> AsyncIterator[dict[str, int]]:
        log.append("resource open")
        yield {"hits": 0}
        log.append("resource closed")

    @router.on_startup
    async def start(deps: Deps) -> None:
        log.append(f"startup sees {deps.resource(counter)}")

    @router.on_shutdown
    async def stop(deps: Deps) -> None:
        log.append("shutdown")

    @router.on_cleanup
    async def clean(deps: Deps) -> None:
        log.append("cleanup")

    return router, counter


async def test_runtime_runs_the_lifecycle_in_order(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    log: list[str] = []
    router, counter = recording_router(log)
    settings = make_settings(tmp_path, db_url, redis_server.url)
    async with Runtime(settings, [router]) as rt:
        assert rt.deps.resource(counter) == {"hits": 0}
        assert log == ["resource open", "startup sees {'hits': 0}"]
    assert log[2:] == ["shutdown", "cleanup", "resource closed"]
    with pytest.raises(LookupError):
        rt.deps.resource(counter)  # per process: gone with the runtime


async def test_web_process_runs_shutdown_hooks_before_cleanup(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    log: list[str] = []
    router, _ = recording_router(log)
    settings = make_settings(tmp_path, db_url, redis_server.url)
    runner = web.AppRunner(create_app(settings, routers=[router]))
    await runner.setup()
    assert log == ["resource open", "startup sees {'hits': 0}"]
    await runner.cleanup()
    assert log[2:] == ["shutdown", "cleanup", "resource closed"]


def test_registration_refuses_what_would_fail_later() -> None:
    router = Router("probe")
    with pytest.raises(RegistrationError):
        router.resource(lambda deps: None)  # type: ignore[arg-type,return-value]

    def not_async(deps: Deps) -> None: ...

    with pytest.raises(RegistrationError):
        router.on_startup(not_async)  # type: ignore[type-var]
