"""Exactly once with two real `scrmbot worker` processes: a plan's run falls due while both
run and both are given its job; one set of tasks and one card per staff member come of it.
The worker running it is SIGKILLed once its first cards arrived; after the claim's lease the
other one finishes the reminders: every staff member gets exactly one card, the one in flight
at the kill included (sent again under its fixed task_id, which WeCom refuses twice)."""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.embedded_redis import EmbeddedRedis
from bot.sandbox.corp import Corp
from bot.schedule import RUN_JOB
from storage.directory import Staff
from storage.schedule import RunState, ScheduledRun
from storage.sop import SopRun, SopTask
from tests.harness import running_stack
from tests.sop.conftest import cards_of
from tests.sop.test_runs import make_plan
from tests.support import wait_until
from tests.worker_procs import WorkerProc, worker_env

STAFF = [f"staff{n:02d}" for n in range(12)]
SEND = "/cgi-bin/message/send"


def talks_to(worker: WorkerProc, port: int) -> bool:
    """Whether the process holds a TCP connection to the port (only the worker sending the
    cards calls the sandbox WeCom)."""
    fds = Path(f"/proc/{worker.proc.pid}/fd")
    inodes = set()
    for fd in fds.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[9] in inodes:
                return True
    return False


async def test_two_worker_processes_one_run_and_a_kill_mid_reminders(
    tmp_path: Path, db_url: str
) -> None:
    redis = EmbeddedRedis(str(tmp_path / "redis"), persist=False)
    redis.start()
    corp = Corp()
    for userid in STAFF:
        corp.add_staff(userid, userid.title())
    workers: list[WorkerProc] = []
    try:
        async with running_stack(tmp_path, db_url, redis.url, corp=corp) as stack:
            for userid in STAFF:
                await Staff.create(userid=userid, name=userid.title(), departments=[1])
            # Each card takes a while at WeCom, so the kill lands in the middle of the cards.
            fault = {"path": SEND, "errcode": 0, "count": 1000, "delay_ms": 300}
            async with stack.session.post(stack.sandbox_url + "/sandbox/api/faults", json=fault):
                pass
            for name in ("w1", "w2"):
                env = worker_env(
                    tmp_path / name, db_url, redis.url, stack.sandbox_url, worker__lease_seconds=3
                )
                workers.append(WorkerProc(env, tmp_path / f"{name}.log"))
            local = datetime.now(UTC).astimezone(stack.settings.tz) + timedelta(minutes=1)
            plan = await make_plan(
                stack.deps,
                userids=STAFF,
                freq="once",
                at_time=local.strftime("%H:%M"),
                start_date=local.date().isoformat(),
                end_date=local.date().isoformat(),
            )
            run = await ScheduledRun.get(feature="sop.run", key__startswith=f"{plan.id}:")
            await wait_until(lambda: datetime.now(UTC) >= run.due_at.astimezone(UTC), 90)
            # Besides the sweepers' job, each worker may take one of these: only one claims it.
            for n in range(2):
                await stack.deps.queue.enqueue(RUN_JOB, run.id, job_id=f"sop-procs-{n}")

            def cards() -> list[int]:
                return [len(cards_of(corp, userid)) for userid in STAFF]

            await wait_until(lambda: sum(cards()) >= 2, 90)
            port = int(stack.sandbox_url.rsplit(":", 1)[1])
            running = [w for w in workers if talks_to(w, port)]
            assert len(running) == 1, "not one worker sending the cards"
            killed = running[0]
            killed.signal(signal.SIGKILL)
            await killed.wait()
            survivor = next(w for w in workers if w is not killed)
            assert sum(cards()) < len(STAFF), "the run ended before the kill"
            # The claim's lease (15 minutes) runs out: the survivor's sweep takes the run over.
            await ScheduledRun.filter(id=run.id).update(lease_until=datetime.now(UTC))
            done = ScheduledRun.filter(id=run.id, state=RunState.DONE)
            await wait_until(done.exists, 120)
            assert survivor.alive()
            # Everyone once, the card whose send was under way at the kill included.
            assert cards() == [1] * len(STAFF), cards()
            assert not await SopTask.filter(plan_id=plan.id, reminded_at__isnull=True).exists()
            run = await ScheduledRun.get(id=run.id)
            assert run.attempts == 2
            assert await SopRun.filter(plan_id=plan.id).count() == 1
            tasks = await SopTask.filter(plan_id=plan.id).values_list("userid", flat=True)
            assert sorted(tasks) == STAFF
    finally:
        for proc in workers:
            proc.stop()
        redis.stop()
