"""朋友圈SOP — moments plans, reminders, posting and interaction data (spec/sop.md).

Plans and their rules live in `plans` and `rules`, a run's execution in `runs`, following it
in `polls`, the card buttons in `buttons`, the tracked link in `links`, the console API in
`views` and `data`, the staff side in `mine`."""

from __future__ import annotations

from handlers.sop import (  # noqa: F401  (each module decorates the router)
    buttons,
    check,
    data,
    demo,
    home,
    links,
    media,
    mine,
    planner,
    polls,
    runs,
    views,
)
from handlers.sop.router import SopSettings, router

__all__ = ["SopSettings", "router"]
