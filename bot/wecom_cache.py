"""Values shared by every process (access tokens, JS-SDK tickets), fetched by one at a time.

The first caller that finds the cache empty takes a Redis lock (SET NX PX with a random token)
and fetches; every other caller polls the cache. A failed fetch is remembered for a few
seconds so N processes with a wrong secret make one gettoken, not N (many wrong-secret
attempts get the server's IP banned for an hour, REFERENCE.md §4)."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from bot.wecom_errors import WeComError

# Deletes the key only while it still holds our value (a lock token, or the token we saw fail).
_COMPARE_AND_DELETE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

Fetch = Callable[[], Awaitable[tuple[str, int]]]


class SharedCache:
    def __init__(
        self,
        redis: Redis,
        *,
        lock_seconds: float = 15.0,
        margin_seconds: int = 300,
        error_seconds: int = 5,
        poll_seconds: float = 0.02,
    ) -> None:
        self.redis = redis
        self.lock_ms = int(lock_seconds * 1000)
        self.margin = margin_seconds
        self.error_seconds = error_seconds
        self.poll = poll_seconds
        self._cad = redis.register_script(_COMPARE_AND_DELETE)

    async def get(self, key: str, fetch: Fetch) -> str:
        """The cached value, or one fetched by whichever caller wins the lock."""
        deadline = time.monotonic() + 3 * self.lock_ms / 1000
        while True:
            value = await self._cached(key)
            if value is not None:
                return value
            lock_token = secrets.token_hex(16)
            if await self.redis.set(f"{key}:lock", lock_token, nx=True, px=self.lock_ms):
                try:
                    return await self._fetch_locked(key, fetch)
                finally:
                    await self._cad(keys=[f"{key}:lock"], args=[lock_token])
            if time.monotonic() > deadline:
                raise WeComError(-1, "timed out waiting for another process to fetch", key)
            await asyncio.sleep(self.poll)

    async def drop(self, key: str, value: str) -> bool:
        """Forget `value` if it is still the cached one (not a newer value another process
        already fetched)."""
        return bool(await self._cad(keys=[key], args=[value]))

    async def _cached(self, key: str) -> str | None:
        value, error = await self.redis.mget(key, f"{key}:error")
        if value is not None:
            return value.decode() if isinstance(value, bytes) else str(value)
        if error is not None:
            code, msg, endpoint = json.loads(error)
            raise WeComError(int(code), str(msg), str(endpoint))
        return None

    async def _fetch_locked(self, key: str, fetch: Fetch) -> str:
        # Another process may have filled the cache between our read and our lock.
        value = await self._cached(key)
        if value is not None:
            return value
        try:
            value, expires_in = await fetch()
        except WeComError as exc:
            if not exc.retryable:
                payload = json.dumps([exc.errcode, exc.errmsg, exc.endpoint])
                await self.redis.set(f"{key}:error", payload, ex=self.error_seconds)
            raise
        # A short-lived value (a test, a sandbox) keeps half its life instead of the margin.
        life = int(expires_in)
        ttl = life - self.margin if life > 2 * self.margin else max(1, life // 2)
        await self.redis.set(key, value, ex=ttl)
        return value
