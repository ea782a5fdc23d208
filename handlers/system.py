"""The core's own routes: sign-in, the page shells, who-am-I, JS-SDK, nav, roles, dead letters
and the console home (首页).

`bot.web` mounts this router with the feature routers; every route goes through
`bot.http.wrap_view` like a feature's.
"""

from __future__ import annotations

from handlers import (  # noqa: F401  (each module decorates the router)
    system_auth,
    system_console,
    system_home,
    system_schedule,
)
from handlers.system_router import router

__all__ = ["router"]
