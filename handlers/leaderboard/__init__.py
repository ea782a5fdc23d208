"""拉新排行榜 — the staff referral leaderboard (spec/leaderboard.md).

Counting lives in `counting`, the editing rules in `activities`, notices in `notify` and
`schedule`, the fact listeners in `listeners`, HTTP views in `views` and `data`.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from arq import cron

from bot.auth_types import Role
from bot.router import Router

log = logging.getLogger(__name__)

router = Router("leaderboard")
router.page("admin", "拉新排行榜", "/static/leaderboard/admin.js", role=Role.DEPT_ADMIN)
router.page("sidebar", "拉新排行榜", "/static/leaderboard/sidebar.js")


@router.job
async def leaderboard_sync(ctx: dict[str, Any]) -> None:
    from handlers.leaderboard.schedule import sync_running

    await sync_running(ctx["deps"])


@router.job
async def leaderboard_rebuild(ctx: dict[str, Any], activity_id: int, cutoff_moved: bool) -> None:
    """A full recomputation after an edit, in the worker (not in the admin's request)."""
    from handlers.leaderboard.counting import rebuild
    from handlers.leaderboard.notify import check_all_zones
    from storage.leaderboard import Activity

    deps = ctx["deps"]
    activity = await Activity.get_or_none(id=activity_id, deleted=False)
    if activity is None:
        return
    await rebuild(deps.redis, activity)
    if cutoff_moved:
        await check_all_zones(deps, activity)


router.cron(cron(leaderboard_sync, minute=set(range(0, 60, 10)), unique=True))  # type: ignore[arg-type]


def _register_listeners() -> None:
    """Subscribe to the facts feature's listeners when it is installed."""
    from handlers.leaderboard import listeners

    try:
        facts = importlib.import_module("handlers.facts")
    except ImportError:
        log.warning(
            "handlers.facts is missing: the leaderboard only recounts at its scheduled runs"
        )
        return
    for name, fn in (
        ("on_follow_added", listeners.on_follow_added),
        ("on_group_joined", listeners.on_group_joined),
    ):
        register = getattr(facts, name, None)
        if register is not None:
            register(fn)


_register_listeners()

from handlers.leaderboard import data, demo, options, schedule, views  # noqa: E402,F401  (registers routes)
