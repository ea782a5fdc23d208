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
import functools
import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from pydantic import ValidationError
from tortoise.exceptions import IntegrityError

from bot.batch_memo import batch_scope
from bot.deps import Deps
from bot.domain_events import DELIVER_JOB, DomainEvent, StoredEvent, enqueue, job_id
from bot.group_commit import GroupCommit
from bot.inbox import backoff
from bot.router_types import Subscription
from bot.rows import in_list, insert_new, update_in
from storage.core import DomainEventRow, EventDelivery, EventStatus
from storage.sql import fetch_dicts

log = logging.getLogger(__name__)
Stored = DomainEventRow | StoredEvent  # a model instance (one event) or plain values (a set)
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


async def _run(
    deps: Deps,
    row: Stored,
    sub: Subscription,
    parse: Callable[[Stored, type[DomainEvent]], DomainEvent] | None = None,
) -> str | None:
    """Run one subscriber; the error text when it failed."""
    try:
        if parse is not None:
            event = parse(row, sub.event_cls)
        else:
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
    like `process` one by one but set-wise (`_deliver_set`). The delivery jobs a worker runs
    at the same time are joined into one set (read, recorded and marked done together); a set
    that fails as a whole (the database, say) is delivered again one event at a time. Returns
    this job's events done."""
    joined: GroupCommit[list[int], int | Exception] | None = deps.state.resources.get(_JOINED)
    if joined is None:
        joined = GroupCommit(partial(_deliver_joined, deps), max_batch=JOIN_JOBS)
        deps.state.resources[_JOINED] = joined
    result = await joined.submit(list(event_ids))
    if isinstance(result, Exception):
        raise result
    return result


JOIN_JOBS = 64  # delivery jobs joined into one set at most
MAX_SET = 500  # events read and marked done by one statement each


_JOINED = "event_delivery.joined"  # the process's joined sets, in `deps.state.resources`


async def _deliver_joined(deps: Deps, jobs: list[list[int]]) -> list[int | Exception]:
    ids = sorted({int(i) for job in jobs for i in job})
    done: set[int] = set()
    failed: dict[int, Exception] = {}
    for start in range(0, len(ids), MAX_SET):  # in publish order: a later set sees the earlier
        part = ids[start : start + MAX_SET]
        try:
            done.update(await _deliver_set(deps, part))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("delivery of %d domain events failed: one at a time", len(part))
            for event_id in part:
                try:
                    if await process(deps, event_id) is EventStatus.DONE:
                        done.add(event_id)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # its job fails and is retried (or the cron finds it)
                    log.exception("delivery of domain event %s failed", event_id)
                    failed[event_id] = exc
    results: list[int | Exception] = []
    for job in jobs:
        error = next((failed[i] for i in job if i in failed), None)
        results.append(error if error is not None else sum(int(i) in done for i in set(job)))
    return results


async def _deliver_set(deps: Deps, event_ids: list[int]) -> list[int]:
    """One set, in publish order: its rows, the earlier open events of their subjects and the
    ledger of both read in one statement, a batch subscriber (`router.listen_batch`) called
    once with all its events and the events marked done in one UPDATE. The ledger gets rows
    only for the events left open (waiting, or a subscriber failed): a done event's
    subscribers all had it, and nothing asks again. A failing subscriber is retried alone, as
    with `process`. Returns the events done."""
    rows, queue, had = await _read_set(event_ids)
    if not rows:
        return []
    job = _Job(deps, queue, had)
    with batch_scope():  # subscribers may share a lookup across the events of the set
        for row in rows:
            for sub in deps.dispatcher.subscribers(row.kind):
                if sub.name in had[row.id]:
                    continue
                # the feature's gathered events go first (a batch keeps one subscriber's order)
                if job.gathered.get(_feature(sub)):
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
    finished = set(done)
    still_open = [row for row in job.delivered if row[0] not in finished]
    await insert_new(EventDelivery, ("event_id", "subscriber", "delivered_at"), still_open)
    if done:
        await _mark_done(deps, done)
    return done


async def _read_set(
    event_ids: list[int],
) -> tuple[list[StoredEvent], dict[str, list[tuple[int, str]]], defaultdict[int, set[str]]]:
    """The set's open rows (in id order), the open events of their subjects (earlier ones
    included, by subject) and the subscribers that already had each: one statement. The set's
    own rows are found by primary key and their status checked here, and their subjects' open
    events through the partial index of open events (`idx_domain_event_open_subject`), so the
    plan does not hang on how many events the status index holds."""
    sql, values = read_statement(event_ids)
    to_payload = DomainEventRow._meta.fields_map["payload"].to_python_value
    rows: dict[int, StoredEvent] = {}
    open_events: dict[int, tuple[str, str]] = {}  # every open event read: (subject, kind)
    had: defaultdict[int, set[str]] = defaultdict(set)
    for r in await fetch_dicts(sql, values):
        if r["status"] not in _OPEN_VALUES:
            continue
        event_id = int(r["id"])
        if r["subscriber"] is not None:
            had[event_id].add(str(r["subscriber"]))
        if event_id in open_events:
            continue
        open_events[event_id] = (str(r["subject"] or ""), str(r["kind"]))
        if r["mine"]:
            payload = to_payload(r["payload"])
            rows[event_id] = StoredEvent(
                id=event_id,
                key=str(r["key"]),
                kind=str(r["kind"]),
                subject=str(r["subject"] or ""),
                attempts=int(r["attempts"]),
                payload=payload,
            )
    queue: defaultdict[str, list[tuple[int, str]]] = defaultdict(list)  # open, by subject
    for event_id in sorted(open_events):
        subject, kind = open_events[event_id]
        if subject:
            queue[subject].append((event_id, kind))
    return [rows[i] for i in sorted(rows)], queue, had


def read_statement(event_ids: list[int]) -> tuple[str, list[object]]:
    """`_read_set`'s statement and its values (the set as one parameter, `in_list`)."""
    ids = sorted(set(event_ids))
    mine, listed = in_list(DomainEventRow, "id", ids)
    others, _ = in_list(DomainEventRow, "id", ids, negate=True)
    table, ledger = DomainEventRow._meta.db_table, EventDelivery._meta.db_table
    is_open = f"IN ('{EventStatus.PENDING.value}','{EventStatus.FAILED.value}')"
    sql = (
        f"SELECT e.id, e.key, e.kind, e.subject, e.attempts, e.payload, e.status, d.subscriber, "
        f"1 AS mine FROM {table} e LEFT JOIN {ledger} d ON d.event_id = e.id "
        f"WHERE e.id {mine} "
        f"UNION ALL "
        f"SELECT e.id, NULL, e.kind, e.subject, 0, NULL, e.status, d.subscriber, 0 "
        f"FROM (SELECT DISTINCT subject FROM {table} WHERE id {mine} AND subject <> '') s "
        f"CROSS JOIN {table} e LEFT JOIN {ledger} d ON d.event_id = e.id "
        f"WHERE e.subject = s.subject AND e.status {is_open} AND e.id {others} AND e.id < ?"
    )
    return sql, [listed, listed, listed, ids[-1]]


_OPEN_VALUES = frozenset(s.value for s in OPEN)


async def _mark_done(deps: Deps, event_ids: list[int]) -> None:
    """The delivered events: one UPDATE."""
    changes = {"status": EventStatus.DONE, "done_at": deps.now(), "last_error": None}
    await update_in(DomainEventRow, changes, "id", event_ids)


def _feature(sub: Subscription) -> str:
    return _feature_of(sub.name)


@functools.cache
def _feature_of(name: str) -> str:
    return name.split(".", 1)[0] + "."


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
        # a feature's batch subscribers with the events gathered for each, in call order
        self.gathered: dict[str, dict[str, tuple[Subscription, list[Stored]]]] = {}
        self.parsed: dict[tuple[int, type[DomainEvent]], DomainEvent] = {}  # once per event
        self.needs: dict[str, dict[str, set[str]]] = {}  # by feature

    def held_back(self, row: Stored, sub: Subscription) -> bool:
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

    def event(self, row: Stored, cls: type[DomainEvent]) -> DomainEvent:
        """The event parsed from its payload once for all the subscribers of its class."""
        if (found := self.parsed.get((row.id, cls))) is None:
            found = self.parsed[(row.id, cls)] = cls.model_validate(row.payload)
        return found

    async def run(self, row: Stored, sub: Subscription) -> None:
        if (error := await _run(self.deps, row, sub, self.event)) is not None:
            self.errors[row.id].append(error)
        else:
            self.had[row.id].add(sub.name)
            self._record(row, sub)

    def _record(self, row: Stored, sub: Subscription) -> None:
        self.delivered.append((row.id, sub.name, self.deps.now()))

    def gather(self, row: Stored, sub: Subscription) -> None:
        self.had[row.id].add(sub.name)
        mine = self.gathered.setdefault(_feature(sub), {})
        mine.setdefault(sub.name, (sub, []))[1].append(row)

    async def flush(self, feature: str = "", but: str = "") -> None:
        """Call the gathered batch subscribers (of one feature when given, but `but`)."""
        for name in [feature] if feature else list(self.gathered):
            mine = self.gathered.get(name)
            while mine and (ready := [n for n in mine if n != but]):
                sub, rows = mine.pop(ready[0])
                await self._call(sub, rows)

    async def _call(self, sub: Subscription, rows: list[Stored]) -> None:
        try:
            events = [self.event(row, sub.event_cls) for row in rows]
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


async def _wait(deps: Deps, row: Stored) -> None:
    stamp = int(deps.now().timestamp() * 1000)
    with contextlib.suppress(Exception):  # the requeue cron looks again anyway
        await deps.queue.enqueue(
            DELIVER_JOB, row.id, job_id=f"{job_id(row)}:w{stamp}", defer_by=WAIT_SECONDS
        )


async def _failed(deps: Deps, row: Stored, errors: list[str]) -> EventStatus:
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
