"""The console's own router (sign-in, shells, who-am-I, nav, roles, dead letters, home);
handlers/system_*.py decorate it."""

from __future__ import annotations

from bot.router import Router

router = Router("system")
