"""Recording an opening of a share link: who the visitor is (strongest identity first), their
level in the forwarding chain, and the Visit row; heartbeats aggregated in Redis."""

from __future__ import annotations

import secrets
import weakref
from datetime import datetime

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from bot.deps import Deps
from bot.visitors import PublicVisitor
from handlers.radar.common import BEAT_PURPOSE, FROM_PURPOSE, ShareInfo
from storage.facts import FollowRelation
from storage.radar import Visit

BEAT_PREFIX = "scrmbot:radar:beat:"
BEAT_TTL = 2 * 24 * 3600
FINALIZE_AFTER = 60.0  # seconds between write-backs of a visit's heartbeats
# One round trip per beat (sent by its SHA once loaded): keep the largest value per field;
# "last" is the time of the latest beat. Beats are rate-limited before this, in the process.
_BEAT_LUA = """
for i = 1, #ARGV - 1, 2 do
  local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if tonumber(ARGV[i + 1]) > cur then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
redis.call('HSET', KEYS[1], 'last', ARGV[#ARGV])
redis.call('EXPIRE', KEYS[1], TTL)
return 1
""".replace("TTL", str(BEAT_TTL))


def new_id() -> str:
    return secrets.token_urlsafe(12)


def from_value(deps: Deps, visitor_id: str) -> str:
    return f"{visitor_id}.{deps.signer.mac(FROM_PURPOSE, visitor_id, 12)}"


def from_visitor(deps: Deps, value: str) -> str | None:
    vid, _, mac = value.partition(".")
    if not vid or len(vid) > 32 or not deps.signer.verify_mac(FROM_PURPOSE, vid, mac, length=12):
        return None
    return vid


def beat_key(deps: Deps, token: str, visit_id: str, started: int) -> str:
    body = f"{visit_id}.{started}"
    return f"{body}.{deps.signer.mac(BEAT_PURPOSE, token + ':' + body, 16)}"


def check_beat_key(deps: Deps, token: str, key: str) -> tuple[str, int] | None:
    body, _, mac = key.rpartition(".")
    visit_id, _, started = body.partition(".")
    if not visit_id or not started.isdigit():
        return None
    if not deps.signer.verify_mac(BEAT_PURPOSE, token + ":" + body, mac, length=16):
        return None
    return visit_id, int(started)


async def is_corp_customer(external_userid: str) -> bool:
    if not external_userid:
        return False
    return await FollowRelation.exists(external_userid=external_userid, active=True)


async def place(
    share: ShareInfo, visitor_id: str, parent_id: str | None, new_visitor: bool = False
) -> tuple[int, str, str]:
    """(level, parent visitor id, channel) for this visitor in this share's chain."""
    prior = (
        None
        if new_visitor
        else (
            await Visit.filter(share_id=share.id, visitor_id=visitor_id)
            .order_by("level")
            .first()
            .values("level", "parent_visitor_id", "channel")
        )
    )
    if prior:
        return prior["level"], prior["parent_visitor_id"], prior["channel"]
    if parent_id and parent_id != visitor_id:
        parent = (
            await Visit.filter(share_id=share.id, visitor_id=parent_id)
            .order_by("level")
            .first()
            .values("level")
        )
        if parent:
            return parent["level"] + 1, parent_id, "forward"
    return 1, "", "group" if share.chat_id else "single"


async def record_visit(
    deps: Deps, share: ShareInfo, visitor: PublicVisitor, parent_id: str | None, measured: bool
) -> Visit:
    """The visit, committed (in a group commit with the visits arriving alongside it)."""
    from handlers.radar.batch import batcher

    level, parent, channel = await place(share, visitor.id, parent_id, visitor.new)
    visit = Visit(
        id=new_id(),
        share_id=share.id,
        radar_id=share.radar_id,
        visitor_id=visitor.id,
        external_userid=visitor.external_userid,
        parent_visitor_id=parent,
        level=level,
        root_userid=share.userid,
        channel=channel,
        started_at=deps.now(),
    )
    await batcher(deps).record(visit, visitor.row if visitor.new else None, measured)
    visitor.new = False
    return visit


async def add_beat(
    deps: Deps, visit_id: str, started: int, seconds: int, progress: int, page: int
) -> None:
    now = int(deps.now().timestamp())
    seconds = max(0, min(seconds, now - started + 10))  # a beat cannot claim more than elapsed
    args: list[str | int] = ["t", seconds, "p", max(0, min(progress, 100))]
    args += ["pg", max(0, min(page, 10_000)), now]
    await _beat_script(deps.redis)(keys=[BEAT_PREFIX + visit_id], args=args)


_scripts: weakref.WeakKeyDictionary[Redis, AsyncScript] = weakref.WeakKeyDictionary()


def _beat_script(redis: Redis) -> AsyncScript:
    """EVALSHA with the script body sent only when Redis does not know it (e.g. restarted)."""
    script = _scripts.get(redis)
    if script is None:
        script = _scripts[redis] = redis.register_script(_BEAT_LUA)
    return script


async def read_beats(deps: Deps, visit_id: str) -> dict[str, int]:
    raw = await deps.redis.hgetall(BEAT_PREFIX + visit_id)  # type: ignore[misc]
    return {k.decode(): int(float(v)) for k, v in raw.items()}


def epoch(at: datetime) -> int:
    return int(at.timestamp())
