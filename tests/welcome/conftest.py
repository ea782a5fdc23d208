"""Deps over the welcome feature's router, for its API tests."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from bot.deps import Deps
from bot.settings import Settings
from handlers.welcome import router
from tests.support import fake_deps


@pytest.fixture
async def deps(settings: Settings, redis: Redis, db: None) -> Deps:
    return fake_deps(settings, redis, [router], object())
