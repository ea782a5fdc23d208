"""Rate limits shared by every process through Redis: a token bucket per key and a sliding
one-minute window per WeCom member (each is one Lua script, so check-and-take is atomic)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from redis.asyncio import Redis

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[Any]]

# KEYS[1] bucket; ARGV: capacity, tokens per ms, now (ms). Returns 0 (taken) or ms to wait.
_BUCKET_LUA = """
local cap = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then tokens = cap; ts = now end
if now > ts then
  tokens = math.min(cap, tokens + (now - ts) * rate)
  ts = now
end
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('PEXPIRE', KEYS[1], math.ceil(cap / rate) + 60000)
return wait
"""

# KEYS: one sorted set per member; ARGV: now (ms), window (ms), limit, unique entry id.
# Takes a slot for each member under the limit; returns per member 0 or ms until a slot frees.
_WINDOW_LUA = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local out = {}
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) < limit then
    redis.call('ZADD', key, now, ARGV[4])
    redis.call('PEXPIRE', key, window + 1000)
    out[i] = 0
  else
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    out[i] = math.max(1, tonumber(oldest[2]) + window - now)
  end
end
return out
"""


class TokenBucket:
    """`rate_per_minute` tokens a minute per key, bursts up to half a minute's worth.

    Half a minute of burst keeps any rolling minute under 1.5 x rate: with the default 5,000
    that is 7,500, below WeCom's 10,000 per API per corp (REFERENCE.md §4)."""

    def __init__(
        self,
        redis: Redis,
        prefix: str,
        rate_per_minute: int,
        *,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
        max_poll: float = 1.0,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.capacity = max(1, rate_per_minute // 2)
        self.rate_per_ms = rate_per_minute / 60_000
        self.clock = clock
        self.sleep = sleep
        self.max_poll = max_poll
        self._script = redis.register_script(_BUCKET_LUA)

    async def try_take(self, key: str) -> float:
        """Take one token if there is one; return 0.0, or the seconds until one is due."""
        now_ms = int(self.clock() * 1000)
        wait = await self._script(
            keys=[f"{self.prefix}:{key}"], args=[self.capacity, self.rate_per_ms, now_ms]
        )
        return int(wait) / 1000

    async def acquire(self, key: str) -> None:
        """Wait until a token is taken. Polling is capped so a stale estimate costs little."""
        while (wait := await self.try_take(key)) > 0:
            await self.sleep(min(wait, self.max_poll))


class MemberWindow:
    """At most `limit` entries per member in any rolling `window` seconds."""

    def __init__(
        self,
        redis: Redis,
        prefix: str,
        limit: int,
        *,
        window: float = 60.0,
        clock: Clock = time.time,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.limit = limit
        self.window_ms = int(window * 1000)
        self.clock = clock
        self._script = redis.register_script(_WINDOW_LUA)

    async def take(self, members: Sequence[str]) -> dict[str, float]:
        """Take a slot for every member that has one; return {member: seconds to wait} for the
        others (an empty dict when every member got a slot)."""
        if not members:
            return {}
        keys = [f"{self.prefix}:{m}" for m in members]
        args: list[int | str] = [
            int(self.clock() * 1000),
            self.window_ms,
            self.limit,
            uuid.uuid4().hex,
        ]
        waits = await self._script(keys=keys, args=args)
        return {m: int(w) / 1000 for m, w in zip(members, waits, strict=True) if int(w) > 0}
