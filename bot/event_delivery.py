"""Delivering domain events to their subscribers, in the worker, like the callback inbox:
a ledger of finished subscribers (a retry runs only the missing ones), retries with backoff,
dead after `inbox.max_attempts`, and a cron that re-enqueues stranded events.

Ordering: a feature's subscriber gets an event only after the feature got every earlier event
of the same subject (say a customer's FollowAdded before their FollowEnded) that is still being
delivered; otherwise the event waits, without using up an attempt. Dead events do not hold
others back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from datetime import datetime, timedelta

from pydantic import ValidationError
from tortoise.exceptions import IntegrityError

from bot.batch_memo import batch_scope
from bot.deps import Deps
from bot.domain_events import DELIVER_JOB, enqueue, job_id
from bot.inbox import backoff
from bot.router_types import Subscription
from bot.rows import insert_new
from storage.core import DomainEventRow, EventDelivery, EventStatus

log = logging.getLogger(__name__)
OPEN = (EventStatus.PENDING, EventStatus.FAILED)
WAIT_SECONDS = 2.0  # an event waiting for an earlier one of its subject looks again this soon


async def _blocked(deps: Deps, row: DomainEventRow, sub: Subscription) -> bool:
    """An earlier event of the same subject that the subscriber's feature (its router) has
    not finished yet: a feature sees a customer's FollowAdded before their FollowEnded even
    when different functions handle the two."""
    if not row.subject:
        return False
    feature = sub.name.split(".", 1)[0] + "."
    mine = [s for s in deps.dispatcher.subscribers() if s.name.startswith(feature)]
    earlier = await DomainEventRow.filter(
        subject=row.subject, id__lt=row.id, status__in=OPEN, kind__in={s.kind for s in mine}
    ).values_list("id", "kind")
    for event_id, kind in earlier:
        needed = {s.name for s in mine if s.kind == kind}
        had = await EventDelivery.filter(event_id=event_id, subscriber__in=needed).count()
        if had < len(needed):
            return True
    return False


async def _deliver(deps: Deps, row: DomainEventRow, sub: Subscription) -> str | None:
    """Run one subscriber and record it; the error text when it failed."""
    if (error := await _run(deps, row, sub)) is not None:
        return error
    with contextlib.suppress(IntegrityError):  # a concurrent run recorded it first
        await EventDelivery.create(event_id=row.id, subscriber=sub.name, delivered_at=deps.now())
    return None


async def _run(deps: Deps, row: DomainEventRow, sub: Subscription) -> str | None:
    """Run one subscriber; the error text when it failed."""
    try:
        event = sub.event_cls.model_validate(row.payload)
        await sub.handler(deps, [event] if sub.batch else event)
    except asyncio.CancelledError:
        raise
    except ValidationError as exc:
        return f"{sub.name}: payload does not fit {sub.event_cls.__name__}: {exc}"[:1000]
    except Exception as exc:
        log.exception("subscriber %s failed on event %s", sub.name, row.id)
        return f"{sub.name}: {type(exc).__name__}: {exc}"[:1000]
    return None


async def process(deps: Deps, event_id: int) -> EventStatus | None:
    """Deliver one event to the subscribers that have not had it; safe to call twice."""
    row = await DomainEventRow.get_or_none(id=event_id)
    if row is None or row.status not in OPEN:
        return row.status if row else None
    delivered = await EventDelivery.filter(event_id=row.id).values_list("subscriber", flat=True)
    done = {str(name) for name in delivered}
    errors: list[str] = []
    waiting = False
    for sub in deps.dispatcher.subscribers(row.kind):
        if sub.name in done:
            continue
        if await _blocked(deps, row, sub):
            waiting = True
            continue
        if (error := await _deliver(deps, row, sub)) is not None:
            errors.append(error)
    if errors:
        return await _failed(deps, row, errors)
    if waiting:
        await _wait(deps, row)
        return EventStatus(row.status)
    await DomainEventRow.filter(id=row.id).update(
        status=EventStatus.DONE, done_at=deps.now(), last_error=None
    )
    return EventStatus.DONE


async def process_many(deps: Deps, event_ids: list[int]) -> int:
    """Deliver several events (one job for the events a batch published) in publish order,
    like `process` one by one but set-wise: the rows, their ledger and the earlier open events
    of their subjects read once, a batch subscriber (`router.listen_batch`) called once with
    all its events, the deliveries recorded in one INSERT and the events marked done in one
    UPDATE. A failing subscriber is retried alone, as with `process`. Returns the events done."""
    rows = list(await DomainEventRow.filter(id__in=event_ids, status__in=OPEN).order_by("id"))
    if not rows:
        return 0
    ids = [r.id for r in rows]
    subjects = {r.subject for r in rows if r.subject}
    queue: defaultdict[str, list[tuple[int, str]]] = defaultdict(list)  # open, by subject
    if subjects:
        earlier = DomainEventRow.filter(subject__in=subjects, status__in=OPEN, id__lt=ids[-1])
        for event_id, subject, kind in await earlier.exclude(id__in=ids).values_list(
            "id", "subject", "kind"
        ):
            queue[str(subject)].append((int(event_id), str(kind)))
    for row in rows:
        if row.subject:
            queue[row.subject].append((row.id, row.kind))
    had: defaultdict[int, set[str]] = defaultdict(set)
    known = [i for pending in queue.values() for i, _ in pending] + ids
    for event_id, name in await EventDelivery.filter(event_id__in=set(known)).values_list(
        "event_id", "subscriber"
    ):
        had[int(event_id)].add(str(name))
    job = _Job(deps, queue, had)
    with batch_scope():  # subscribers may share a lookup across the events of the job
        for row in rows:
            for sub in deps.dispatcher.subscribers(row.kind):
                if sub.name in had[row.id]:
                    continue
                # the feature's gathered events go first (a batch keeps one subscriber's order)
                await job.flush(_feature(sub), but=sub.name if sub.batch else "")
                if job.held_back(row, sub):
                    job.waiting.add(row.id)
                elif sub.batch:
                    job.gather(row, sub)
                else:
                    await job.run(row, sub)
        await job.flush()
    done: list[int] = []
    for row in rows:
        if errors := job.errors.get(row.id):
            await _failed(deps, row, errors)
        elif row.id in job.waiting:
            await _wait(deps, row)
        else:
            done.append(row.id)
    await insert_new(EventDelivery, ("event_id", "subscriber", "delivered_at"), job.delivered)
    if done:
        await DomainEventRow.filter(id__in=done).update(
            status=EventStatus.DONE, done_at=deps.now(), last_error=None
        )
    return len(done)


def _feature(sub: Subscription) -> str:
    return sub.name.split(".", 1)[0] + "."


class _Job:
    """What `process_many` knows and did: the ledger (`had`, with a batch subscriber's
    gathered events marked as if delivered, since its call delivers them in order before any
    other subscriber of its feature runs), the events waiting and the errors."""

    def __init__(
        self,
        deps: Deps,
        queue: dict[str, list[tuple[int, str]]],
        had: defaultdict[int, set[str]],
    ) -> None:
        self.deps = deps
        self.queue = queue
        self.had = had
        self.waiting: set[int] = set()
        self.errors: defaultdict[int, list[str]] = defaultdict(list)
        self.delivered: list[tuple[int, str, datetime]] = []  # the ledger's new rows
        self.gathered: dict[str, tuple[Subscription, list[DomainEventRow]]] = {}
        self.needs: dict[str, dict[str, set[str]]] = {}  # by feature

    def held_back(self, row: DomainEventRow, sub: Subscription) -> bool:
        """`_blocked`, answered from what was read and delivered so far."""
        if not row.subject:
            return False
        feature = _feature(sub)
        if (needs := self.needs.get(feature)) is None:
            needs = self.needs[feature] = _needs(self.deps, sub)
        for event_id, kind in self.queue[row.subject]:
            if event_id >= row.id:
                continue
            needed = needs.get(kind)
            if needed and not needed <= self.had.get(event_id, set()):
                return True
        return False

    async def run(self, row: DomainEventRow, sub: Subscription) -> None:
        if (error := await _run(self.deps, row, sub)) is not None:
            self.errors[row.id].append(error)
        else:
            self.had[row.id].add(sub.name)
            self._record(row, sub)

    def _record(self, row: DomainEventRow, sub: Subscription) -> None:
        self.delivered.append((row.id, sub.name, self.deps.now()))

    def gather(self, row: DomainEventRow, sub: Subscription) -> None:
        self.had[row.id].add(sub.name)
        self.gathered.setdefault(sub.name, (sub, []))[1].append(row)

    async def flush(self, feature: str = "", but: str = "") -> None:
        """Call the gathered batch subscribers (of one feature when given, but `but`)."""
        for name in [n for n in self.gathered if n.startswith(feature) and n != but]:
            sub, rows = self.gathered.pop(name)
            await self._call(sub, rows)

    async def _call(self, sub: Subscription, rows: list[DomainEventRow]) -> None:
        try:
            events = [sub.event_cls.model_validate(row.payload) for row in rows]
            await sub.handler(self.deps, events)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not isinstance(exc, ValidationError):
                log.exception("subscriber %s failed on %d events: each alone", sub.name, len(rows))
        else:
            for row in rows:
                self._record(row, sub)
            return
        for row in rows:
            self.had[row.id].discard(sub.name)
        for row in rows:  # in order, as `process` would, each held back by its own
            if self.held_back(row, sub):
                self.waiting.add(row.id)
            else:
                await self.run(row, sub)


def _needs(deps: Deps, sub: Subscription) -> dict[str, set[str]]:
    """The subscribers of `sub`'s feature, by the kind of event they take."""
    needs: defaultdict[str, set[str]] = defaultdict(set)
    for s in deps.dispatcher.subscribers():
        if s.name.startswith(_feature(sub)):
            needs[s.kind].add(s.name)
    return needs


async def _wait(deps: Deps, row: DomainEventRow) -> None:
    stamp = int(deps.now().timestamp() * 1000)
    with contextlib.suppress(Exception):  # the requeue cron looks again anyway
        await deps.queue.enqueue(
            DELIVER_JOB, row.id, job_id=f"{job_id(row)}:w{stamp}", defer_by=WAIT_SECONDS
        )


async def _failed(deps: Deps, row: DomainEventRow, errors: list[str]) -> EventStatus:
    attempts = row.attempts + 1
    dead = attempts >= deps.settings.inbox.max_attempts
    delay = backoff(deps, attempts)
    status = EventStatus.DEAD if dead else EventStatus.FAILED
    await DomainEventRow.filter(id=row.id).update(
        status=status,
        attempts=attempts,
        last_error="\n".join(errors)[:4000],
        next_attempt_at=None if dead else deps.now() + timedelta(seconds=delay),
    )
    if dead:
        log.error("domain event %s (%s) is dead after %s attempts", row.id, row.kind, attempts)
    else:
        row.attempts = attempts
        await enqueue(deps, row, defer_by=delay)
    return status


async def requeue_stranded(deps: Deps) -> int:
    """Cron: events pending too long (Redis was down, a worker died, one waiting on an
    earlier event) or failed and due again."""
    now = deps.now()
    stale = now - timedelta(seconds=deps.settings.inbox.stranded_after_seconds)
    pending = DomainEventRow.filter(status=EventStatus.PENDING, published_at__lte=stale)
    due = DomainEventRow.filter(status=EventStatus.FAILED, next_attempt_at__lte=now)
    count = 0
    for query in (pending, due):
        for row in await query.order_by("id").limit(1000):
            count += await enqueue(deps, row)
    return count


async def counts() -> dict[str, int]:
    """Open and dead events, for the console's health tiles."""
    return {
        "pending": await DomainEventRow.filter(status__in=OPEN).count(),
        "dead": await DomainEventRow.filter(status=EventStatus.DEAD).count(),
    }
