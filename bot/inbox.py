"""The durable callback inbox: store before acknowledging, process in the worker, retry, dead-letter.

Idempotency key = sha256 of the whole decrypted XML (customer events all come from "sys", so
FromUserName + CreateTime would collide). A handler that finished is recorded in
`HandlerRun`, so a retry runs only the handlers that failed.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from tortoise.exceptions import IntegrityError

from bot import conversation, welcome
from bot.batch_memo import batch_scope
from bot.deps import Deps
from bot.events import (
    Event,
    ExternalContactEvent,
    TemplateCardEvent,
    event_from_dict,
    parse_event,
)
from bot.metrics import INBOX_LAG, INBOX_PENDING
from bot.replies import CardReply
from bot.router import EventRoute
from bot.rows import in_list, insert_new, select_in, update_in
from storage.core import INBOX_FINISHED, INBOX_OPEN, HandlerRun, InboxEvent, InboxStatus
from storage.sql import fetch

log = logging.getLogger(__name__)
BUTTON_RUN = "core.button"
TEXT_RUN = "core.text"
WELCOME_RUN = "core.welcome"
PROCESS_JOB = "process_inbox"
BATCH_JOB = "process_inbox_batch"  # rows stored together, or requeued together


def inbox_key(xml: str) -> str:
    return hashlib.sha256(xml.encode()).hexdigest()


_FLAT_ROOT = re.compile(r"\s*<xml>(.*)</xml>\s*\Z", re.S)
_FLAT_ITEM = re.compile(
    r"\s*<([A-Za-z_][\w.-]*)>(?:<!\[CDATA\[((?:(?!\]\]>).)*)\]\]>|([^<&]*))</\1>", re.S
)


def flat_xml(xml: str) -> dict[str, object] | None:
    """A stored callback's children when it is the flat `<xml><Name>text or CDATA</Name>…
    </xml>` WeCom sends, exactly as `parse_xml` gives them (text stripped, empty as None), in
    a fraction of its time; None for anything else (attributes, nesting, repeated names,
    entities), which `parse_xml` then reads."""
    root = _FLAT_ROOT.match(xml)
    if root is None:
        return None
    body, pos, end = root.group(1), 0, len(root.group(1))
    found: dict[str, object] = {}
    while pos < end:
        item = _FLAT_ITEM.match(body, pos)
        if item is None:
            return None if body[pos:].strip() else found or None
        name, cdata, text = item.groups()
        if name in found:
            return None
        found[name] = ((cdata if cdata is not None else text) or "").strip() or None
        pos = item.end()
    return found or None


def parse_row(xml: str) -> Event:
    """A stored callback's event (it was checked when stored: the flat form is the norm)."""
    data = flat_xml(xml)
    return event_from_dict(data) if data is not None else parse_event(xml)


def kind_of(event: Event) -> str:
    """The event's route as a label, cut to the column's 96 characters."""
    name, change = event.route
    return (f"{name}/{change}" if change else name)[:96]


async def store(xml: str, event: Event, now: datetime) -> tuple[InboxEvent, bool]:
    """Insert the row; (row, False) when WeCom re-delivered an event we already hold."""
    key = inbox_key(xml)
    try:
        row = await InboxEvent.create(
            key=key, kind=kind_of(event), xml=xml, received_at=now, next_attempt_at=now
        )
    except IntegrityError:
        return await InboxEvent.get(key=key), False
    return row, True


@dataclass(slots=True)
class StoredRow:
    """What processing needs of an inbox row, read as plain values (no model instance: a
    worker's set is hundreds of rows)."""

    id: int
    key: str
    xml: str
    attempts: int
    replied: bool


STORED_FIELDS = ("id", "key", "xml", "attempts", "replied")


async def open_rows(row_ids: list[int]) -> list[StoredRow]:
    """The rows of `row_ids` still to process (neither done nor dead), in id order."""
    found = await select_in(InboxEvent, (*STORED_FIELDS, "status"), "id", row_ids)
    return sorted(
        (
            StoredRow(int(i), str(k), str(x), int(a), bool(r))
            for i, k, x, a, r, status in found
            if status not in INBOX_FINISHED
        ),
        key=lambda row: row.id,
    )


def job_id(row: InboxEvent | StoredRow) -> str:
    # The content key (not the row id, which a new database reuses) plus the attempt number:
    # arq refuses an id it still holds a result for.
    return f"inbox:{row.key[:24]}:{row.attempts}"


async def enqueue(deps: Deps, row: InboxEvent | StoredRow, defer_by: float | None = None) -> bool:
    """Best effort: when Redis is down the row stays pending and the cron picks it up."""
    try:
        await deps.queue.enqueue(PROCESS_JOB, row.id, job_id=job_id(row), defer_by=defer_by)
    except Exception as exc:  # redis ConnectionError, TimeoutError, OSError ...
        log.warning("enqueue of inbox row %s failed (%s); the requeue cron will retry", row.id, exc)
        return False
    return True


async def record_run(row_id: int, handler: str, now: datetime) -> None:
    with contextlib.suppress(IntegrityError):  # a concurrent run of the row recorded it first
        await HandlerRun.create(inbox_id=row_id, handler=handler, finished_at=now)


async def press(deps: Deps, row_id: int, event: TemplateCardEvent) -> CardReply | None:
    """The button handler's answer, unless this person already pressed this key before."""
    if not await conversation.first_press(deps, event.from_user, event.event_key, row_id):
        log.warning("card click refused: the button key was already used")
        return None
    return await deps.dispatcher.dispatch_button(deps, event)


async def _run_button(deps: Deps, row: StoredRow, event: TemplateCardEvent) -> None:
    """The slow path of a card click: the handler's update goes out via the API, once."""
    reply = await press(deps, row.id, event)
    if reply is not None and event.response_code and not row.replied:
        userids = list(reply.userids) or [event.from_user]
        await deps.wecom.update_template_card(userids, event.response_code, reply.api_body())
        await InboxEvent.filter(id=row.id).update(replied=True)


async def _run_all(deps: Deps, row: StoredRow, event: Event, done: set[str]) -> list[str]:
    errors: list[str] = []
    specials: list[tuple[str, Callable[[], Awaitable[object]]]] = []
    if isinstance(event, TemplateCardEvent):
        specials.append((BUTTON_RUN, partial(_run_button, deps, row, event)))
    if conversation.is_conversation(event):
        specials.append((TEXT_RUN, partial(conversation.respond, deps, event)))
    if isinstance(event, ExternalContactEvent) and welcome.is_add(event):
        # The safety net of the web's deadline lane (it decides first, almost always).
        specials.append((WELCOME_RUN, partial(welcome.arbitrate, deps, event)))
    for name, run in specials:
        if name in done:
            continue
        try:
            await run()
            await record_run(row.id, name, deps.now())
        except Exception as exc:
            log.exception("inbox row %s: %s failed", row.id, name)
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
    for outcome in await deps.dispatcher.dispatch_event(deps, event, skip=frozenset(done)):
        if outcome.error:
            errors.append(f"{outcome.name}: {outcome.error}")
        else:
            await record_run(row.id, outcome.name, deps.now())
    return errors


def backoff(deps: Deps, attempts: int) -> float:
    base = deps.settings.inbox.retry_base_seconds * 2 ** (attempts - 1)
    return float(min(base, 3600.0)) * random.uniform(0.8, 1.2)


async def process(deps: Deps, row_id: int) -> InboxStatus | None:
    """Run the handlers of one inbox row; safe to call twice (arq may run a job twice)."""
    found = await open_rows([row_id])
    if not found:  # done or dead already (or gone)
        closed = await InboxEvent.get_or_none(id=row_id)
        return closed.status if closed else None
    row = found[0]
    ledger = await HandlerRun.filter(inbox_id=row.id).values_list("handler", flat=True)
    status = await _process_row(deps, row, {str(h) for h in ledger})
    if status is InboxStatus.DONE:
        await _mark_done(deps, [row.id])
    return status


async def process_batch(deps: Deps, row_ids: list[int]) -> int:
    """The rows stored together, in order, with one read of the rows and of their ledger and
    one write marking them done. Consecutive rows whose handlers are all batch handlers
    (`router.event_batch`) are handled set-wise: each handler once over all of them, its runs
    recorded in one INSERT as soon as it finished (a crash after that re-runs nothing). A row
    that raises stays pending for the requeue cron and does not hold up the others. Returns
    the rows done."""
    return len(await process_rows(deps, row_ids))


async def process_rows(deps: Deps, row_ids: list[int]) -> set[int]:
    """`process_batch`, returning the ids of the rows done."""
    rows = await open_rows(row_ids)
    if not rows:
        return set()
    runs: dict[int, set[str]] = {r.id: set() for r in rows}
    for inbox_id, handler in await select_in(HandlerRun, ("inbox_id", "handler"), "inbox_id", runs):
        runs[int(inbox_id)].add(str(handler))
    done: list[int] = []
    with batch_scope():  # one WeCom read per customer per batch, and the like
        for routes, items in _segments(deps, rows):
            try:
                if routes is not None:
                    done += await _process_segment(deps, routes, items, runs)
                    continue
                row = items[0][0]
                if await _process_row(deps, row, runs[row.id]) is InboxStatus.DONE:
                    done.append(row.id)
            except Exception:
                log.exception("inbox rows %s could not be processed", [r.id for r, _ in items])
    await _mark_done(deps, done)
    return set(done)


# KEYS: one claim per inbox row; ARGV: owner token, lease (ms). 1 where this call took the
# claim (or already held it), 0 where another worker holds it.
_CLAIM_LUA = """
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[2]) then
    out[i] = 1
  elseif redis.call('GET', key) == ARGV[1] then
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
"""
_RELEASE_LUA = """
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
return 0
"""
CLAIM_LEASE_MS = 120_000


async def pending_after(after: int, limit: int, own: list[int]) -> list[tuple[int, str]]:
    """The rows of `own` still to process and the pending rows past `after` (rows whose jobs
    are still queued when the worker is behind), oldest first, as (id, key): one read."""
    own_in, own_param = in_list(InboxEvent, "id", own)
    sql = (
        f'SELECT "id", "key" FROM "{InboxEvent._meta.db_table}" '
        f'WHERE ("id" {own_in} AND "status" IN (?, ?)) OR ("status" = ? AND "id" > ?) '
        'ORDER BY "id" LIMIT ?'
    )
    found = await fetch(sql, [own_param, *INBOX_OPEN, InboxStatus.PENDING, after, limit])
    missing = set(own) - {int(i) for i, _ in found}
    if missing and len(found) >= limit:  # own rows past the limit
        past = await select_in(InboxEvent, ("id", "key", "status"), "id", missing)
        found += [(i, k) for i, k, status in past if status in INBOX_OPEN]
    return sorted({int(i): str(k) for i, k in found}.items())


async def claim_rows(deps: Deps, owner: str, rows: list[tuple[int, str]]) -> set[int]:
    """The rows (id, key) this worker may take: a short lease per row in Redis (named by the
    row's id and content key, so a new database's rows are not mistaken), so two workers
    pulling ahead do not process the same rows twice. Only an economy: a row processed twice is still recorded once (every write
    has its unique key), and every row keeps its own job whatever happens to the lease (Redis
    may be lost)."""
    if not rows:
        return set()
    script = deps.redis.register_script(_CLAIM_LUA)
    taken = await script(keys=_claim_keys(rows), args=[owner, CLAIM_LEASE_MS])
    return {i for (i, _), ok in zip(rows, taken, strict=True) if int(ok)}


async def release_rows(deps: Deps, owner: str, rows: list[tuple[int, str]]) -> None:
    """Give back the leases of `claim_rows` once the set is processed (a lost release only
    leaves them to expire)."""
    if rows:
        script = deps.redis.register_script(_RELEASE_LUA)
        await script(keys=_claim_keys(rows), args=[owner])


def _claim_keys(rows: list[tuple[int, str]]) -> list[str]:
    return [f"scrmbot:inbox:claim:{i}:{key[:24]}" for i, key in rows]


Item = tuple[StoredRow, Event | None]


def _segments(
    deps: Deps, rows: list[StoredRow]
) -> list[tuple[list[EventRoute] | None, list[Item]]]:
    """Runs of consecutive rows handled by the same batch handlers (and nothing else but the
    welcome safety net), and every other row alone (routes None), in the rows' order."""
    segments: list[tuple[list[EventRoute] | None, list[Item]]] = []
    for row in rows:
        try:
            event = parse_row(row.xml)
        except Exception:  # processed alone, where the failure is logged and the row kept
            segments.append((None, [(row, None)]))
            continue
        routes = None
        if not isinstance(event, TemplateCardEvent) and not conversation.is_conversation(event):
            routes = deps.dispatcher.batch_routes(event)
        if routes is not None and segments and segments[-1][0] == routes:
            segments[-1][1].append((row, event))
        else:
            segments.append((routes, [(row, event)]))
    return segments


async def _process_segment(
    deps: Deps, routes: list[EventRoute], items: list[Item], runs: dict[int, set[str]]
) -> list[int]:
    errors: dict[int, list[str]] = {row.id: [] for row, _ in items}
    adds = [
        (row, event)
        for row, event in items
        if isinstance(event, ExternalContactEvent)
        and welcome.is_add(event)
        and WELCOME_RUN not in runs[row.id]
    ]
    if adds:
        await _welcome_safety_net(deps, adds, errors)
    for route in routes:
        todo = [(r, e) for r, e in items if e is not None and route.name not in runs[r.id]]
        events = [e for _, e in todo if e is not None]
        outcomes = await deps.dispatcher.dispatch_batch(deps, route, events)
        finished = []
        for (row, _), outcome in zip(todo, outcomes, strict=True):
            if outcome.error:
                errors[row.id].append(f"{outcome.name}: {outcome.error}")
            else:
                finished.append(row.id)
        await record_runs(finished, route.name, deps.now())
    done = []
    for row, _ in items:
        if await _finish_row(deps, row, errors[row.id]) is InboxStatus.DONE:
            done.append(row.id)
    return done


async def _welcome_safety_net(
    deps: Deps, adds: list[tuple[StoredRow, ExternalContactEvent]], errors: dict[int, list[str]]
) -> None:
    """The web's lane almost always decided already: one read tells which; the others are
    decided together (`welcome.arbitrate_many`: one claim INSERT for them all), and one by
    one only if that fails, so a failing add holds up no other."""
    events = {row.id: e for row, e in adds}
    decided = await welcome.decided(list(events.values()))
    todo = [(row, e) for row, e in adds if welcome.welcome_key(events[row.id]) not in decided]
    welcomed = [row.id for row, _ in adds if welcome.welcome_key(events[row.id]) in decided]
    try:
        if todo:
            await welcome.arbitrate_many(deps, [events[row.id] for row, _ in todo])
        welcomed += [row.id for row, _ in todo]
    except Exception:
        log.exception("inbox rows %s: %s failed together", [r.id for r, _ in todo], WELCOME_RUN)
        for row, _ in todo:
            try:
                await welcome.arbitrate(deps, events[row.id])
            except Exception as exc:
                log.exception("inbox row %s: %s failed", row.id, WELCOME_RUN)
                errors[row.id].append(f"{WELCOME_RUN}: {type(exc).__name__}: {exc}")
                continue
            welcomed.append(row.id)
    await record_runs(welcomed, WELCOME_RUN, deps.now())


async def record_runs(row_ids: list[int], handler: str, now: datetime) -> None:
    """One INSERT for a handler's runs over many rows (a concurrent run's rows are kept)."""
    rows = [(i, handler, now) for i in row_ids]
    await insert_new(HandlerRun, ("inbox_id", "handler", "finished_at"), rows)


async def _mark_done(deps: Deps, row_ids: list[int]) -> None:
    changes = {"status": InboxStatus.DONE, "done_at": deps.now(), "last_error": None}
    await update_in(InboxEvent, changes, "id", row_ids)


async def _process_row(deps: Deps, row: StoredRow, done: set[str]) -> InboxStatus:
    """DONE (for the caller to record), or the failure recorded with its retry."""
    event = parse_row(row.xml)
    return await _finish_row(deps, row, await _run_all(deps, row, event, done))


async def _finish_row(deps: Deps, row: StoredRow, errors: list[str]) -> InboxStatus:
    if not errors:
        return InboxStatus.DONE
    attempts = row.attempts + 1
    dead = attempts >= deps.settings.inbox.max_attempts
    delay = backoff(deps, attempts)
    await InboxEvent.filter(id=row.id).update(
        status=InboxStatus.DEAD if dead else InboxStatus.FAILED,
        attempts=attempts,
        last_error="\n".join(errors)[:4000],
        next_attempt_at=None if dead else deps.now() + timedelta(seconds=delay),
    )
    if dead:
        log.error("inbox row %s is dead after %s attempts", row.id, attempts)
    else:
        row.attempts = attempts
        await enqueue(deps, row, defer_by=delay)
    return InboxStatus.DEAD if dead else InboxStatus.FAILED


REQUEUE_BATCH = 100  # pending rows per requeued batch job


async def requeue_stranded(deps: Deps) -> int:
    """Cron: rows pending too long (Redis was down, a worker died, or the workers are behind)
    or failed and due again. Pending rows go back as batch jobs of up to `REQUEUE_BATCH` rows,
    so they are processed set-wise as they first were (never one by one while the workers are
    behind); a failed row as its own job, with its attempts."""
    now = deps.now()
    stale = now - timedelta(seconds=deps.settings.inbox.stranded_after_seconds)
    pending = InboxEvent.filter(status=InboxStatus.PENDING, received_at__lte=stale)
    rows = await pending.order_by("id").limit(1000).values_list("id", "key")
    count = 0
    for start in range(0, len(rows), REQUEUE_BATCH):
        chunk = [(int(str(i)), str(k)) for i, k in rows[start : start + REQUEUE_BATCH]]
        count += len(chunk) if await _enqueue_requeued(deps, chunk) else 0
    due = InboxEvent.filter(status=InboxStatus.FAILED, next_attempt_at__lte=now)
    for row in await due.order_by("id").limit(1000):
        count += await enqueue(deps, row)
    await update_gauges(now)
    return count


async def _enqueue_requeued(deps: Deps, rows: list[tuple[int, str]]) -> bool:
    """One batch job for these pending rows, named by them: while an earlier requeue's job for
    the same rows is queued or running (or its result kept), arq refuses the copy."""
    digest = hashlib.sha256("".join(key for _, key in rows).encode()).hexdigest()[:32]
    try:
        return await deps.queue.enqueue(
            BATCH_JOB, [i for i, _ in rows], job_id=f"inbox-requeue:{digest}"
        )
    except Exception as exc:
        log.warning("requeue of %d inbox rows failed (%s); the next run retries", len(rows), exc)
        return False


async def update_gauges(now: datetime) -> None:
    open_rows = InboxEvent.filter(status__in=INBOX_OPEN)
    INBOX_PENDING.set(await open_rows.count())
    oldest = await open_rows.order_by("received_at").first()
    INBOX_LAG.set((now - oldest.received_at).total_seconds() if oldest else 0)
