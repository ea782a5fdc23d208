"""The facts router and the listener registry other features subscribe to.

Listeners run after a fact is stored, and again when the same fact is seen once more (a
WeCom retry, a re-run job): they must be idempotent. A failing listener fails the handler or
job that called it, so the inbox retries; the fact insert is then a no-op.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from bot.events import Event
from bot.router import Router

if TYPE_CHECKING:
    from bot.deps import Deps

log = logging.getLogger("handlers.facts")

router = Router("facts")

Listener = Callable[["Deps", Any], Awaitable[None]]
L = TypeVar("L", bound=Listener)

_LISTENERS: dict[str, list[Listener]] = {
    "follow_added": [],
    "follow_ended": [],
    "group_joined": [],
    "group_quit": [],
}


class ListenerError(RuntimeError):
    """One or more listeners failed; the caller fails so the work is retried."""


def _register(kind: str) -> Callable[[L], L]:
    def decorator(fn: L) -> L:
        if not inspect.iscoroutinefunction(cast(Any, fn)):
            raise TypeError(f"{fn.__qualname__} must be an async function")
        listeners: list[Any] = _LISTENERS[kind]
        if fn not in listeners:
            listeners.append(fn)
        return fn

    return decorator


def on_follow_added(fn: L) -> L:
    """`async def fn(deps, fact: FollowEvent)` after a staff member added a customer."""
    return _register("follow_added")(fn)


def on_follow_ended(fn: L) -> L:
    """`async def fn(deps, fact: FollowEvent)` after a follow relation ended."""
    return _register("follow_ended")(fn)


def on_group_joined(fn: L) -> L:
    """`async def fn(deps, fact: GroupMembershipEvent)` after someone joined a customer group."""
    return _register("group_joined")(fn)


def on_group_quit(fn: L) -> L:
    """`async def fn(deps, fact: GroupMembershipEvent)` after someone left a customer group."""
    return _register("group_quit")(fn)


def remove_listener(kind: str, fn: Listener) -> None:
    """For tests: forget a listener registered with one of the decorators."""
    if fn in _LISTENERS[kind]:
        _LISTENERS[kind].remove(fn)


async def notify(deps: Deps, kind: str, fact: Any) -> None:
    """Call every listener of `kind`; all run, then any failure is raised."""
    failed: list[str] = []
    for fn in list(_LISTENERS[kind]):
        try:
            await fn(deps, fact)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("facts listener %s failed on %s", fn.__qualname__, kind)
            failed.append(f"{fn.__qualname__}: {type(exc).__name__}: {exc}")
    if failed:
        raise ListenerError("; ".join(failed))


def event_id(event: Event) -> str:
    """A WeCom event's identity: its whole content (as the inbox keys callbacks), so a
    re-delivery is the same event and two real events never merge, however close in time."""
    body = json.dumps(event.raw, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:32]


def from_ts(ts: int | float | str | None) -> datetime:
    return datetime.fromtimestamp(int(ts or 0), UTC)


def ts(at: datetime) -> int:
    return int(at.timestamp())
