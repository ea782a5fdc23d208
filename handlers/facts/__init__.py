"""Customer facts: directory, customers, follow relations, groups, tags and the timeline.

Other features call `add_timeline`, `mark_tags`, `is_new_customer`, `first_add`, and react
to new facts with the `on_follow_added` / `on_follow_ended` / `on_group_joined` /
`on_group_quit` listener decorators.
"""

from __future__ import annotations

from handlers.facts import api, contacts, customers, directory, groups, pickers, sync  # noqa: F401
from handlers.facts.base import (
    ListenerError,
    on_follow_added,
    on_follow_ended,
    on_group_joined,
    on_group_quit,
    router,
)
from handlers.facts.store import add_timeline, first_add, is_new_customer, mark_tags

__all__ = [
    "ListenerError",
    "add_timeline",
    "first_add",
    "is_new_customer",
    "mark_tags",
    "on_follow_added",
    "on_follow_ended",
    "on_group_joined",
    "on_group_quit",
    "router",
]
