"""The fault test: two real workers, a stream of customer callbacks each delivered three
times, and mid-stream one worker killed and Redis restarted empty. Nothing acknowledged is
lost, nothing is doubled, and everything is processed within a minute of the fault ending
(the bound is the test's limit, not a measurement)."""

from __future__ import annotations

import signal
from pathlib import Path

from bot.embedded_redis import EmbeddedRedis
from bot.sandbox.corp import Corp
from bot.sandbox.driver import CallbackResult
from storage.core import InboxEvent, InboxStatus
from storage.facts import FollowEvent, GroupMembershipEvent, TimelineEntry
from tests.harness import Stack, running_stack
from tests.worker_procs import WorkerProc, until, worker_env

STAFF = ["alice", "bob", "carol"]
CUSTOMERS = 36


def corp_with_groups() -> tuple[Corp, list[str]]:
    """A group per customer: a group whose refresh Redis lost sees no later callback."""
    corp = Corp()
    for userid in STAFF:
        corp.add_staff(userid, userid.title())
    chats = [corp.create_group(STAFF[n % len(STAFF)], f"群{n}") for n in range(CUSTOMERS)]
    return corp, [chat.chat_id for chat in chats]


async def thrice(stack: Stack, result: CallbackResult) -> None:
    assert result.status == 200
    for again in await stack.driver.deliver_raw(result.xml, times=2):
        assert again.status == 200  # re-deliveries answered too (stored once)


async def customer(stack: Stack, chats: list[str], n: int) -> None:
    """Adds a staff member, then joins the group invited by that staff member."""
    staff = STAFF[n % len(STAFF)]
    ext = f"wmFault{n:03d}"
    await thrice(stack, await stack.driver.customer_adds_staff(staff, ext, welcome=False))
    await thrice(stack, await stack.driver.customer_joins_group(chats[n], ext, invitor=staff))


async def all_done(sent: int) -> bool:
    done = await InboxEvent.filter(status=InboxStatus.DONE).count()
    return done == sent and await InboxEvent.all().count() == sent


async def joins_recorded(count: int) -> bool:
    return await GroupMembershipEvent.filter(kind="join", member_type=2).count() == count


async def test_worker_killed_and_redis_emptied_mid_stream(tmp_path: Path, db_url: str) -> None:
    redis = EmbeddedRedis(str(tmp_path / "redis"), persist=False)
    redis.start()
    corp, chats = corp_with_groups()
    workers: list[WorkerProc] = []
    try:
        async with running_stack(
            tmp_path, db_url, redis.url, corp=corp, inbox={"stranded_after_seconds": 3}
        ) as stack:
            extra = {"inbox__stranded_after_seconds": 3, "worker__lease_seconds": 3}

            def start(name: str) -> WorkerProc:
                env = worker_env(tmp_path / name, db_url, redis.url, stack.sandbox_url, **extra)
                proc = WorkerProc(env, tmp_path / f"{name}.log")
                workers.append(proc)
                return proc

            first, _ = start("w1"), start("w2")
            for n in range(CUSTOMERS // 2):
                await customer(stack, chats, n)
            # The fault, once the joins so far were processed but before their groups'
            # refreshes (deferred a few seconds) ran: a worker dies and Redis comes back empty.
            await until(lambda: all_done(CUSTOMERS // 2 * 2), "the first half processed", 60)
            first.signal(signal.SIGKILL)
            redis.kill()
            await customer(stack, chats, CUSTOMERS // 2)  # acknowledged while Redis is down
            redis.start_on(redis.port)
            start("w1-restarted")  # as its supervisor would
            for n in range(CUSTOMERS // 2 + 1, CUSTOMERS):
                await customer(stack, chats, n)
            sent = CUSTOMERS * 2
            await until(lambda: all_done(sent), "every callback processed", 60)
            await until(lambda: joins_recorded(CUSTOMERS), "every join recorded", 60)
            # Then a third of them leave: no quit may double or overtake its join.
            quitters = list(range(0, CUSTOMERS, 3))
            for n in quitters:
                quit_ = await stack.driver.customer_quits_group(chats[n], f"wmFault{n:03d}")
                await thrice(stack, quit_)
            sent += len(quitters)
            await until(lambda: all_done(sent), "every quit processed", 60)
            await until(
                lambda: _quits(len(quitters)),
                "every quit recorded",
                60,
            )
            adds = await FollowEvent.filter(kind="add").values_list("external_userid", flat=True)
            assert sorted(adds) == [f"wmFault{n:03d}" for n in range(CUSTOMERS)]
            joins = await GroupMembershipEvent.filter(kind="join", member_type=2)
            credit = {j.member_id: j.invitor for j in joins}
            assert len(joins) == CUSTOMERS
            assert credit == {f"wmFault{n:03d}": STAFF[n % len(STAFF)] for n in range(CUSTOMERS)}
            # A fact's timeline entry is written just after it (its own statement, rewritten
            # by a retry): wait for the last ones, and never more than one per fact.
            await until(
                lambda: _timeline(2 * CUSTOMERS + len(quitters)), "every timeline entry", 60
            )

    finally:
        for proc in workers:
            proc.stop()
        redis.stop()


async def _quits(count: int) -> bool:
    quits = await GroupMembershipEvent.filter(kind="quit", member_type=2).count()
    assert quits <= count, "a quit was recorded twice"
    return quits == count


async def _timeline(count: int) -> bool:
    entries = await TimelineEntry.filter(kind__in=["added", "group_join", "group_quit"]).count()
    assert entries <= count, "a timeline entry was written twice"
    return entries == count
