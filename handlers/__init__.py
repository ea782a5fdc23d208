"""The one list of feature routers. The core never imports a feature by name."""

from __future__ import annotations

from bot.router import Router

FEATURE_ROUTERS: list[Router] = []
