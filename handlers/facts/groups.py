"""Customer groups: change_external_chat carries only ids, so a short-delayed job reads
groupchat/get and records exactly one join or quit per real change.

The callbacks' scenes (JoinScene / QuitScene) and times wait in Redis per chat until a
refresh consumes them; a refresh also reconciles against WeCom's member list, which is what
lets a full sync use the same code.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from bot.deps import Deps
from bot.events import ExternalChatEvent
from bot.wecom_errors import WeComError
from handlers.facts.base import from_ts, notify, router, ts
from handlers.facts.store import SAME_MOMENT, add_timeline
from storage.directory import Staff
from storage.facts import CustomerGroup, FactSource, GroupMember, GroupMembershipEvent

REFRESH_JOB = "groupchat_refresh"
REFRESH_DELAY = 3.0
PENDING_TTL = 7 * 24 * 3600
EXTERNAL = 2


def _key(chat_id: str, what: str) -> str:
    return f"scrmbot:facts:chat:{chat_id}:{what}"


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
    kinds = {"add_member": ("join", event.join_scene), "del_member": ("quit", event.quit_scene)}
    if event.update_detail in kinds:
        kind, scene = kinds[event.update_detail]
        fields = {f"{kind}:{m}:{event.create_time}": str(scene) for m in event.mem_change_list}
        if fields:
            await deps.redis.hset(_key(event.chat_id, "pending"), mapping=fields)  # type: ignore[misc]
            await deps.redis.expire(_key(event.chat_id, "pending"), PENDING_TTL)
    await schedule_refresh(deps, event.chat_id)


async def members_leave(deps: Deps, group: CustomerGroup, at: datetime, source: str) -> int:
    """A dismissed (or, found by sync, vanished) group: everyone still in it leaves (scene 1,
    removed) — once, since each quit is keyed by its membership episode."""
    counts = {"joins": 0, "quits": 0}
    for m in await GroupMember.filter(chat_id=group.chat_id):
        rec = _Reconcile(deps, group, m.member_id, source, counts)
        await rec.quit(at, 1, m.member_type, source, pending=False)
    await GroupMember.filter(chat_id=group.chat_id).delete()
    await _notify_pending(deps, group.chat_id)
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
    except WeComError:
        if await CustomerGroup.exists(chat_id=chat_id, status="dismissed"):
            return {"joins": 0, "quits": 0}
        raise
    return await reconcile_group(deps, info, FactSource.CALLBACK)


async def reconcile_group(deps: Deps, info: dict[str, Any], source: str) -> dict[str, int]:
    chat_id = str(info["chat_id"])
    async with deps.redis.lock(_key(chat_id, "lock"), timeout=120, blocking_timeout=60):
        group = await _save_group(info)
        pending = await _pending(deps, chat_id)
        remote = {str(m["userid"]): m for m in info.get("member_list") or []}
        rows = await GroupMember.filter(chat_id=chat_id).values_list("member_id", flat=True)
        current = {str(m) for m in rows}
        counts = {"joins": 0, "quits": 0}
        for member in sorted(set(remote) | current | {p[1] for p in pending}):
            mine = [p for p in pending if p[1] == member]
            rec = _Reconcile(deps, group, member, source, counts)
            await rec.run(remote.get(member), mine)
        await _notify_pending(deps, chat_id)
        if pending:
            await deps.redis.hdel(_key(chat_id, "pending"), *[p[4] for p in pending])  # type: ignore[misc]
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


Pending = tuple[str, str, datetime, int, str]  # kind, member, at, scene, redis field


async def _pending(deps: Deps, chat_id: str) -> list[Pending]:
    raw = await deps.redis.hgetall(_key(chat_id, "pending"))  # type: ignore[misc]
    out: list[Pending] = []
    for field, value in raw.items():
        name = field.decode() if isinstance(field, bytes) else str(field)
        kind, _, rest = name.partition(":")
        member, _, stamp = rest.rpartition(":")
        if kind in ("join", "quit") and member and stamp.isdigit():
            out.append((kind, member, from_ts(stamp), int(value or 0), name))
    return sorted(out, key=lambda p: (p[2], p[0]))


async def _notify_pending(deps: Deps, chat_id: str) -> None:
    """Listeners run for every fact this refresh touched; a failure leaves the id queued so
    the retried job calls them again."""
    key = _key(chat_id, "notify")
    for raw in await deps.redis.smembers(key):  # type: ignore[misc]
        fact = await GroupMembershipEvent.get_or_none(id=int(raw))
        if fact is not None:
            await notify(deps, "group_joined" if fact.kind == "join" else "group_quit", fact)
        await deps.redis.srem(key, raw)  # type: ignore[misc]


def join_scene(member_scene: Any) -> int:
    """groupchat/get's join_scene (1 invited, 2 invite link, 3 QR) in the callback's terms
    (JoinScene 0 invite or link, 3 QR), so a join seen first in the member list agrees with
    its callback."""
    return 3 if str(member_scene) == "3" else 0


class _Reconcile:
    """One member of one group: callbacks first (they carry the scenes), then WeCom's list."""

    def __init__(
        self, deps: Deps, group: CustomerGroup, member: str, source: str, counts: dict[str, int]
    ) -> None:
        self.deps, self.group, self.member, self.source = deps, group, member, source
        self.chat_id = group.chat_id
        self.counts = counts

    async def run(self, remote: dict[str, Any] | None, pending: list[Pending]) -> None:
        mtype = int(remote["type"]) if remote and remote.get("type") else await self._type()
        for kind, _, at, scene, _ in pending:
            if kind == "join":
                await self.join(at, scene, "", mtype, FactSource.CALLBACK, pending=True)
        if remote is not None:
            invitor = str((remote.get("invitor") or {}).get("userid") or "")
            at = from_ts(remote.get("join_time"))
            scene = join_scene(remote.get("join_scene"))
            await self.join(at, scene, invitor, mtype, self.source, pending=False)
        for kind, _, at, scene, _ in pending:
            if kind == "quit":
                await self.quit(at, scene, mtype, FactSource.CALLBACK, pending=True)
        if remote is None:
            await self._quit_if_still_joined(mtype)
            await GroupMember.filter(chat_id=self.chat_id, member_id=self.member).delete()
        else:
            await self._save_member(remote, mtype)

    async def _type(self) -> int:
        return 1 if await Staff.exists(userid=self.member) else EXTERNAL

    async def _events(self, kind: str) -> Any:
        return GroupMembershipEvent.filter(chat_id=self.chat_id, member_id=self.member, kind=kind)

    async def join(
        self, at: datetime, scene: int, invitor: str, mtype: int, source: str, pending: bool
    ) -> None:
        near = (
            await (await self._events("join"))
            .filter(at__gte=at - SAME_MOMENT, at__lte=at + SAME_MOMENT)
            .first()
        )
        if near is not None:
            if invitor and not near.invitor:
                await GroupMembershipEvent.filter(id=near.id).update(invitor=invitor)
            if pending:
                await self._queue_notify(near)
            return
        key = f"join:{self.chat_id}:{self.member}:{ts(at)}"
        fact, new = await self._insert(key, "join", at, scene, invitor, mtype, source)
        self.counts["joins"] += new
        if new:
            await self._adopt_orphan_quit(fact)
        if new or pending:
            await self._queue_notify(fact)
            await self._timeline(fact, "group_join", f"加入了群聊「{self._name}」")

    async def quit(self, at: datetime, scene: int, mtype: int, source: str, pending: bool) -> None:
        joined = await (await self._events("join")).filter(at__lte=at).order_by("-at").first()
        episode = str(ts(joined.at)) if joined else f"orphan:{ts(at)}"
        key = f"quit:{self.chat_id}:{self.member}:{episode}"
        fact, new = await self._insert(key, "quit", at, scene, "", mtype, source)
        self.counts["quits"] += new
        if new or pending:
            await self._queue_notify(fact)
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
            await self.quit(max(self.deps.now(), joined.at), 0, mtype, self.source, pending=False)

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

    async def _queue_notify(self, fact: GroupMembershipEvent) -> None:
        await self.deps.redis.sadd(_key(self.chat_id, "notify"), str(fact.id))  # type: ignore[misc]

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
