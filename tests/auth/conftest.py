"""Fixtures for the auth tests: the system router plus a probe router on a real app."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from bot.deps import Deps
from bot.settings import Settings
from handlers.system import router as system_router
from storage.directory import Department, Staff
from tests.auth.support import FakeWeCom, probe
from tests.support import fake_deps


@pytest.fixture
async def deps(settings: Settings, redis: Redis, db: None) -> Deps:
    return fake_deps(settings, redis, [system_router, probe], FakeWeCom())


@pytest.fixture
async def corp(db: None) -> None:
    """Departments 1 (root) > 2 (sales) > 3 (sales east); 4 (support)."""
    for dept_id, parent in ((1, 0), (2, 1), (3, 2), (4, 1)):
        await Department.create(id=dept_id, name=f"部门{dept_id}", parent_id=parent)
    for userid, depts in (("alice", [2]), ("bob", [3]), ("carol", [4]), ("dave", [4, 3])):
        await Staff.create(userid=userid, name=userid.title(), departments=depts)
    await Staff.create(userid="gone", name="Gone", departments=[2], status=5)
