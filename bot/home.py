"""The console home (首页): every feature's tiles (`router.tile`) plus the system's health for
admins, gathered without naming any feature. A feature whose tiles fail is left out (and
logged) rather than taking the whole page down."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, time, timedelta

from bot.auth_types import Principal, Role
from bot.deps import Deps
from bot.event_delivery import counts as event_counts
from bot.router_types import Tile
from storage.core import INBOX_OPEN, InboxEvent, InboxStatus

log = logging.getLogger(__name__)


def today(deps: Deps) -> tuple[datetime, datetime]:
    """The corp's today (its own time zone) as UTC-aware bounds [start, end)."""
    local = deps.local_now()
    start = datetime.combine(local.date(), time(0), tzinfo=local.tzinfo)
    # in UTC: SQLite compares stored UTC times as text, so a +08:00 bound would miss the
    # early hours of the corp's day
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


async def _feature_tiles(deps: Deps, user: Principal) -> list[Tile]:
    found: list[Tile] = []
    for name, hook in deps.dispatcher.tiles:
        try:
            found.extend(await hook(deps, user))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("home tiles of %s failed", name)
    return found


async def health_tiles() -> list[Tile]:
    pending = await InboxEvent.filter(status__in=INBOX_OPEN).count()
    dead = await InboxEvent.filter(status=InboxStatus.DEAD).count()
    events = await event_counts()
    link = "#回调收件箱"
    return [
        Tile("待处理回调", pending, link=link, order=900, group="系统"),
        Tile("失败回调", dead, link=link, order=901, group="系统", alert=dead > 0),
        Tile("待投递事件", events["pending"], link="#事件投递", order=910, group="系统"),
        Tile(
            "投递失败事件",
            events["dead"],
            link="#事件投递",
            order=911,
            group="系统",
            alert=events["dead"] > 0,
        ),
    ]


async def home_tiles(deps: Deps, user: Principal) -> list[Tile]:
    tiles = await _feature_tiles(deps, user)
    if user.role >= Role.ADMIN:
        tiles.extend(await health_tiles())
    return sorted(tiles, key=lambda t: (t.group != "业务", t.order, t.title))
