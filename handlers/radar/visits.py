"""Recording an opening of a share link: who the visitor is (strongest identity first), their
level in the forwarding chain, and the Visit row; heartbeats aggregated in Redis."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from bot.deps import Deps
from handlers.radar.common import BEAT_PURPOSE, FROM_PURPOSE, ShareInfo
from storage.facts import FollowRelation
from storage.radar import Visit, Visitor

BEAT_PREFIX = "scrmbot:radar:beat:"
BEAT_TTL = 2 * 24 * 3600
FINALIZE_AFTER = 60.0  # seconds between write-backs of a visit's heartbeats
# One round trip per beat: count it against the per-minute limit (KEYS[2], ARGV[1]; 0 = none);
# within the limit keep the largest value per field; "last" is the time of the latest beat.
_BEAT_LUA = """
if ARGV[1] ~= '0' then
  local count = redis.call('INCR', KEYS[2])
  if count == 1 then redis.call('EXPIRE', KEYS[2], 120) end
  if count > tonumber(ARGV[1]) then return 0 end
end
for i = 2, #ARGV - 1, 2 do
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


@dataclass
class Identity:
    visitor: Visitor
    new: bool


async def identify(
    deps: Deps, visitor_id: str | None, share: ShareInfo, forwarded: bool
) -> Identity:
    """The visitor; a visitor who opens a share sent to one customer in a single chat (not
    through someone's forward) is taken to be that customer. A new visitor is not saved here:
    it is inserted with its first visit (or by `save_new` when it sees no content)."""
    visitor = await Visitor.get_or_none(id=visitor_id) if visitor_id else None
    new = visitor is None
    if visitor is None:
        visitor = Visitor(id=new_id(), created_at=deps.now())
    if not visitor.external_userid and share.external_userid and not forwarded:
        visitor.external_userid = share.external_userid
        if not new:
            await visitor.save(update_fields=["external_userid"])
    return Identity(visitor, new)


async def save_new(ident: Identity) -> None:
    if ident.new:
        await ident.visitor.save(force_create=True)


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
    deps: Deps, share: ShareInfo, ident: Identity, parent_id: str | None, measured: bool
) -> Visit:
    """The visit, committed (in a group commit with the visits arriving alongside it)."""
    from handlers.radar.batch import batcher

    visitor = ident.visitor
    level, parent, channel = await place(share, visitor.id, parent_id, ident.new)
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
    await batcher(deps).record(visit, visitor if ident.new else None, measured)
    return visit


async def add_beat(
    deps: Deps,
    visit_id: str,
    started: int,
    seconds: int,
    progress: int,
    page: int,
    limit: tuple[str, int] = ("", 0),
) -> bool:
    """Record a beat; False (nothing recorded) when `limit` = (counter key, beats per minute)
    is exceeded."""
    now = int(deps.now().timestamp())
    seconds = max(0, min(seconds, now - started + 10))  # a beat cannot claim more than elapsed
    key, most = limit if limit[0] else ("scrmbot:radar:rl:unlimited", 0)
    args = [most, "t", seconds, "p", max(0, min(progress, 100))]
    args += ["pg", max(0, min(page, 10_000)), now]
    done = await deps.redis.eval(  # type: ignore[misc]
        _BEAT_LUA, 2, BEAT_PREFIX + visit_id, key, *[str(a) for a in args]
    )
    return bool(done)


async def read_beats(deps: Deps, visit_id: str) -> dict[str, int]:
    raw = await deps.redis.hgetall(BEAT_PREFIX + visit_id)  # type: ignore[misc]
    return {k.decode(): int(float(v)) for k, v in raw.items()}


def epoch(at: datetime) -> int:
    return int(at.timestamp())
