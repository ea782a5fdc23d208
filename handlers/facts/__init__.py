"""Customer facts: directory, customers, follow relations, groups, tags and the timeline.

Other features call `add_timeline`, `mark_tags`, `is_new_customer`, `first_add`, and react to
new facts by subscribing to the domain events published here (`bot.domain_events`:
FollowAdded, FollowEnded, GroupJoined, GroupQuit, TagsMarked) with `@router.listen(...)`.
"""

from __future__ import annotations

from handlers.facts import (  # noqa: F401  (each module decorates the router)
    api,
    contacts,
    customers,
    directory,
    groups,
    home,
    members,
    pickers,
    sync,
)
from handlers.facts.members import check_picks_in_scope, department_tree
from handlers.facts.router import router
from handlers.facts.store import add_timeline, first_add, is_new_customer, mark_tags

__all__ = [
    "add_timeline",
    "check_picks_in_scope",
    "department_tree",
    "first_add",
    "is_new_customer",
    "mark_tags",
    "router",
]
