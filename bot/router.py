"""Per-feature routers and the dispatcher that joins them.

A feature module owns a `Router("radar")` and registers on it:

    @router.event("change_external_contact", "add_external_contact")
    async def on_add(deps: Deps, event: ExternalContactEvent) -> None: ...

    @router.button(OpenProfile)                      # a CallbackData subclass
    async def on_open(deps, event, data) -> CardReply | None: ...

    @router.get("/api/radar/groups", role=Role.ADMIN)
    async def groups(ctx: RequestContext) -> web.StreamResponse: ...

`handlers.FEATURE_ROUTERS` lists the routers; the core never imports a feature by name.
Nothing here knows about aiohttp's server; `bot.web` adapts the HTTP routes.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from bot.auth_types import Role
from bot.callback_data import CallbackData, CallbackDataError
from bot.events import Event, TemplateCardEvent
from bot.replies import CardReply

if TYPE_CHECKING:
    from bot.deps import Deps

log = logging.getLogger(__name__)

EventHandler = Callable[["Deps", Any], Awaitable[None]]
ButtonHandler = Callable[["Deps", TemplateCardEvent, Any], Awaitable[CardReply | None]]
TextHandler = Callable[["Deps", Any, str], Awaitable[None]]
View = Callable[[Any], Awaitable[Any]]
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


class RegistrationError(ValueError):
    pass


@dataclass(frozen=True)
class EventRoute:
    name: str  # "<router>.<function>": the handler's identity in the inbox's run ledger
    event: str
    change_type: str
    handler: EventHandler


@dataclass(frozen=True)
class ButtonRoute:
    name: str
    data_cls: type[CallbackData]
    handler: ButtonHandler


@dataclass(frozen=True)
class ScheduledRoute:
    """A handler for scheduled runs named "<router>.<kind>" (see bot/schedule.py)."""

    name: str
    handler: Callable[[Deps, Any], Awaitable[None]]
    horizon: timedelta | None  # found later than due + horizon: skipped, never run
    late_after: timedelta  # executed later than due + late_after: marked late (延迟)
    lease: timedelta  # a claim older than this is taken as a dead worker's: retried
    title: str = ""  # Chinese, shown in the console's 定时任务 list


@dataclass(frozen=True)
class HttpRoute:
    method: str
    path: str
    view: View
    role: Role | None  # None = public (customers' pages); otherwise the minimum role
    csrf: bool


def _check_coroutine(fn: Callable[..., Any]) -> None:
    if not inspect.iscoroutinefunction(fn):
        raise RegistrationError(f"{fn.__qualname__} must be an async function")


class Router:
    def __init__(self, name: str) -> None:
        self.name = name
        self.events: list[EventRoute] = []
        self.buttons: list[ButtonRoute] = []
        self.texts: dict[str, TextHandler] = {}
        self.http: list[HttpRoute] = []
        self.jobs: list[Callable[..., Awaitable[Any]]] = []
        self.crons: list[Any] = []
        self.pages: list[PageEntry] = []
        self.demo_hooks: list[Callable[[Deps], Awaitable[None]]] = []
        self.scheduled_routes: list[ScheduledRoute] = []
        self.planners: list[Callable[[Deps], Awaitable[None]]] = []

    def demo(self, fn: F) -> F:
        """`async def seed(deps)`: run by `scrmbot demo` after the sandbox corp is synced."""
        _check_coroutine(fn)
        self.demo_hooks.append(fn)
        return fn

    def page(
        self, area: str, title: str, path: str, role: Role = Role.STAFF, order: int = 100
    ) -> None:
        if area not in ("admin", "sidebar", "toolbar", "profile"):
            raise RegistrationError(f"unknown page area {area!r}")
        self.pages.append(PageEntry(area, title, path, role, order))

    def event(self, event: str, change_type: str = "") -> Callable[[F], F]:
        def register(fn: F) -> F:
            _check_coroutine(fn)
            name = f"{self.name}.{fn.__name__}"
            self.events.append(EventRoute(name, event, change_type, fn))
            return fn

        return register

    def button(self, data_cls: type[CallbackData]) -> Callable[[F], F]:
        def register(fn: F) -> F:
            _check_coroutine(fn)
            self.buttons.append(ButtonRoute(f"{self.name}.{fn.__name__}", data_cls, fn))
            return fn

        return register

    def text(self, command: str) -> Callable[[F], F]:
        def register(fn: F) -> F:
            _check_coroutine(fn)
            self.texts[command] = fn
            return fn

        return register

    def route(
        self, method: str, path: str, *, role: Role | None, csrf: bool = True
    ) -> Callable[[F], F]:
        def register(fn: F) -> F:
            _check_coroutine(fn)
            self.http.append(HttpRoute(method.upper(), path, fn, role, csrf))
            return fn

        return register

    def get(self, path: str, *, role: Role | None) -> Callable[[F], F]:
        return self.route("GET", path, role=role)

    def post(self, path: str, *, role: Role | None, csrf: bool = True) -> Callable[[F], F]:
        return self.route("POST", path, role=role, csrf=csrf)

    def job(self, fn: F) -> F:
        """An arq job function `async def f(ctx, ...)`; the worker registers it by name."""
        _check_coroutine(fn)
        self.jobs.append(fn)
        return fn

    def cron(self, cron_job: Any) -> None:
        """An `arq.cron(...)` schedule; give it `unique=True` so it fires once across workers."""
        self.crons.append(cron_job)

    def scheduled(
        self,
        kind: str,
        *,
        horizon: timedelta | None = None,
        late_after: timedelta = timedelta(minutes=10),
        lease: timedelta = timedelta(minutes=15),
        title: str = "",
    ) -> Callable[[F], F]:
        """`async def f(deps, run)` runs each planned run of "<router>.<kind>" once; plan runs
        with `bot.schedule.plan/replace/cancel` under that name."""

        def register(fn: F) -> F:
            _check_coroutine(fn)
            name = f"{self.name}.{kind}"
            route = ScheduledRoute(name, fn, horizon, late_after, lease, title)
            self.scheduled_routes.append(route)
            return fn

        return register

    def planner(self, fn: F) -> F:
        """`async def plan(deps)`: (re)plans the feature's runs from its own rows; the worker
        runs it at start and hourly (planning is idempotent)."""
        _check_coroutine(fn)
        self.planners.append(fn)
        return fn


@dataclass(frozen=True)
class PageEntry:
    """A navigation entry a feature adds to a shell: area is "admin", "sidebar", "toolbar", or
    "profile" (a block on the sidebar 客户画像 page; `path` is an ES module)."""

    area: str
    title: str  # Chinese, shown to people
    path: str  # e.g. "/static/radar/admin.js" module or a page URL
    role: Role
    order: int = 100


@dataclass
class HandlerOutcome:
    name: str
    error: str | None = None


class Dispatcher:
    def __init__(self, routers: list[Router]) -> None:
        self.routers = routers
        self._buttons: list[ButtonRoute] = []
        self._texts: dict[str, TextHandler] = {}
        seen: set[str] = set()
        for router in routers:
            if router.name in seen:
                raise RegistrationError(f"duplicate router name {router.name!r}")
            seen.add(router.name)
            for b in router.buttons:
                if any(b.data_cls.prefix == o.data_cls.prefix for o in self._buttons):
                    raise RegistrationError(f"duplicate button prefix {b.data_cls.prefix!r}")
                self._buttons.append(b)
            for cmd, fn in router.texts.items():
                if cmd in self._texts:
                    raise RegistrationError(f"duplicate text command {cmd!r}")
                self._texts[cmd] = fn

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
            outcome = HandlerOutcome(route.name)
            try:
                await route.handler(deps, event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("handler %s failed", route.name)
                outcome.error = f"{type(exc).__name__}: {exc}"[:1000]
            outcomes.append(outcome)
        return outcomes

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

    async def dispatch_text(self, deps: Deps, event: Any) -> bool:
        content = (getattr(event, "content", "") or "").strip()
        command, _, rest = content.partition(" ")
        fn = self._texts.get(command)
        if fn is None:
            return False
        await fn(deps, event, rest)
        return True

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

    @property
    def scheduled(self) -> dict[str, ScheduledRoute]:
        return {s.name: s for router in self.routers for s in router.scheduled_routes}

    @property
    def planners(self) -> list[Callable[[Deps], Awaitable[None]]]:
        return [p for router in self.routers for p in router.planners]
