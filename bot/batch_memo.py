"""Answers shared by the events of one inbox batch.

The events of a batch were all stored before the batch runs, so a lookup made for one of them
(a WeCom read of a customer, say) is as current for the next: within `batch_scope()`,
`memoized(key, fetch)` fetches once per key. Outside a batch it simply fetches. Failures are
not remembered.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Hashable, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")
_MEMO: ContextVar[dict[Hashable, Any] | None] = ContextVar("batch_memo", default=None)


@contextlib.contextmanager
def batch_scope() -> Iterator[None]:
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


async def memoized(key: Hashable, fetch: Callable[[], Awaitable[T]]) -> T:
    memo = _MEMO.get()
    if memo is None:
        return await fetch()
    if key not in memo:
        memo[key] = await fetch()
    value: T = memo[key]
    return value


def remembered(key: Hashable) -> bool:
    """True when this batch already holds an answer for `key`."""
    memo = _MEMO.get()
    return memo is not None and key in memo
