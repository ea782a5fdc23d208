"""A delivery job's FollowAdded events reach the leaderboard (and the radar's pending-visitor
check) with lookups shared across the job: the statements do not grow with the events when no
activity needs a recount."""

from __future__ import annotations

from redis.asyncio import Redis

from bot import event_delivery
from bot.domain_events import FollowAdded, publish_many
from bot.settings import Settings
from handlers.leaderboard import router as leaderboard
from handlers.radar.router import router as radar
from storage.core import DomainEventRow, EventStatus
from tests.leaderboard.conftest import T0, FakeWeCom
from tests.support import Clock, fake_deps, logged_statements


async def test_a_delivery_job_reads_the_activities_and_pending_visitors_once(
    settings: Settings, redis: Redis, db: None, clock: Clock
) -> None:
    deps = fake_deps(settings, redis, [leaderboard, radar], FakeWeCom(), clock=clock)
    counts = []
    for first, many in ((0, 3), (100, 30)):
        added = [
            (FollowAdded(userid="alice", external_userid=f"wm{n}", at=T0), f"add:{n}")
            for n in range(first, first + many)
        ]
        ids = await publish_many(deps, added)
        with logged_statements() as statements:
            assert await event_delivery.process_many(deps, ids) == many
        counts.append(statements.count)
    assert counts[0] == counts[1], counts
    subscribers = {s.name for s in deps.dispatcher.subscribers("FollowAdded")}
    assert len(subscribers) == 2
    assert await DomainEventRow.filter(status=EventStatus.DONE).count() == 33
