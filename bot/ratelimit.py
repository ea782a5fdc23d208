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

# KEYS[1] bucket; ARGV: capacity, tokens per ms, now (ms), tokens wanted (n >= 1). Takes as
# many whole tokens as the bucket holds, up to n; returns {taken, ms until the next one is due}.
_BUCKET_LUA = """
local cap = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local want = tonumber(ARGV[4])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then tokens = cap; ts = now end
if now > ts then
  tokens = math.min(cap, tokens + (now - ts) * rate)
  ts = now
end
local taken = math.min(want, math.floor(tokens))
if taken < 0 then taken = 0 end
tokens = tokens - taken
local wait = 0
if taken < want then
  wait = math.ceil((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('PEXPIRE', KEYS[1], math.ceil(cap / rate) + 60000)
return {taken, wait}
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
        taken, wait = await self.take(key, 1)
        return 0.0 if taken else wait

    async def take(self, key: str, wanted: int) -> tuple[int, float]:
        """Take up to `wanted` tokens in one round trip: (tokens taken, seconds until the next
        one is due when fewer were taken, else 0.0)."""
        now_ms = int(self.clock() * 1000)
        taken, wait = await self._script(
            keys=[f"{self.prefix}:{key}"],
            args=[self.capacity, self.rate_per_ms, now_ms, max(1, wanted)],
        )
        return int(taken), int(wait) / 1000

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


class SharedMinute:
    """At most `limit` hits per key per calendar minute, counted in this process and summed
    across processes in Redis at most once every `sync_every` seconds.

    A hit costs no Redis round trip (the landing page's hot path); a key over its limit in the
    sum of all processes is refused everywhere after the next sync. Only keys that reached
    1/`processes` of their limit here are synced — below that, `processes` processes together
    cannot pass the limit — so the many keys seen once or twice a minute cost no Redis at all.
    When Redis is away each process still enforces the limit on its own counts."""

    def __init__(
        self,
        redis: Redis,
        prefix: str,
        *,
        clock: Clock = time.time,
        sync_every: float = 1.0,
        max_keys: int = 200_000,
        processes: int = 4,
    ) -> None:
        self.redis, self.prefix, self.clock = redis, prefix, clock
        self.sync_every, self.max_keys, self.processes = sync_every, max_keys, processes
        self._minute = -1
        self._counts: dict[str, int] = {}
        self._limits: dict[str, int] = {}
        self._unsynced: dict[str, int] = {}
        self._blocked: set[str] = set()
        self._next_sync = 0.0
        self._task: asyncio.Task[None] | None = None

    def hit(self, key: str, limit: int) -> bool:
        """Count a hit; False when the key is over `limit` this minute."""
        now = self.clock()
        minute = int(now // 60)
        if minute != self._minute:
            self._new_minute(minute)
        if key in self._blocked:
            return False
        count = self._counts.get(key, 0) + 1
        if count > limit:
            self._blocked.add(key)
            return False
        if len(self._counts) < self.max_keys or key in self._counts:
            self._counts[key] = count
            self._limits[key] = limit
            self._unsynced[key] = self._unsynced.get(key, 0) + 1
        if now >= self._next_sync and (self._task is None or self._task.done()):
            self._next_sync = now + self.sync_every
            self._task = asyncio.get_running_loop().create_task(self._sync(minute))
        return True

    def _new_minute(self, minute: int) -> None:
        self._minute = minute
        for table in (self._counts, self._limits, self._unsynced):
            table.clear()
        self._blocked.clear()

    async def sync(self) -> None:
        """Push this process's new hits and learn the totals (also run by `hit` in the
        background)."""
        await self._sync(self._minute)

    async def _sync(self, minute: int) -> None:
        if minute != self._minute:  # started just before a new minute: nothing of it is left
            return
        counts, limits, unsynced = self._counts, self._limits, self._unsynced
        keys = [k for k in unsynced if counts[k] * self.processes >= limits[k]]
        if not keys:
            return
        pending = {k: unsynced.pop(k) for k in keys}
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    name = f"{self.prefix}:{minute}:{key}"
                    pipe.incrby(name, pending[key])
                    pipe.expire(name, 120)
                totals = (await pipe.execute())[::2]
        except Exception:  # best effort: the local counts still hold
            return
        if minute != self._minute:
            return
        for key, total in zip(keys, totals, strict=True):
            if int(total) > self._limits.get(key, 0):
                self._blocked.add(key)
