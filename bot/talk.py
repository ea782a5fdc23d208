"""What features register for the app's conversation with staff: text commands (with aliases
and a one-line description), the answer to unknown text, the app's custom menu (click and
view items), and welcome-message providers. Mixed into `Router` and `Dispatcher`.

    @router.text("排名", "rank", description="我参加的排行榜名次")
    async def ranks(deps, event: TextMessage, args: str) -> MessageReply | None: ...

    @router.menu_click("我的排名", key="lb.rank", group="我的数据")
    async def ranks_click(deps, event: MenuClick) -> MessageReply | None: ...

    router.menu_link("我的客户", "/sidebar?open=customers", group="工作台")

    @router.welcome(priority=10)   # higher wins: fission 30 > contact way 20 > default 10
    async def welcome(deps, event: ExternalContactEvent) -> Welcome | None: ...
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from bot.deps import Deps
    from bot.replies import MessageReply

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
ReplyHandler = Callable[..., Awaitable["MessageReply | None"]]
MENU_TOP = 3  # WeCom: 1-3 top-level buttons, 1-5 sub-buttons each
MENU_SUB = 5
MENU_KEY_BYTES = 128


class TalkError(ValueError):
    pass


@dataclass(frozen=True)
class TextCommand:
    name: str
    aliases: tuple[str, ...]
    description: str  # one line, Chinese, shown by 帮助
    handler: ReplyHandler
    order: int

    @property
    def words(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class MenuItem:
    name: str  # Chinese, shown on the menu bar
    group: str  # top-level button it sits under ("" = a top-level button itself)
    key: str = ""  # click items
    url: str = ""  # view items: a path under base_url or an absolute URL
    order: int = 100
    handler: ReplyHandler | None = None


@dataclass(frozen=True)
class WelcomeProvider:
    name: str
    priority: int
    handler: Callable[..., Awaitable[Any]]


def _async(fn: Callable[..., Any]) -> None:
    if not inspect.iscoroutinefunction(fn):
        raise TalkError(f"{fn.__qualname__} must be an async function")


class TalkRoutes:
    """The Router's conversation registrations."""

    name: str

    def _init_talk(self) -> None:
        self.commands: list[TextCommand] = []
        self.unknown_text_handler: ReplyHandler | None = None
        self.menu_items: list[MenuItem] = []
        self.welcomes: list[WelcomeProvider] = []

    def text(
        self, command: str, *aliases: str, description: str = "", order: int = 100
    ) -> Callable[[F], F]:
        """`async def f(deps, event: TextMessage, args: str) -> MessageReply | None`."""

        def register(fn: F) -> F:
            _async(fn)
            self.commands.append(TextCommand(command, aliases, description, fn, order))
            return fn

        return register

    def unknown_text(self, fn: F) -> F:
        """`async def f(deps, event: TextMessage) -> MessageReply | None` for text no command
        takes (one in the whole app)."""
        _async(fn)
        self.unknown_text_handler = fn
        return fn

    def menu_click(
        self, name: str, *, key: str, group: str = "", order: int = 100
    ) -> Callable[[F], F]:
        """A click item; `async def f(deps, event: MenuClick) -> MessageReply | None`."""

        def register(fn: F) -> F:
            _async(fn)
            self.menu_items.append(MenuItem(name, group, key=key, order=order, handler=fn))
            return fn

        return register

    def menu_link(self, name: str, url: str, *, group: str = "", order: int = 100) -> None:
        self.menu_items.append(MenuItem(name, group, url=url, order=order))

    def welcome(self, priority: int) -> Callable[[F], F]:
        """`async def f(deps, event: ExternalContactEvent) -> Welcome | None`: the provider
        with the highest priority that returns a welcome is the one sent for an add."""

        def register(fn: F) -> F:
            _async(fn)
            self.welcomes.append(WelcomeProvider(f"{self.name}.{fn.__name__}", priority, fn))
            return fn

        return register


class TalkDispatch:
    """The Dispatcher's side: one table of words, one menu, the welcome providers by priority."""

    def _join_talk(self, routers: list[Any]) -> None:
        self._words: dict[str, TextCommand] = {}
        self.unknown_text: ReplyHandler | None = None
        for router in routers:
            for cmd in router.commands:
                for word in cmd.words:
                    if word.casefold() in self._words:
                        raise TalkError(f"duplicate text command {word!r}")
                    self._words[word.casefold()] = cmd
            if router.unknown_text_handler is not None:
                if self.unknown_text is not None:
                    raise TalkError("more than one unknown-text handler")
                self.unknown_text = router.unknown_text_handler
        items = [i for r in routers for i in r.menu_items]
        self.menu_items = sorted(items, key=lambda i: i.order)
        self._clicks = {i.key: i for i in self.menu_items if i.key}
        if len(self._clicks) != len([i for i in self.menu_items if i.key]):
            raise TalkError("duplicate menu key")
        welcomes = [w for r in routers for w in r.welcomes]
        self.welcome_providers = sorted(welcomes, key=lambda w: -w.priority)

    @property
    def commands(self) -> list[TextCommand]:
        return sorted(set(self._words.values()), key=lambda c: (c.order, c.name))

    def command_for(self, text: str) -> tuple[TextCommand | None, str]:
        """The command a message starts with (case-insensitive), and the rest of it."""
        word, _, rest = text.strip().partition(" ")
        return self._words.get(word.casefold()), rest.strip()

    def click_for(self, key: str) -> MenuItem | None:
        return self._clicks.get(key)

    def menu_json(self, deps: Deps) -> dict[str, Any]:
        """The body of WeCom's menu/create, from the registered items."""
        top: list[dict[str, Any]] = []
        groups: dict[str, list[dict[str, Any]]] = {}
        for item in self.menu_items:
            button = _button(deps, item)
            if item.group:
                if item.group not in groups:
                    groups[item.group] = []
                    top.append({"name": item.group, "sub_button": groups[item.group]})
                groups[item.group].append(button)
            else:
                top.append(button)
        if len(top) > MENU_TOP or any(len(g) > MENU_SUB for g in groups.values()):
            raise TalkError(f"the menu holds at most {MENU_TOP} × {MENU_SUB} items")
        return {"button": top}


def _button(deps: Deps, item: MenuItem) -> dict[str, Any]:
    if item.key:
        if len(item.key.encode()) > MENU_KEY_BYTES:
            raise TalkError(f"menu key {item.key!r} is longer than {MENU_KEY_BYTES} bytes")
        return {"type": "click", "name": item.name, "key": item.key}
    url = item.url if item.url.startswith(("http://", "https://")) else deps.url(item.url)
    return {"type": "view", "name": item.name, "url": url}
