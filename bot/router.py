"""Per-feature routers: everything a feature gives the core (`bot.dispatcher` joins them).

A feature module owns a `Router("coupons")` and registers on it:

    @router.event("change_external_contact", "add_external_contact")
    async def on_add(deps: Deps, event: ExternalContactEvent) -> None: ...

    @router.event_batch("change_external_contact", "add_external_contact")
    async def on_adds(deps: Deps, events: list[ExternalContactEvent]) -> None: ...
                                                     # the same, set-wise over an inbox batch

    @router.button(OpenProfile)                      # a CallbackData subclass
    async def on_open(deps, event, data) -> CardReply | None: ...

    @router.get("/api/coupons/batches", role=Role.ADMIN)
    async def groups(ctx: RequestContext) -> web.StreamResponse: ...

    router.settings(CouponSettings)                  # the `[coupons]` section: deps.section()
    router.resource(redeem_batcher)                  # per-process value, deps.resource(...)
    router.on_startup / on_shutdown / on_cleanup     # per-process lifecycle
    @router.listen(FollowAdded)                      # durable domain-event subscriber
    @router.listen_batch(FollowAdded)                # the same, set-wise over a delivery job
    @router.sync / @router.demo / @router.tile       # hooks the core calls

`handlers.FEATURE_ROUTERS` lists the routers; the core never imports a feature by name.
Nothing here knows about aiohttp's server; `bot.web` adapts the HTTP routes.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar, cast

from pydantic import BaseModel

from bot.auth_types import Role
from bot.callback_data import CallbackData
from bot.domain_events import DomainEvent
from bot.events import TemplateCardEvent
from bot.replies import CardReply
from bot.router_types import CheckLine, PageEntry, Subscription, Tile
from bot.talk import TalkRoutes

if TYPE_CHECKING:
    from bot.auth_types import Principal
    from bot.deps import Deps

log = logging.getLogger(__name__)

EventHandler = Callable[["Deps", Any], Awaitable[None]]
ButtonHandler = Callable[["Deps", TemplateCardEvent, Any], Awaitable[CardReply | None]]
View = Callable[[Any], Awaitable[Any]]
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
Hook = Callable[["Deps"], Awaitable[Any]]
ResourceFactory = Callable[["Deps"], AsyncIterator[Any]]
TileHook = Callable[["Deps", "Principal"], Awaitable[list[Tile]]]
CheckHook = Callable[[Any, Any], Awaitable[list[CheckLine]]]
S = TypeVar("S", bound=BaseModel)
R = TypeVar("R", bound=ResourceFactory)


class RegistrationError(ValueError):
    pass


@dataclass(frozen=True)
class EventRoute:
    name: str  # "<router>.<function>": the handler's identity in the inbox's run ledger
    event: str
    change_type: str
    handler: EventHandler
    # A batch handler takes a list of events (`router.event_batch`): the inbox hands it the
    # matching events of a whole batch at once, in order; a single event comes as a list of one.
    batch: bool = False


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


class Router(TalkRoutes):
    def __init__(self, name: str) -> None:
        self.name = name
        self._init_talk()
        self.events: list[EventRoute] = []
        self.buttons: list[ButtonRoute] = []
        self.http: list[HttpRoute] = []
        self.jobs: list[Callable[..., Awaitable[Any]]] = []
        self.crons: list[Any] = []
        self.pages: list[PageEntry] = []
        self.demo_hooks: list[Hook] = []
        self.sync_hooks: list[Hook] = []
        self.check_hooks: list[CheckHook] = []
        self.tiles: list[TileHook] = []
        self.startup_hooks: list[Hook] = []
        self.shutdown_hooks: list[Hook] = []
        self.cleanup_hooks: list[Hook] = []
        self.resources: list[ResourceFactory] = []
        self.subscriptions: list[Subscription] = []
        self.settings_model: type[BaseModel] | None = None
        self.lookups: dict[str, Callable[..., Awaitable[Any]]] = {}
        self.scheduled_routes: list[ScheduledRoute] = []
        self.planners: list[Hook] = []

    def demo(self, fn: F) -> F:
        """`async def seed(deps)`: run by `scrmbot demo` after every sync hook ran."""
        _check_coroutine(fn)
        self.demo_hooks.append(fn)
        return fn

    def sync(self, fn: F) -> F:
        """`async def sync(deps) -> dict`: run by `scrmbot sync` (and first by the demo)."""
        _check_coroutine(fn)
        self.sync_hooks.append(fn)
        return fn

    def check(self, fn: F) -> F:
        """`async def check(wecom, settings) -> list[CheckLine]`: lines of `scrmbot check`
        (the WeCom permissions the feature needs), run with the database open."""
        _check_coroutine(fn)
        self.check_hooks.append(fn)
        return fn

    def tile(self, fn: F) -> F:
        """`async def tiles(deps, user) -> list[Tile]`: numbers on the console home (首页)."""
        _check_coroutine(fn)
        self.tiles.append(fn)
        return fn

    # --- lifecycle (run by the web process, the worker and the demo alike) ---------------

    def on_startup(self, fn: F) -> F:
        """`async def start(deps)`: after the process's resources are open."""
        _check_coroutine(fn)
        self.startup_hooks.append(fn)
        return fn

    def on_shutdown(self, fn: F) -> F:
        """`async def stop(deps)`: the process is stopping; end long-lived requests (live
        streams) now, before the web server waits for in-flight requests to finish."""
        _check_coroutine(fn)
        self.shutdown_hooks.append(fn)
        return fn

    def on_cleanup(self, fn: F) -> F:
        """`async def clean(deps)`: last, in reverse order; only if start-up finished."""
        _check_coroutine(fn)
        self.cleanup_hooks.append(fn)
        return fn

    def resource(self, factory: R) -> R:
        """`async def make(deps): value = ...; yield value; close it` (aiohttp's cleanup_ctx
        style): one value per process, read with `deps.resource(make)`."""
        if not inspect.isasyncgenfunction(cast(Any, factory)):  # no narrowing of R
            raise RegistrationError(f"{factory.__qualname__} must be an async generator")
        self.resources.append(factory)
        return factory

    # --- settings, domain events and lookups -------------------------------------------

    def settings(self, model: type[S]) -> type[S]:
        """The feature's `[<router name>]` settings section, validated by the core at start
        (`SCRMBOT_<NAME>__<KEY>` works as for core sections); read with `deps.section(model)`."""
        if self.settings_model is not None:
            raise RegistrationError(f"router {self.name!r} already has a settings model")
        self.settings_model = model
        return model

    def listen(self, event_cls: type[DomainEvent]) -> Callable[[F], F]:
        """`async def on_x(deps, event)`: durable delivery, retried alone when it fails."""

        def register(fn: F) -> F:
            _check_coroutine(fn)
            name = f"{self.name}.{fn.__name__}"
            self.subscriptions.append(Subscription(name, event_cls, fn))
            return fn

        return register

    def listen_batch(self, event_cls: type[DomainEvent]) -> Callable[[F], F]:
        """`async def on_xs(deps, events: list[X])`: durable delivery like `listen`, handed the
        events of a delivery job at once (in publish order; one query per job, not per event).
        It must give each event the same effect as delivering them one by one in that order,
        whatever else is in the list (duplicates, the same subject twice), and be idempotent.
        When it raises, each event is delivered alone (a list of one), so one bad event fails
        only itself and is retried alone."""

        def register(fn: F) -> F:
            _check_coroutine(fn)
            name = f"{self.name}.{fn.__name__}"
            self.subscriptions.append(Subscription(name, event_cls, fn, batch=True))
            return fn

        return register

    def lookup(self, name: str) -> Callable[[F], F]:
        """A function the core asks for by name (e.g. "staff" for auth); see
        `Dispatcher.lookup`. One provider per name across all routers."""

        def register(fn: F) -> F:
            _check_coroutine(fn)
            self.lookups[name] = fn
            return fn

        return register

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

    def event_batch(self, event: str, change_type: str = "") -> Callable[[F], F]:
        """`async def on_xs(deps, events: list[Event])`: the events of an inbox batch that match,
        handled set-wise (bulk writes, one query per batch). It must give each event the
        same effect as handling it alone, whatever else is in the list (the same customer
        twice, say), and be idempotent like every handler. When it raises, the core runs
        each event alone (a list of one) so one bad event fails only itself."""

        def register(fn: F) -> F:
            _check_coroutine(fn)
            name = f"{self.name}.{fn.__name__}"
            self.events.append(EventRoute(name, event, change_type, fn, batch=True))
            return fn

        return register

    def button(self, data_cls: type[CallbackData]) -> Callable[[F], F]:
        def register(fn: F) -> F:
            _check_coroutine(fn)
            self.buttons.append(ButtonRoute(f"{self.name}.{fn.__name__}", data_cls, fn))
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
