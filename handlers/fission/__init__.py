"""裂变活动 — fission activities: posters, exactly-once help credit, prizes (spec/fission.md).

The credit core lives in `credit`, the participants' QR codes in `ways`, posters in `poster`,
the customer pages in `pages`, the console API in `admin`, the welcome in `welcome`.
"""

from __future__ import annotations

from handlers.fission import (  # noqa: F401  (each module decorates the router)
    admin,
    check,
    credit,
    data,
    demo,
    notify,
    pages,
    schedule,
    welcome,
)
from handlers.fission.router import FissionSettings, router

__all__ = ["FissionSettings", "router"]
