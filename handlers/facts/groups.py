"""Customer groups: change_external_chat carries only ids, so a short-delayed job reads
groupchat/get and records exactly one join or quit per real change.

Each callback's member changes (with the scene, which only the callback carries) are stored
as `GroupChange` rows before the refresh is queued, and consumed by the refresh: a refresh
lost with Redis is found again by a sweep, and no scene is lost. A refresh replays the
changes in WeCom's order, then reconciles against the member list (which is what lets a full
sync use the same code). Every join or quit is its own fact, however close in time.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

import arq
from tortoise.exceptions import IntegrityError

from bot.deps import Deps
from bot.domain_events import GroupJoined, GroupQuit, publish_many
from bot.events import ExternalChatEvent
from bot.wecom_errors import WeComError
from handlers.facts.base import event_id, from_ts, ts
from handlers.facts.router import router
from handlers.facts.store import SAME_MOMENT, add_timeline
from storage.directory import Staff
from storage.facts import (
    CustomerGroup,
    FactSource,
    GroupChange,
    GroupMember,
    GroupMembershipEvent,
)

REFRESH_JOB = "groupchat_refresh"
REFRESH_DELAY = 3.0
# A change still unconsumed this long after it was stored lost its refresh (Redis lost the
# job or the flag): the sweep queues another.
SWEEP_AFTER = timedelta(seconds=20)
KEEP_DONE = timedelta(days=7)  # consumed changes, kept a while for inspection
EXTERNAL = 2
log = logging.getLogger(__name__)


def _key(chat_id: str, what: str) -> str:
    return f"scrmbot:facts:chat:{chat_id}:{what}"


def _change_key(kind: str, chat_id: str, member: str, event: ExternalChatEvent) -> str:
    """Also the key of the join fact the change becomes (":ev:" marks a callback's fact)."""
    key = f"{kind}:{chat_id}:{member}:ev:{event_id(event)}"
    if len(key) <= 160:
        return key
    return f"{kind}:ev:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


async def record_changes(deps: Deps, event: ExternalChatEvent) -> None:
    kinds = {"add_member": ("join", event.join_scene), "del_member": ("quit", event.quit_scene)}
    kind, scene = kinds.get(event.update_detail, ("refresh", 0))
    members = list(event.mem_change_list) if kind != "refresh" else []
    for member in members or [""]:
        with contextlib.suppress(IntegrityError):  # a re-delivered callback: stored already
            await GroupChange.create(
                key=_change_key(kind if member else "refresh", event.chat_id, member, event),
                chat_id=event.chat_id,
                member_id=member,
                kind=kind if member else "refresh",
                scene=scene,
                at=event.created_at,
                recorded_at=deps.now(),
            )


@router.event("change_external_chat")
async def on_chat_changed(deps: Deps, event: ExternalChatEvent) -> None:
    if not event.chat_id:
        return
    if event.change_type == "dismiss":
        group, _ = await CustomerGroup.update_or_create(
            defaults={"status": "dismissed"}, chat_id=event.chat_id
        )
        await members_leave(deps, group, event.created_at, FactSource.CALLBACK)
        return
    await record_changes(deps, event)
    await schedule_refresh(deps, event.chat_id)


async def members_leave(deps: Deps, group: CustomerGroup, at: datetime, source: str) -> int:
    """A dismissed (or, found by sync, vanished) group: everyone still in it leaves (scene 1,
    removed) — once, since each quit is keyed by its membership episode."""
    counts = {"joins": 0, "quits": 0}
    for m in await GroupMember.filter(chat_id=group.chat_id):
        rec = _Reconcile(deps, group, m.member_id, source, counts)
        await rec.quit(at, 1, m.member_type, source)
    await GroupMember.filter(chat_id=group.chat_id).delete()
    await _notify_new(deps, group.chat_id)
    return counts["quits"]


async def schedule_refresh(deps: Deps, chat_id: str) -> None:
    """One queued refresh per chat at a time: a burst of callbacks shares it. The job clears
    the flag before it reads WeCom, so a later callback always gets a later read."""
    flag = _key(chat_id, "queued")
    if not await deps.redis.set(flag, "1", nx=True, ex=60):
        return
    try:
        job_id = f"facts:chat:{chat_id}:{uuid.uuid4().hex[:12]}"
        await deps.queue.enqueue(REFRESH_JOB, chat_id, job_id=job_id, defer_by=REFRESH_DELAY)
    except Exception:
        await deps.redis.delete(flag)
        raise


@router.job
async def groupchat_refresh(ctx: dict[str, Any], chat_id: str) -> dict[str, int]:
    deps: Deps = ctx["deps"]
    await deps.redis.delete(_key(chat_id, "queued"))
    try:
        info = await deps.wecom.groupchat_get(chat_id)
    except WeComError as exc:
        dismissed = await CustomerGroup.exists(chat_id=chat_id, status="dismissed")
        if not dismissed and exc.retryable:
            raise
        # Dismissed, or refused for good (not ours, no permission): the waiting changes can
        # never be read, so they stop asking for refreshes.
        if not dismissed:
            log.warning("group %s cannot be refreshed: %s", chat_id, exc.explain())
        await GroupChange.filter(chat_id=chat_id, done=False).update(done=True)
        return {"joins": 0, "quits": 0}
    return await reconcile_group(deps, info, FactSource.CALLBACK)


async def sweep_changes(ctx: dict[str, Any]) -> int:
    """Cron: queue a refresh for every group whose stored changes wait too long."""
    deps: Deps = ctx["deps"]
    stale = deps.now() - SWEEP_AFTER
    rows = GroupChange.filter(done=False, recorded_at__lte=stale)
    chats = set(await rows.limit(1000).values_list("chat_id", flat=True))
    for chat_id in sorted(str(c) for c in chats):
        await schedule_refresh(deps, chat_id)
    await GroupChange.filter(done=True, recorded_at__lt=deps.now() - KEEP_DONE).delete()
    return len(chats)


router.cron(arq.cron(sweep_changes, second={5, 25, 45}, unique=True, timeout=60))


async def reconcile_group(deps: Deps, info: dict[str, Any], source: str) -> dict[str, int]:
    chat_id = str(info["chat_id"])
    async with deps.redis.lock(_key(chat_id, "lock"), timeout=120, blocking_timeout=60):
        group = await _save_group(info)
        changes = list(await GroupChange.filter(chat_id=chat_id, done=False).order_by("at", "id"))
        pending = [c for c in changes if c.kind in ("join", "quit")]
        remote = {str(m["userid"]): m for m in info.get("member_list") or []}
        rows = await GroupMember.filter(chat_id=chat_id).values_list("member_id", flat=True)
        current = {str(m) for m in rows}
        counts = {"joins": 0, "quits": 0}
        for member in sorted(set(remote) | current | {c.member_id for c in pending}):
            mine = [c for c in pending if c.member_id == member]
            rec = _Reconcile(deps, group, member, source, counts)
            await rec.run(remote.get(member), mine)
        await _notify_new(deps, chat_id)
        if changes:
            await GroupChange.filter(id__in=[c.id for c in changes]).update(done=True)
    return counts


async def _save_group(info: dict[str, Any]) -> CustomerGroup:
    values = {
        "name": str(info.get("name") or "")[:128],
        "owner": str(info.get("owner") or ""),
        "notice": str(info.get("notice") or ""),
        "status": "active",
        "member_version": str(info.get("member_version") or ""),
        "created_at": from_ts(info["create_time"]) if info.get("create_time") else None,
    }
    group, _ = await CustomerGroup.update_or_create(defaults=values, chat_id=str(info["chat_id"]))
    return group


async def _notify_new(deps: Deps, chat_id: str) -> None:
    """Publish every fact not yet told, in WeCom's order (a join before its quit), in one
    INSERT; a failure leaves them untold so the retried job publishes them again (publishing
    is idempotent)."""
    facts = GroupMembershipEvent.filter(chat_id=chat_id, notified=False).order_by("at", "id")
    untold = list(await facts)
    if untold:
        await publish_many(deps, [membership_event(fact) for fact in untold])
        await GroupMembershipEvent.filter(id__in=[f.id for f in untold]).update(notified=True)


def membership_event(fact: GroupMembershipEvent) -> tuple[GroupJoined | GroupQuit, str]:
    """The fact's domain event and its key: the fact's row, not its key (an adopted orphan
    quit is the same quit)."""
    who = {"chat_id": fact.chat_id, "member_id": fact.member_id}
    key = f"{fact.kind}:{fact.id}"
    if fact.kind == "join":
        joined = GroupJoined(
            **who, member_type=fact.member_type, at=fact.at, scene=fact.scene, invitor=fact.invitor
        )
        return joined, key
    return GroupQuit(**who, member_type=fact.member_type, at=fact.at, scene=fact.scene), key


def join_scene(member_scene: Any) -> int:
    """groupchat/get's join_scene (1 invited, 2 invite link, 3 QR) in the callback's terms
    (JoinScene 0 invite or link, 3 QR), so a join seen first in the member list agrees with
    its callback."""
    return 3 if str(member_scene) == "3" else 0


class _Reconcile:
    """One member of one group: the callbacks in WeCom's order (they carry the scenes), then
    WeCom's member list (it carries the inviter)."""

    def __init__(
        self, deps: Deps, group: CustomerGroup, member: str, source: str, counts: dict[str, int]
    ) -> None:
        self.deps, self.group, self.member, self.source = deps, group, member, source
        self.chat_id = group.chat_id
        self.counts = counts

    async def run(self, remote: dict[str, Any] | None, pending: list[GroupChange]) -> None:
        mtype = int(remote["type"]) if remote and remote.get("type") else await self._type()
        for change in pending:
            if change.kind == "join":
                await self.callback_join(change, mtype)
            else:
                await self.quit(change.at, change.scene, mtype, FactSource.CALLBACK)
        if remote is not None:
            await self.listed(remote, mtype)
            await self._save_member(remote, mtype)
        else:
            await self._quit_if_still_joined(mtype)
            await GroupMember.filter(chat_id=self.chat_id, member_id=self.member).delete()

    async def _type(self) -> int:
        return 1 if await Staff.exists(userid=self.member) else EXTERNAL

    async def _events(self, kind: str) -> Any:
        return GroupMembershipEvent.filter(chat_id=self.chat_id, member_id=self.member, kind=kind)

    async def _open_join(self) -> GroupMembershipEvent | None:
        """The latest join when no quit followed it: the member's current membership."""
        joined = await (await self._events("join")).order_by("-at", "-id").first()
        if joined is None:
            return None
        quit_ = await (await self._events("quit")).filter(at__gte=joined.at).exists()
        return None if quit_ else joined

    async def callback_join(self, change: GroupChange, mtype: int) -> None:
        """One join per callback; a membership a member list or sync showed first (its own
        time, WeCom's join_time) is the same join when still open."""
        fact = await GroupMembershipEvent.get_or_none(key=change.key)
        if fact is None:
            seen = await self._open_join()
            listed = seen is not None and ":ev:" not in seen.key
            if seen is not None and listed and abs(seen.at - change.at) <= SAME_MOMENT:
                await GroupMembershipEvent.filter(id=seen.id).update(scene=change.scene)
                return
            fact, new = await self._insert(
                change.key, "join", change.at, change.scene, "", mtype, FactSource.CALLBACK
            )
            self.counts["joins"] += new
            if new:
                await self._adopt_orphan_quit(fact)
        await self._timeline(fact, "group_join", f"加入了群聊「{self._name}」")

    async def listed(self, remote: dict[str, Any], mtype: int) -> None:
        """The member list shows the member: their open membership gets the inviter, or a
        join we have no callback for (yet) is recorded at WeCom's join_time."""
        invitor = str((remote.get("invitor") or {}).get("userid") or "")
        seen = await self._open_join()
        if seen is not None:
            if invitor and not seen.invitor:
                await GroupMembershipEvent.filter(id=seen.id).update(invitor=invitor)
            return
        at = from_ts(remote.get("join_time"))
        scene = join_scene(remote.get("join_scene"))
        key = f"join:{self.chat_id}:{self.member}:{ts(at)}"
        fact, new = await self._insert(key, "join", at, scene, invitor, mtype, self.source)
        self.counts["joins"] += new
        if new:
            await self._adopt_orphan_quit(fact)
            await self._timeline(fact, "group_join", f"加入了群聊「{self._name}」")

    async def quit(self, at: datetime, scene: int, mtype: int, source: str) -> None:
        joined = (
            await (await self._events("join")).filter(at__lte=at).order_by("-at", "-id").first()
        )
        episode = str(ts(joined.at)) if joined else f"orphan:{ts(at)}"
        key = f"quit:{self.chat_id}:{self.member}:{episode}"
        fact, new = await self._insert(key, "quit", at, scene, "", mtype, source)
        self.counts["quits"] += new
        verb = "被移出" if fact.scene == 1 else "退出了"
        await self._timeline(fact, "group_quit", f"{verb}群聊「{self._name}」")

    async def _adopt_orphan_quit(self, join: GroupMembershipEvent) -> None:
        """A quit handled before its join (reordered delivery) gets the membership's key."""
        prefix = f"quit:{self.chat_id}:{self.member}:orphan:"
        quits = await (await self._events("quit")).filter(key__startswith=prefix, at__gte=join.at)
        episode_key = f"quit:{self.chat_id}:{self.member}:{ts(join.at)}"
        for orphan in quits:
            latest = await (await self._events("join")).filter(at__lte=orphan.at).order_by("-at")
            if (
                latest
                and latest[0].id == join.id
                and not await GroupMembershipEvent.exists(key=episode_key)
            ):
                await GroupMembershipEvent.filter(id=orphan.id).update(key=episode_key)

    @property
    def _name(self) -> str:
        return self.group.name or self.chat_id

    async def _quit_if_still_joined(self, mtype: int) -> None:
        """Gone from WeCom's list with no quit callback (lost, or found by a sync)."""
        joined = await (await self._events("join")).order_by("-at").first()
        if joined is None:
            return
        key = f"quit:{self.chat_id}:{self.member}:{ts(joined.at)}"
        if not await GroupMembershipEvent.exists(key=key):
            await self.quit(max(self.deps.now(), joined.at), 0, mtype, self.source)

    async def _insert(
        self, key: str, kind: str, at: datetime, scene: int, invitor: str, mtype: int, source: str
    ) -> tuple[GroupMembershipEvent, bool]:
        try:
            fact = await GroupMembershipEvent.create(
                key=key,
                kind=kind,
                at=at,
                scene=scene,
                invitor=invitor,
                source=source,
                chat_id=self.chat_id,
                member_id=self.member,
                member_type=mtype,
            )
        except IntegrityError:
            return await GroupMembershipEvent.get(key=key), False
        return fact, True

    async def _timeline(self, fact: GroupMembershipEvent, kind: str, text: str) -> None:
        # Keyed by time, not by fact key: an adopted orphan quit keeps its timeline entry.
        if fact.member_type != EXTERNAL:
            return
        await add_timeline(
            self.deps,
            external_userid=self.member,
            kind=kind,
            text=text,
            key=f"tl:{fact.kind}:{self.chat_id}:{self.member}:{ts(fact.at)}",
            detail={"chat_id": self.chat_id, "scene": fact.scene, "invitor": fact.invitor},
            at=fact.at,
        )

    async def _save_member(self, remote: dict[str, Any], mtype: int) -> None:
        values = {
            "member_type": mtype,
            "join_time": from_ts(remote.get("join_time")),
            "join_scene": int(remote.get("join_scene") or 0),
            "invitor": str((remote.get("invitor") or {}).get("userid") or ""),
            "name": str(remote.get("group_nickname") or remote.get("name") or "")[:128],
        }
        await GroupMember.update_or_create(
            defaults=values, chat_id=self.chat_id, member_id=self.member
        )
