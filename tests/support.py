"""Test doubles shared by the feature tests: a settable clock, a recording job queue, and a
`Deps` built around a fake WeCom client."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import jinja2
from arq.connections import ArqRedis
from arq.worker import Worker
from redis.asyncio import Redis

from bot.deps import Deps, utcnow
from bot.dispatcher import Dispatcher
from bot.router import Router
from bot.settings import Settings
from bot.signing import Signer
from jobs.worker import CORE_FUNCTIONS, timed


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def wait_until(check: Callable[[], Awaitable[bool] | bool], limit: float = 60.0) -> None:
    """Poll a condition until it holds (the limit only keeps a broken test from hanging)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError("the awaited condition never held")
        await asyncio.sleep(0.01)


def arq_worker(deps: Deps, pool: ArqRedis, *, burst: bool = True) -> Worker:
    """A real arq worker over the core's and the features' jobs, one job at a time."""
    return Worker(
        functions=[timed(f) for f in [*CORE_FUNCTIONS, *deps.dispatcher.jobs]],
        redis_pool=pool,
        ctx={"deps": deps},
        burst=burst,
        poll_delay=0.01,
        handle_signals=False,
        max_jobs=1,
    )


async def stop_worker(worker: Any, task: asyncio.Task[None]) -> None:
    """Stop an arq worker running as `task` the way a killed process stops: its main loop and
    every job it holds, without letting them finish."""
    for running in [task, *worker.tasks.values()]:
        running.cancel()
    await asyncio.gather(task, *worker.tasks.values(), return_exceptions=True)
    worker.tasks.clear()
    await worker.close()


class FakeQueue:
    """Records enqueued jobs instead of sending them to Redis."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, tuple[Any, ...], str | None, float | None]] = []

    async def enqueue(
        self, name: str, *args: Any, job_id: str | None = None, defer_by: float | None = None
    ) -> bool:
        self.jobs.append((name, args, job_id, defer_by))
        return True

    def take(self) -> list[tuple[str, tuple[Any, ...]]]:
        taken = [(name, args) for name, args, *_ in self.jobs]
        self.jobs.clear()
        return taken


async def run_due(deps: Deps) -> list[str]:
    """One sweep of the scheduled runs, each enqueued run executed as a worker would."""
    from bot import schedule

    assert isinstance(deps.queue, FakeQueue)
    await schedule.sweep(deps)
    jobs = [args for name, args, *_ in deps.queue.jobs if name == schedule.RUN_JOB]
    deps.queue.jobs = [j for j in deps.queue.jobs if j[0] != schedule.RUN_JOB]
    return [await schedule.execute(deps, args[0]) for args in jobs]


def with_directory(routers: list[Router]) -> list[Router]:
    """The routers plus the directory lookups auth asks for (the facts feature's), unless one of
    them provides them already: a feature tested alone still has names, leavers and scopes."""
    if any("member" in r.lookups for r in routers):
        return routers
    from handlers.facts import members

    directory = Router("directory")
    directory.lookup("member")(members.member)
    directory.lookup("department_members")(members.department_members)
    return [*routers, directory]


async def session_value(deps: Deps, userid: str) -> str:
    """A session cookie value for `userid`, as a login would create it (a row in web_session)."""
    from bot import sessions

    value, _ = await sessions.create(deps.signer, deps.settings, userid)
    return value


def fake_deps(
    settings: Settings,
    redis: Redis,
    routers: list[Router],
    wecom: object,
    *,
    queue: FakeQueue | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Deps:
    return Deps(
        settings=settings,
        redis=redis,
        wecom=wecom,  # type: ignore[arg-type]
        queue=queue or FakeQueue(),  # type: ignore[arg-type]
        signer=Signer(settings.security.secret),
        dispatcher=Dispatcher(with_directory(routers)),
        templates=jinja2.Environment(autoescape=True),
        clock=clock,
    )


class Statements(logging.Handler):
    """The statements the database client logs (their text), those starting with `prefix`
    (quotes ignored, case-insensitive)."""

    def __init__(self, prefix: str = "") -> None:
        super().__init__(logging.DEBUG)
        self.prefix = prefix.upper()
        self.texts: list[str] = []

    @property
    def count(self) -> int:
        return len(self.texts)

    def emit(self, record: logging.LogRecord) -> None:
        text = str(record.args[0]) if record.args else record.getMessage()
        if text.replace('"', "").lstrip().upper().startswith(self.prefix):
            self.texts.append(text)


@contextlib.contextmanager
def logged_statements(prefix: str = "") -> Iterator[Statements]:
    """Count the statements run inside (see `Statements`)."""
    statements = Statements(prefix)
    db_log = logging.getLogger("tortoise.db_client")
    level = db_log.level
    db_log.setLevel(logging.DEBUG)
    db_log.addHandler(statements)
    try:
        yield statements
    finally:
        db_log.removeHandler(statements)
        db_log.setLevel(level)
