"""Settings read for every callback (the default welcome message, say), kept in the process
for a few seconds so that a callback costs no read for them. An edit is seen
at once by the process that made it (`forget`), within `TTL_SECONDS` by the other processes.
One cache per process (`Deps.state`), never module-level."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from bot.deps import Deps

T = TypeVar("T")
TTL_SECONDS = 5.0
MAX_ENTRIES = 10_000


async def cached(deps: Deps, key: Hashable, fetch: Callable[[], Awaitable[T]]) -> T:
    """`fetch()`'s value (None included), read again once it is `TTL_SECONDS` old."""
    memo = deps.state.settings_cache
    now = time.monotonic()
    hit = memo.get(key)
    if hit is not None and hit[0] > now:
        value: Any = hit[1]
        return value  # type: ignore[no-any-return]
    value = await fetch()
    if len(memo) >= MAX_ENTRIES:
        memo.clear()
    memo[key] = (now + TTL_SECONDS, value)
    return value  # type: ignore[no-any-return]


def forget(deps: Deps, key: Hashable) -> None:
    """After an edit in this process: the next read fetches."""
    deps.state.settings_cache.pop(key, None)
