"""The one list of feature routers. The core never imports a feature by name."""

from __future__ import annotations

from bot.router import Router
from handlers.assistant import router as assistant_router
from handlers.facts import router as facts_router
from handlers.fission import router as fission_router
from handlers.leaderboard import router as leaderboard_router
from handlers.points import router as points_router
from handlers.radar import router as radar_router
from handlers.sop import router as sop_router
from handlers.stages import router as stages_router
from handlers.welcome import router as welcome_router

FEATURE_ROUTERS: list[Router] = [
    facts_router,
    radar_router,
    leaderboard_router,
    assistant_router,
    welcome_router,
    fission_router,
    stages_router,
    points_router,
    sop_router,
]
