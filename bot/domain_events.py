"""Durable typed domain events: the shared vocabulary features publish and subscribe to.

A feature publishes right after it stores the fact, with a key derived from that fact:

    await publish(deps, FollowAdded(userid=..., external_userid=..., at=...), key=fact.key)

and another subscribes with `@router.listen(FollowAdded)`. Publishing the same key again is a
no-op (WeCom retries, re-run jobs), so each subscriber sees each fact once. Delivery runs in
the worker (`bot.event_delivery`): a failing subscriber is retried alone with backoff, dead
after `inbox.max_attempts`, and listed for admins; a subscriber sees the events of one subject
(a customer, a group member) in the order they were published.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict
from tortoise import connections
from tortoise.exceptions import IntegrityError

from bot.deps import Deps
from storage.core import DomainEventRow, EventStatus

log = logging.getLogger(__name__)
DELIVER_JOB = "deliver_event"
DELIVER_MANY_JOB = "deliver_events"


class DomainEvent(BaseModel):
    """Subclass per kind of fact. `kind` is the class name unless given; `subject()` names
    what the event is about, for per-subject ordering ("" = no ordering)."""

    model_config = ConfigDict(frozen=True)
    kind: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" not in cls.__dict__:
            cls.kind = cls.__name__

    def subject(self) -> str:
        return ""


class _CustomerEvent(DomainEvent):
    userid: str  # the staff member
    external_userid: str
    at: datetime

    def subject(self) -> str:
        return f"customer:{self.external_userid}"


class FollowAdded(_CustomerEvent):
    """A staff member added a customer (one per relation episode)."""

    add_way: int = 0
    state: str = ""  # the contact way's state, e.g. a channel code
    source: str = "callback"  # callback | sync


class FollowEnded(_CustomerEvent):
    """A follow relation ended: deleted by either side, or transferred."""

    reason: str = ""
    source: str = "callback"


class _GroupEvent(DomainEvent):
    chat_id: str
    member_id: str  # userid or external_userid
    member_type: int  # 1 staff, 2 external (WeCom's member type)
    at: datetime
    scene: int = 0

    def subject(self) -> str:
        return f"group:{self.chat_id}:{self.member_id}"


class GroupJoined(_GroupEvent):
    invitor: str = ""  # the staff member who invited, when WeCom says


class GroupQuit(_GroupEvent):
    pass


class TagsMarked(_CustomerEvent):
    """Corp tags changed on one follow relation. `by` says who set them: scrmbot (through
    the API) or the WeCom client (a staff member in the app); `actor` is who or what did."""

    add: list[str]
    remove: list[str]
    by: Literal["scrmbot", "client"]
    actor: str = ""


class RadarVisited(DomainEvent):
    """A known customer opened a tracked link sent by a staff member."""

    visit_id: str
    radar_id: int
    radar_title: str = ""
    external_userid: str
    userid: str  # the staff member the visit is credited to
    at: datetime
    level: int = 1  # 1 = opened the staff member's share, 2+ = reached through forwards

    def subject(self) -> str:
        return f"customer:{self.external_userid}"


class FissionHelped(DomainEvent):
    """A helper's add was counted for a participant of an activity (once per helper)."""

    activity_id: int
    participant_external_userid: str
    helper_external_userid: str
    userid: str  # the staff member the helper added
    helps: int  # the participant's counted helps after this one
    at: datetime

    def subject(self) -> str:
        return f"customer:{self.helper_external_userid}"


class StageMoved(_CustomerEvent):
    """A follow relation moved to another stage of a journey (`to_stage_id` None = back to
    the unset pool); `by` is rule, staff or batch."""

    journey_id: int
    from_stage_id: int | None
    to_stage_id: int | None
    by: str
    transition_id: int


class PointsChanged(DomainEvent):
    """A customer's balance changed: one ledger entry (earn, spend, hold, release, expire,
    zero, import, manual, reverse: `entry_kind`); `balance` is the available balance after it."""

    external_userid: str
    entry_id: int
    entry_kind: str
    rule: str = ""
    amount: int
    balance: int
    at: datetime

    def subject(self) -> str:
        return f"customer:{self.external_userid}"


def event_key(kind: str, key: str) -> str:
    """The stored unique key: readable when short, hashed when it would not fit."""
    full = f"{kind}:{key}"
    return (
        full if len(full) <= 160 else f"{kind}:sha256:{hashlib.sha256(full.encode()).hexdigest()}"
    )


@dataclass
class StoredEvent:
    """What delivery needs of a stored event, read as plain values (no model instance)."""

    id: int
    key: str
    kind: str
    subject: str
    attempts: int
    payload: dict[str, Any]


_HELD: ContextVar[list[int] | None] = ContextVar("domain_events_held", default=None)


@contextlib.contextmanager
def held_for_caller() -> Iterator[list[int]]:
    """Events published inside get no delivery job: their ids gather in the list, for the
    caller to deliver (`event_delivery.process_many`) once its work is done. A worker that
    dies first leaves them pending for the requeue cron, as a lost enqueue would."""
    held: list[int] = []
    token = _HELD.set(held)
    try:
        yield held
    finally:
        _HELD.reset(token)


def job_id(row: DomainEventRow | StoredEvent) -> str:
    digest = hashlib.sha256(row.key.encode()).hexdigest()[:24]
    return f"event:{digest}:{row.attempts}"


async def enqueue(
    deps: Deps, row: DomainEventRow | StoredEvent, defer_by: float | None = None
) -> bool:
    """Best effort: when Redis is down the row stays pending and the requeue cron finds it."""
    try:
        await deps.queue.enqueue(DELIVER_JOB, row.id, job_id=job_id(row), defer_by=defer_by)
    except Exception as exc:
        log.warning("enqueue of domain event %s failed (%s); the cron will retry", row.id, exc)
        return False
    return True


async def publish(deps: Deps, event: DomainEvent, *, key: str) -> DomainEventRow:
    """Store the event once per key and hand it to the worker; idempotent."""
    stored = event_key(event.kind, key)
    subscribed = bool(deps.dispatcher.subscribers(event.kind))
    try:
        row = await DomainEventRow.create(
            key=stored,
            kind=event.kind,
            subject=event.subject()[:191],
            payload=event.model_dump(mode="json"),
            published_at=deps.now(),
            next_attempt_at=deps.now(),
            # nobody listens: stored as done in the same statement (one write, not two)
            status=EventStatus.PENDING if subscribed else EventStatus.DONE,
            done_at=None if subscribed else deps.now(),
        )
    except IntegrityError:
        return await DomainEventRow.get(key=stored)  # already published: nothing new
    if subscribed:
        if (held := _HELD.get()) is not None:
            held.append(row.id)
        else:
            await enqueue(deps, row)
    return row


COLUMNS = (
    "key",
    "kind",
    "subject",
    "payload",
    "published_at",
    "next_attempt_at",
    "status",
    "attempts",
)


async def publish_many(deps: Deps, items: Sequence[tuple[DomainEvent, str]]) -> list[int]:
    """`publish` for many events (event, key): one INSERT … ON CONFLICT DO NOTHING and one
    job delivering the new ones in order (inside `held_for_caller`, their ids for the caller
    instead); keys already published are left alone. Returns the ids of the events this call
    stored."""
    unique: dict[str, DomainEvent] = {}
    for event, key in items:
        unique.setdefault(event_key(event.kind, key), event)
    if not unique:
        return []
    conn = connections.get("default")
    fields = DomainEventRow._meta.fields_map
    now = fields["published_at"].to_db_value(deps.now(), DomainEventRow)
    to_json = fields["payload"].to_db_value
    keys, kinds, subjects, payloads = [], [], [], []
    for stored, event in unique.items():
        keys.append(stored)
        kinds.append(event.kind)
        subjects.append(event.subject()[:191])
        payloads.append(to_json(event.model_dump(mode="json"), DomainEventRow))
    table = DomainEventRow._meta.db_table
    if conn.capabilities.dialect == "postgres":  # one statement text, prepared once
        sql = (
            f"INSERT INTO {table} ({','.join(COLUMNS)}) SELECT k, c, s, p, $5, $5, 'pending', 0 "
            f"FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::jsonb[]) "
            f"AS t(k, c, s, p) ON CONFLICT (key) DO NOTHING RETURNING id, kind"
        )
        values: list[object] = [keys, kinds, subjects, payloads, now]
    else:
        row = "(" + ",".join("?" * len(COLUMNS)) + ")"
        sql = (
            f"INSERT INTO {table} ({','.join(COLUMNS)}) VALUES {','.join([row] * len(keys))} "
            f"ON CONFLICT (key) DO NOTHING RETURNING id, kind"
        )
        values = []
        for item in zip(keys, kinds, subjects, payloads, strict=True):
            values += [*item, now, now, "pending", 0]
    inserted = sorted(
        (int(r["id"]), str(r["kind"])) for r in await conn.execute_query_dict(sql, values)
    )
    wanted = [i for i, kind in inserted if deps.dispatcher.subscribers(kind)]
    if nobody := [i for i, kind in inserted if not deps.dispatcher.subscribers(kind)]:
        await DomainEventRow.filter(id__in=nobody).update(
            status=EventStatus.DONE, done_at=deps.now()
        )
    if wanted and (held := _HELD.get()) is not None:
        held.extend(wanted)
    elif wanted:
        digest = hashlib.sha256("".join(sorted(unique)).encode()).hexdigest()[:32]
        try:
            await deps.queue.enqueue(DELIVER_MANY_JOB, wanted, job_id=f"events:{digest}")
        except Exception as exc:
            log.warning(
                "enqueue of %d domain events failed (%s); the cron will retry", len(wanted), exc
            )
    return [i for i, _ in inserted]
