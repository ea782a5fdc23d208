"""Shared fixtures: embedded Redis, a fresh migrated database per test (a copy of a template
migrated once per session: SQLite, or PostgreSQL when SCRMBOT_TEST_DATABASE_URL is set),
settings for an app under test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from bot.deps import Deps
from bot.embedded_redis import EmbeddedRedis
from bot.settings import Settings, load_settings
from storage.db import init_db
from tests import dbtemplate

PG_URL = os.environ.get("SCRMBOT_TEST_DATABASE_URL", "")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(persist=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def redis(redis_server: EmbeddedRedis) -> AsyncIterator[Redis]:
    client: Redis = Redis.from_url(redis_server.url)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrated once per session: a SQLite file, or a PostgreSQL template database's name."""
    if PG_URL:
        return dbtemplate.postgres_template(PG_URL)
    return str(dbtemplate.sqlite_template(tmp_path_factory.mktemp("template")))


@pytest.fixture
async def db_url(tmp_path: Path, migrated_template: str) -> str:
    """A fresh, migrated database for this test (a copy of the session's template)."""
    if PG_URL:
        return await dbtemplate.postgres_copy(PG_URL, migrated_template)
    return dbtemplate.sqlite_copy(Path(migrated_template), tmp_path / "test.sqlite3")


@pytest.fixture
async def empty_db_url(tmp_path: Path) -> str:
    """A database with no schema at all (for the tests of `scrmbot migrate` itself)."""
    if PG_URL:
        return await dbtemplate.postgres_copy(PG_URL, "template0")
    return f"sqlite://{tmp_path}/empty.sqlite3"


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[None]:
    """Models usable directly (no app), on the test's own migrated database."""
    ctx = await init_db(db_url)
    yield
    await ctx.close_connections()


def make_settings(tmp_path: Path, db_url: str, redis_url: str, **sections: Any) -> Settings:
    overrides: dict[str, dict[str, Any]] = {
        "database": {"url": db_url},
        "redis": {"url": redis_url},
        "storage": {"data_dir": str(tmp_path / "data"), "upload_dir": str(tmp_path / "up")},
        "security": {"super_admins": ["admin"]},
        "logging": {"json_format": False, "level": "WARNING"},
    }
    for section, values in sections.items():
        overrides.setdefault(section, {}).update(values)
    return load_settings(None, environ={}, overrides=overrides)


@pytest.fixture
def settings(tmp_path: Path, db_url: str, redis_server: EmbeddedRedis) -> Settings:
    return make_settings(tmp_path, db_url, redis_server.url)


@pytest.fixture
async def client(
    deps: Deps, aiohttp_client: Callable[[web.Application], Awaitable[TestClient]]
) -> TestClient:
    """An aiohttp test client on an app made of the `deps` fixture's routers (each feature's
    conftest defines `deps`)."""
    from tests.auth.support import build_app

    return await aiohttp_client(build_app(deps))
