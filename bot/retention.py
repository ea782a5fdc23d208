"""Forgetting on a schedule: processed callbacks (their XML holds customers' data) after
`inbox.retention_days`, and sessions once expired or revoked. Rows still to be processed are
kept whatever their age. Deletes go in bounded batches so no transaction grows large."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.deps import Deps
from bot.sessions import prune as prune_sessions
from storage.core import INBOX_FINISHED, HandlerRun, InboxEvent

log = logging.getLogger(__name__)
BATCH = 1000


async def prune_inbox(deps: Deps) -> int:
    days = deps.settings.inbox.retention_days
    if not days:
        return 0
    cutoff = deps.now() - timedelta(days=days)
    removed = 0
    while True:
        ids = (
            await InboxEvent.filter(received_at__lt=cutoff, status__in=INBOX_FINISHED)
            .limit(BATCH)
            .values_list("id", flat=True)
        )
        if not ids:
            return removed
        await HandlerRun.filter(inbox_id__in=ids).delete()
        removed += await InboxEvent.filter(id__in=ids).delete()


async def prune(deps: Deps) -> dict[str, int]:
    result = {
        "inbox": await prune_inbox(deps),
        "sessions": await prune_sessions(deps.now() - timedelta(days=1)),
    }
    if any(result.values()):
        log.info("retention: removed %s inbox rows and %s sessions", *result.values())
    return result
