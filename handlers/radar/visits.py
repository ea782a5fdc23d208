"""Recording an opening of a share link: who the visitor is (strongest identity first), their
level in the forwarding chain, and the Visit row; heartbeats aggregated in Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.deps import Deps
from bot.group_commit import GroupCommit
from bot.ids import ordered_id
from bot.visitors import PublicVisitor
from handlers.radar.common import BEAT_PURPOSE, FROM_PURPOSE, ShareInfo
from handlers.radar.router import router
from storage.facts import FollowRelation
from storage.radar import Visit

BEAT_PREFIX = "scrmbot:radar:beat:"
BEAT_TTL = 2 * 24 * 3600
FINALIZE_AFTER = 60.0  # seconds between write-backs of a visit's heartbeats
# The beats arriving together in one EVALSHA: KEYS = one hash per visit, ARGV = per visit its
# seconds, progress, page and the time; each field keeps its largest value, "last" the time of
# the latest beat. Beats are rate-limited before this, in the process.
_BEAT_LUA = """
for i, key in ipairs(KEYS) do
  local base = (i - 1) * 4
  local fields = {'t', 'p', 'pg'}
  for j = 1, 3 do
    local value = tonumber(ARGV[base + j])
    local cur = tonumber(redis.call('HGET', key, fields[j]) or '0')
    if value > cur then redis.call('HSET', key, fields[j], value) end
  end
  redis.call('HSET', key, 'last', ARGV[base + 4])
  redis.call('EXPIRE', key, TTL)
end
return #KEYS
""".replace("TTL", str(BEAT_TTL))


def new_id() -> str:
    """A visit's id: made in time order, so a batch of visits shares its index pages."""
    return ordered_id()


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
    """(level, parent visitor id, channel) for this visitor in this share's chain (the radar
    in the filter: the (radar, visitor) index serves it)."""
    prior = (
        None
        if new_visitor
        else (
            await Visit.filter(radar_id=share.radar_id, share_id=share.id, visitor_id=visitor_id)
            .order_by("level")
            .first()
            .values("level", "parent_visitor_id", "channel")
        )
    )
    if prior:
        return prior["level"], prior["parent_visitor_id"], prior["channel"]
    if parent_id and parent_id != visitor_id:
        parent = (
            await Visit.filter(radar_id=share.radar_id, share_id=share.id, visitor_id=parent_id)
            .order_by("level")
            .first()
            .values("level")
        )
        if parent:
            return parent["level"] + 1, parent_id, "forward"
    return 1, "", "group" if share.chat_id else "single"


@dataclass(slots=True)
class NewVisit:
    """A visit being recorded (inserted as a plain row by the batcher)."""

    id: str
    share_id: int
    radar_id: int
    visitor_id: str
    external_userid: str
    parent_visitor_id: str
    level: int
    root_userid: str
    channel: str
    started_at: datetime

    def row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


async def record_visit(
    deps: Deps, share: ShareInfo, visitor: PublicVisitor, parent_id: str | None, measured: bool
) -> NewVisit:
    """The visit, committed (in a group commit with the visits arriving alongside it)."""
    from handlers.radar.batch import batcher

    level, parent, channel = await place(share, visitor.id, parent_id, visitor.fresh)
    visit = NewVisit(
        new_id(),
        share.id,
        share.radar_id,
        visitor.id,
        visitor.external_userid,
        parent,
        level,
        share.userid,
        channel,
        deps.now(),
    )
    await batcher(deps).record(visit, measured, visitor.fresh)
    return visit


async def add_beat(
    deps: Deps, visit_id: str, started: int, seconds: int, progress: int, page: int
) -> None:
    """Record a beat; it shares its Redis round trip with the beats arriving alongside it."""
    now = int(deps.now().timestamp())
    seconds = max(0, min(seconds, now - started + 10))  # a beat cannot claim more than elapsed
    beat = (visit_id, seconds, max(0, min(progress, 100)), max(0, min(page, 10_000)), now)
    writer: GroupCommit[Beat, None] = deps.resource(beat_writer)
    await writer.submit(beat)


Beat = tuple[str, int, int, int, int]


@router.resource
async def beat_writer(deps: Deps) -> AsyncIterator[GroupCommit[Beat, None]]:
    """This process's beat batcher (EVALSHA: the script body is sent only when Redis does not
    know it, e.g. after a restart)."""
    script = deps.redis.register_script(_BEAT_LUA)

    async def write(beats: list[Beat]) -> list[None]:
        keys = [BEAT_PREFIX + b[0] for b in beats]
        await script(keys=keys, args=[v for b in beats for v in b[1:]])
        return [None] * len(beats)

    yield GroupCommit(write, max_batch=500, max_delay=0.001)


async def read_beats(deps: Deps, visit_id: str) -> dict[str, int]:
    raw = await deps.redis.hgetall(BEAT_PREFIX + visit_id)  # type: ignore[misc]
    return {k.decode(): int(float(v)) for k, v in raw.items()}


def epoch(at: datetime) -> int:
    return int(at.timestamp())
