"""The records a Router keeps besides its routes: pages, tiles and event subscriptions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.auth_types import Role

if TYPE_CHECKING:
    from bot.domain_events import DomainEvent


@dataclass(frozen=True)
class PageEntry:
    """A navigation entry a feature adds to a shell: area is "admin", "sidebar", "toolbar", or
    "profile" (a block on the sidebar 客户画像 page; `path` is an ES module)."""

    area: str
    title: str  # Chinese, shown to people
    path: str  # e.g. "/static/coupons/admin.js" module or a page URL
    role: Role
    order: int = 100


@dataclass(frozen=True)
class Tile:
    """One number on the console home (首页): a title, the value, an optional note and the
    console page it links to (`#<page title>` or a URL)."""

    title: str  # Chinese
    value: int | float | str
    note: str = ""  # Chinese, e.g. "较昨日 +3"
    link: str = ""
    order: int = 100
    group: str = "业务"  # tiles are shown grouped: 业务 (business) or 系统 (system health)
    alert: bool = False  # shown highlighted (e.g. dead callbacks)

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "value": self.value,
            "note": self.note,
            "link": self.link,
            "group": self.group,
            "alert": self.alert,
        }


@dataclass(frozen=True)
class CheckLine:
    """One line of `scrmbot check` from a feature: ✓/✗, what was checked, and for a failure
    what to switch on."""

    ok: bool
    name: str
    detail: str = ""


@dataclass(frozen=True)
class Subscription:
    name: str  # "<router>.<function>": the subscriber's identity in the delivery ledger
    event_cls: type[DomainEvent]
    handler: Callable[[Any, Any], Awaitable[None]]
    # A batch subscriber (`router.listen_batch`) takes a list of events: the events of one
    # delivery job it may have, in publish order; a single event comes as a list of one.
    batch: bool = False

    @property
    def kind(self) -> str:
        return self.event_cls.kind
