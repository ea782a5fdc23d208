"""The core's own routes: sign-in, the page shells, who-am-I, JS-SDK, nav, roles, dead letters.

`bot.web` mounts this router with the feature routers; every route goes through
`bot.http.wrap_view` like a feature's.
"""

from __future__ import annotations

from bot.router import Router
from handlers import system_auth, system_console, system_schedule

router = Router("system")
system_auth.register(router)
system_console.register(router)
system_schedule.register(router)
