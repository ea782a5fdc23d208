"""The facts feature's router; the modules of handlers/facts decorate it."""

from __future__ import annotations

from bot.router import Router

router = Router("facts")
