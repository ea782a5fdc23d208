"""Processed callbacks are forgotten after the retention period, unprocessed ones never;
expired and revoked sessions are forgotten too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from bot import retention
from bot.settings import Settings
from storage.core import HandlerRun, InboxEvent, InboxStatus, WebSession
from tests.support import Clock, fake_deps

NOW = datetime(2026, 6, 1, tzinfo=UTC)


async def _row(key: str, age_days: int, status: InboxStatus) -> InboxEvent:
    at = NOW - timedelta(days=age_days)
    return await InboxEvent.create(key=key, kind="k", xml="<xml/>", received_at=at, status=status)


async def _session(key: str, expires_days: int, revoked_days: int | None = None) -> None:
    revoked = NOW - timedelta(days=revoked_days) if revoked_days is not None else None
    await WebSession.create(
        id=key,
        userid="u",
        created_at=NOW - timedelta(days=30),
        expires_at=NOW + timedelta(days=expires_days),
        revoked_at=revoked,
    )


async def test_prune_keeps_what_is_pending_or_recent(
    settings: Settings, redis: Redis, db: None
) -> None:
    deps = fake_deps(settings, redis, [], object(), clock=Clock(NOW))
    old_done = await _row("a", 31, InboxStatus.DONE)
    await HandlerRun.create(inbox=old_done, handler="x.y", finished_at=NOW)
    await _row("b", 40, InboxStatus.DEAD)
    await _row("c", 40, InboxStatus.PENDING)
    await _row("d", 40, InboxStatus.FAILED)
    await _row("e", 5, InboxStatus.DONE)
    await _session("s-expired", -3)
    await _session("s-revoked", 3, revoked_days=2)
    await _session("s-live", 3)
    await _session("s-just-revoked", 3, revoked_days=0)

    assert await retention.prune(deps) == {"inbox": 2, "sessions": 2}
    assert sorted(await InboxEvent.all().values_list("key", flat=True)) == ["c", "d", "e"]
    assert await HandlerRun.all().count() == 0
    left = sorted(await WebSession.all().values_list("id", flat=True))
    assert left == ["s-just-revoked", "s-live"]


async def test_retention_zero_keeps_everything(settings: Settings, redis: Redis, db: None) -> None:
    data = settings.model_dump()
    data["inbox"]["retention_days"] = 0
    deps = fake_deps(Settings.model_validate(data), redis, [], object(), clock=Clock(NOW))
    await _row("a", 400, InboxStatus.DONE)
    assert await retention.prune_inbox(deps) == 0
    assert await InboxEvent.all().count() == 1


def test_the_cron_is_scheduled() -> None:
    from jobs.worker import CORE_CRONS

    assert "prune_retention" in {c.name.split(":")[-1] for c in CORE_CRONS}
