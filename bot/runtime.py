"""Everything a process needs at run time, opened in order and closed in reverse.

The web process (aiohttp cleanup_ctx), the arq worker (on_startup/on_shutdown) and the demo
all build the same `Runtime`, so a handler sees the same `Deps` wherever it runs, and the
features' lifecycle hooks and resources (bot.lifecycle) run in each of them.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import aiohttp
import jinja2
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from redis.asyncio import Redis
from tortoise.context import TortoiseContext

from bot.deps import Deps, JobQueue, utcnow
from bot.dispatcher import Dispatcher
from bot.embedded_redis import EmbeddedRedis
from bot.lifecycle import feature_lifecycle, shutdown
from bot.router import HttpRoute, Router
from bot.settings import Settings, parse_sections
from bot.signing import Signer
from storage.db import init_db

log = logging.getLogger(__name__)
TEMPLATE_DIRS = [Path(__file__).resolve().parent.parent / "cards" / "templates"]


def default_routers() -> list[Router]:
    """The console's own pages and APIs first, then every feature."""
    from handlers import FEATURE_ROUTERS
    from handlers.system import router as system_router

    return [system_router, *FEATURE_ROUTERS]


def templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in TEMPLATE_DIRS]),
        autoescape=False,  # card text is JSON/XML-escaped by the card builders, not HTML
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _alive(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.3):
        return True
    return False


class Runtime:
    """`async with Runtime(settings) as rt: rt.deps ...`"""

    def __init__(
        self,
        settings: Settings,
        routers: list[Router] | None = None,
        clock: Callable[[], datetime] = utcnow,
        create_schema: bool = True,
    ) -> None:
        self.settings = settings
        self.routers = routers if routers is not None else default_routers()
        self.clock = clock
        self.create_schema = create_schema
        self.embedded: EmbeddedRedis | None = None
        self.redis_url = settings.redis.url
        self.db: TortoiseContext | None = None
        self.redis: Redis | None = None
        self.pool: ArqRedis | None = None
        self.session: aiohttp.ClientSession | None = None
        self._deps: Deps | None = None
        self._lifecycle: contextlib.AbstractAsyncContextManager[None] | None = None

    @property
    def deps(self) -> Deps:
        assert self._deps is not None, "Runtime not started"
        return self._deps

    def _start_embedded_redis(self) -> str:
        """Reuse the embedded server another scrmbot process started in the same data dir."""
        data_dir = Path(self.settings.storage.data_dir) / "redis"
        port_file = data_dir / "port"
        if port_file.exists():
            port = int(port_file.read_text() or 0)
            if port and _alive(port):
                return f"redis://127.0.0.1:{port}/0"
        self.embedded = EmbeddedRedis(str(data_dir))
        url = self.embedded.start()
        port_file.write_text(str(self.embedded.port))
        return url

    async def __aenter__(self) -> Runtime:
        try:
            await self._open()
        except BaseException:
            await self.__aexit__()  # a half-open runtime closes what it opened
            raise
        return self

    async def _open(self) -> None:
        from bot.wecom import WeComClient

        if not self.redis_url:
            self.redis_url = self._start_embedded_redis()
        self.db = await init_db(self.settings.database.url, create_schema=self.create_schema)
        self.redis = Redis.from_url(self.redis_url)
        self.pool = await create_pool(self.arq_settings)
        timeout = aiohttp.ClientTimeout(total=self.settings.wecom.timeout)
        self.session = aiohttp.ClientSession(timeout=timeout)
        self._deps = Deps(
            settings=self.settings,
            redis=self.redis,
            wecom=WeComClient(self.settings, self.redis, self.session),
            queue=JobQueue(self.pool),
            signer=Signer(self.settings.security.secret),
            dispatcher=Dispatcher(self.routers),
            templates=templates(),
            clock=self.clock,
        )
        self._deps.state.sections.update(
            parse_sections(self.settings, self._deps.dispatcher.settings_models)
        )
        lifecycle = feature_lifecycle(self._deps)
        await lifecycle.__aenter__()
        self._lifecycle = lifecycle

    async def shutdown(self) -> None:
        """The process is stopping: the features end live streams and background work."""
        if self._deps is not None:
            await shutdown(self._deps)

    def routers_http(self) -> list[HttpRoute]:
        return [r for router in self.routers for r in router.http]

    @property
    def arq_settings(self) -> RedisSettings:
        return RedisSettings.from_dsn(self.redis_url)

    async def __aexit__(self, *exc: object) -> None:
        if self._lifecycle is not None:
            lifecycle, self._lifecycle = self._lifecycle, None
            await lifecycle.__aexit__(None, None, None)
        if self.session is not None:
            await self.session.close()
        if self.pool is not None:
            await self.pool.aclose()
        if self.redis is not None:
            await self.redis.aclose()
        if self.db is not None:
            await self.db.close_connections()
        if self.embedded is not None:
            self.embedded.stop()
            with contextlib.suppress(OSError):
                (self.embedded.data_dir / "port").unlink()
