"""客户阶段 (customer journeys and stages): journeys of ordered stages per follow relation, an
append-only history of moves, rules that move relations forward on domain events and on an
hourly sweep, reminders, the 客户画像 block, batch moves and the funnel."""

from __future__ import annotations

from handlers.stages import data, demo, home, journeys, listeners, staff, sweep  # noqa: F401  (each decorates the router)
from handlers.stages.router import router

__all__ = ["router"]
