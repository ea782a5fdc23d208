"""The dispatcher: joins the routers, finds the handlers of an event, a button or a text
command, and answers the core's questions about the features (jobs, crons, pages, hooks,
subscriptions, lookups) without naming any feature."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.auth_types import Role
from bot.callback_data import CallbackDataError
from bot.events import Event, TemplateCardEvent
from bot.replies import CardReply
from bot.router import (
    ButtonRoute,
    EventRoute,
    Hook,
    HttpRoute,
    RegistrationError,
    ResourceFactory,
    Router,
    ScheduledRoute,
    TileHook,
)
from bot.router_types import PageEntry, Subscription
from bot.talk import TalkDispatch

if TYPE_CHECKING:
    from bot.deps import Deps

log = logging.getLogger("bot.router")


@dataclass
class HandlerOutcome:
    name: str
    error: str | None = None


async def _run_one(deps: Deps, route: EventRoute, event: Event) -> HandlerOutcome:
    outcome = HandlerOutcome(route.name)
    try:
        await route.handler(deps, [event] if route.batch else event)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.exception("handler %s failed", route.name)
        outcome.error = f"{type(exc).__name__}: {exc}"[:1000]
    return outcome


class Dispatcher(TalkDispatch):
    def __init__(self, routers: list[Router]) -> None:
        self.routers = routers
        self._buttons: list[ButtonRoute] = []
        self._join_talk(routers)
        self._lookups: dict[str, Callable[..., Awaitable[Any]]] = {}
        self._subscribed: tuple[int, dict[str | None, list[Subscription]]] = (-1, {})
        seen: set[str] = set()
        for router in routers:
            if router.name in seen:
                raise RegistrationError(f"duplicate router name {router.name!r}")
            seen.add(router.name)
            for b in router.buttons:
                if any(b.data_cls.prefix == o.data_cls.prefix for o in self._buttons):
                    raise RegistrationError(f"duplicate button prefix {b.data_cls.prefix!r}")
                self._buttons.append(b)
            for name, lookup in router.lookups.items():
                if name in self._lookups:
                    raise RegistrationError(f"duplicate lookup {name!r}")
                self._lookups[name] = lookup

    def handlers_for(self, event: Event) -> list[EventRoute]:
        name, change = event.route
        return [
            r
            for router in self.routers
            for r in router.events
            if r.event == name and r.change_type in ("", change)
        ]

    async def dispatch_event(
        self, deps: Deps, event: Event, skip: frozenset[str] = frozenset()
    ) -> list[HandlerOutcome]:
        """Run every matching handler not in `skip`; one failing does not stop the others."""
        outcomes = []
        for route in self.handlers_for(event):
            if route.name in skip:
                continue
            outcomes.append(await _run_one(deps, route, event))
        return outcomes

    def batch_routes(self, event: Event) -> list[EventRoute] | None:
        """The event's handlers when every one of them is a batch handler, else None."""
        routes = self.handlers_for(event)
        return routes if routes and all(r.batch for r in routes) else None

    async def dispatch_batch(
        self, deps: Deps, route: EventRoute, events: list[Event]
    ) -> list[HandlerOutcome]:
        """One batch handler over `events` at once, one outcome per event; when it raises,
        each event is handled alone so that only the bad ones fail."""
        if not events:
            return []
        try:
            await route.handler(deps, events)
        except asyncio.CancelledError:
            raise
        except Exception:
            if len(events) == 1:
                return [await _run_one(deps, route, events[0])]
            log.warning("batch handler %s failed on %d events: each alone", route.name, len(events))
            return [await _run_one(deps, route, event) for event in events]
        return [HandlerOutcome(route.name) for _ in events]

    def button_for(self, key: str) -> ButtonRoute | None:
        return next((b for b in self._buttons if b.data_cls.matches(key)), None)

    async def dispatch_button(self, deps: Deps, event: TemplateCardEvent) -> CardReply | None:
        route = self.button_for(event.event_key)
        if route is None:
            log.info("card click with unknown key prefix ignored")
            return None
        try:
            data = route.data_cls.unpack(event.event_key, deps.signer)
        except CallbackDataError as exc:
            log.warning("card click refused: %s", exc)
            return None
        return await route.handler(deps, event, data)

    @property
    def http_routes(self) -> list[HttpRoute]:
        return [r for router in self.routers for r in router.http]

    @property
    def jobs(self) -> list[Callable[..., Awaitable[Any]]]:
        return [j for router in self.routers for j in router.jobs]

    def pages(self, area: str, role: Role) -> list[PageEntry]:
        found = [p for r in self.routers for p in r.pages if p.area == area and role >= p.role]
        return sorted(found, key=lambda p: (p.order, p.title))

    @property
    def crons(self) -> list[Any]:
        return [c for router in self.routers for c in router.crons]

    # --- the hooks the core calls ----------------------------------------------------------

    def hooks(self, kind: str) -> list[tuple[str, Hook]]:
        """(router name, hook) for kind "sync", "demo", "startup", "shutdown" or "cleanup",
        in router order."""
        attr = {
            "sync": "sync_hooks",
            "demo": "demo_hooks",
            "startup": "startup_hooks",
            "shutdown": "shutdown_hooks",
            "cleanup": "cleanup_hooks",
        }[kind]
        return [(r.name, h) for r in self.routers for h in getattr(r, attr)]

    @property
    def resources(self) -> list[ResourceFactory]:
        return [f for router in self.routers for f in router.resources]

    @property
    def tiles(self) -> list[tuple[str, TileHook]]:
        return [(r.name, t) for r in self.routers for t in r.tiles]

    def subscribers(self, kind: str | None = None) -> list[Subscription]:
        """Every subscription (of one event kind when given), in router order (kept per kind
        until a router gains a subscription: delivery asks once per event)."""
        count = sum(len(router.subscriptions) for router in self.routers)
        if count != self._subscribed[0]:
            self._subscribed = (count, {})
        if (found := self._subscribed[1].get(kind)) is None:
            found = self._subscribed[1][kind] = [
                s
                for router in self.routers
                for s in router.subscriptions
                if kind is None or s.kind == kind
            ]
        return list(found)

    def lookup(self, name: str) -> Callable[..., Awaitable[Any]] | None:
        """The function a feature registered under `name` with `router.lookup(name)`."""
        return self._lookups.get(name)

    @property
    def scheduled(self) -> dict[str, ScheduledRoute]:
        return {s.name: s for router in self.routers for s in router.scheduled_routes}

    @property
    def planners(self) -> list[Hook]:
        return [p for router in self.routers for p in router.planners]

    @property
    def settings_models(self) -> dict[str, Any]:
        return {r.name: r.settings_model for r in self.routers if r.settings_model is not None}
