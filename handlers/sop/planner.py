"""Keeps every live plan's runs planned `[sop] plan_days` ahead (the worker at start and
hourly), so a plan without an end date never runs out of runs."""

from __future__ import annotations

import logging

from bot.deps import Deps
from handlers.sop.plans import plan_runs
from handlers.sop.router import router
from storage.sop import SopPlan

log = logging.getLogger(__name__)


@router.planner
async def plan_live(deps: Deps) -> None:
    for plan in await SopPlan.filter(deleted=False, paused=False):
        try:
            await plan_runs(deps, plan)
        except Exception:
            log.exception("sop plan %s: planning failed", plan.id)
