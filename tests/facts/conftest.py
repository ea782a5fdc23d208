from __future__ import annotations

import pytest
from redis.asyncio import Redis

from bot.deps import Deps
from bot.settings import Settings
from tests.facts.fakes import FakeWeCom, make_deps


@pytest.fixture
def wecom() -> FakeWeCom:
    return FakeWeCom()


@pytest.fixture
def deps(db: None, settings: Settings, redis: Redis, wecom: FakeWeCom) -> Deps:
    return make_deps(settings, redis, wecom)
