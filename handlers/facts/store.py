"""Writing follow facts: customers, append-only add/end events, the derived relation, tags
and the timeline. Every write is insert-or-ignore on a key derived from the fact itself."""

from __future__ import annotations

import contextlib
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from bot.domain_events import FollowAdded, FollowEnded, TagsMarked, publish, publish_many
from bot.rows import insert_new, insert_new_returning, models_in, select_in, upsert_rows
from handlers.facts.base import from_ts, ts
from storage.facts import (
    CorpTag,
    Customer,
    FactSource,
    FollowEvent,
    FollowRelation,
    FollowTag,
    TimelineEntry,
)

if TYPE_CHECKING:
    from bot.deps import Deps

# WeCom's createtime (a sync's snapshot) and the callback's CreateTime may differ by a moment:
# used only to match a synced relation to the one callbacks built, never to merge events.
SAME_MOMENT = timedelta(seconds=5)


async def add_timeline(
    deps: Deps,
    *,
    external_userid: str,
    kind: str,
    text: str,
    key: str,
    userid: str = "",
    feature: str = "facts",
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> bool:
    """Insert one 客户动态 entry unless `key` exists; True when it is new."""
    try:
        await TimelineEntry.create(
            key=key[:160],
            external_userid=external_userid,
            userid=userid,
            kind=kind[:32],
            feature=feature[:32],
            text=text[:512],
            detail=detail or {},
            at=at or deps.now(),
        )
    except IntegrityError:
        return False
    return True


def customer_values(info: dict[str, Any]) -> dict[str, Any]:
    """The fields WeCom told us, without the empty ones: a late or partial answer (the
    customer already left everyone) never blanks what we know."""
    values = {
        "name": str(info.get("name") or "")[:128],
        "avatar": str(info.get("avatar") or "")[:512],
        "type": int(info.get("type") or 0),
        "gender": int(info.get("gender") or 0),
        "unionid": str(info.get("unionid") or "")[:64],
        "corp_name": str(info.get("corp_name") or info.get("corp_full_name") or "")[:128],
    }
    return {k: v for k, v in values.items() if v}


async def upsert_customer(info: dict[str, Any]) -> Customer | None:
    """One INSERT … ON CONFLICT that sets only the fields WeCom gave; returns those values."""
    ext = str(info.get("external_userid") or "")
    if not ext:
        return None
    values = customer_values(info)
    customer = Customer(external_userid=ext, **values)
    if values:
        await Customer.bulk_create(
            [customer], on_conflict=["external_userid"], update_fields=list(values)
        )
    else:
        await Customer.bulk_create([customer], ignore_conflicts=True)
    return customer


CUSTOMER_COLUMNS = (
    "external_userid",
    "name",
    "avatar",
    "type",
    "gender",
    "unionid",
    "corp_name",
    "first_added_at",
    "first_added_by",
    "updated_at",
)


async def upsert_customers(infos: list[dict[str, Any]], now: datetime | None = None) -> None:
    """`upsert_customer` for many customers (distinct ids): one statement per set of fields
    WeCom gave, written as plain rows (no model instance per customer)."""
    groups: defaultdict[tuple[str, ...], list[tuple[Any, ...]]] = defaultdict(list)
    at = now or datetime.now(UTC)
    defaults = {"name": "", "avatar": "", "type": 1, "gender": 0, "unionid": "", "corp_name": ""}
    for info in infos:
        if ext := str(info.get("external_userid") or ""):
            values = customer_values(info)
            row = {**defaults, **values}
            groups[tuple(sorted(values))].append(
                (
                    ext,
                    row["name"],
                    row["avatar"],
                    row["type"],
                    row["gender"],
                    row["unionid"],
                    row["corp_name"],
                    None,
                    "",
                    at,
                )
            )
    for fields, rows in groups.items():
        await upsert_rows(Customer, CUSTOMER_COLUMNS, rows, ("external_userid",), fields)


async def _insert(key: str, **values: Any) -> FollowEvent:
    try:
        return await FollowEvent.create(key=key, **values)
    except IntegrityError:
        return await FollowEvent.get(key=key)


async def _mark_first_add(fact: FollowEvent) -> None:
    """One conditional UPDATE (no read-modify-write): only an earlier add moves it."""
    earlier = Q(first_added_at__isnull=True) | Q(first_added_at__gt=fact.at)
    rows = Customer.filter(earlier, external_userid=fact.external_userid)
    if not await rows.update(first_added_at=fact.at, first_added_by=fact.userid):
        await Customer.get_or_create(
            defaults={"first_added_at": fact.at, "first_added_by": fact.userid},
            external_userid=fact.external_userid,
        )


async def record_add(
    deps: Deps,
    *,
    userid: str,
    external_userid: str,
    at: datetime,
    add_way: int = 0,
    state: str = "",
    source: str = FactSource.CALLBACK,
    key: str = "",
) -> FollowEvent:
    """One add per WeCom event: `key` names the callback (a re-delivery is the same add, a
    re-add a second later is another); a sync's add is keyed by WeCom's createtime."""
    events = await pair_events(userid, external_userid)
    fact = _synced_episode(events, at) if key else None
    fact = fact or await _insert(
        key or f"add:{userid}:{external_userid}:{ts(at)}",
        userid=userid,
        external_userid=external_userid,
        kind="add",
        at=at,
        add_way=add_way,
        state=state[:64],
        source=source,
    )
    if all(e.id != fact.id for e in events):
        events.append(fact)
    await _mark_first_add(fact)
    await _adopt_orphan_end(fact, events)
    await rebuild_relation(userid, external_userid, events)
    await add_timeline(
        deps,
        external_userid=external_userid,
        userid=userid,
        kind="added",
        text=f"添加了员工 {await staff_name(userid)}",
        key=f"tl:{fact.key}",
        detail={"add_way": fact.add_way, "state": fact.state, "source": fact.source},
        at=fact.at,
    )
    added = FollowAdded(
        userid=userid,
        external_userid=external_userid,
        at=fact.at,
        add_way=fact.add_way,
        state=fact.state,
        source=str(fact.source),
    )
    await publish(deps, added, key=fact.key)
    return fact


@dataclass(frozen=True)
class NewAdd:
    """A callback's add, for `record_adds`; `follow` is WeCom's follow_user entry, if any."""

    userid: str
    external_userid: str
    at: datetime
    key: str
    add_way: int = 0
    state: str = ""
    follow: dict[str, Any] | None = None


async def record_adds(deps: Deps, adds: list[NewAdd]) -> None:
    """`record_add` (then `update_follow_details` when WeCom gave the follow) for many
    callbacks at once: a constant number of statements for the batch, with the same facts,
    relations, tags, timeline and domain events as one by one. A staff member and customer
    seen twice in the batch are recorded one by one."""
    pairs = Counter((a.userid, a.external_userid) for a in adds)
    await _record_distinct_adds(
        deps, [a for a in adds if pairs[(a.userid, a.external_userid)] == 1]
    )
    for a in adds:
        if pairs[(a.userid, a.external_userid)] > 1:
            await record_add(
                deps,
                userid=a.userid,
                external_userid=a.external_userid,
                at=a.at,
                add_way=a.add_way,
                state=a.state,
                key=a.key,
            )
            if a.follow:
                await update_follow_details(a.userid, a.external_userid, a.follow)


FACT_COLUMNS = (
    "key",
    "userid",
    "external_userid",
    "kind",
    "at",
    "add_way",
    "state",
    "end_reason",
    "source",
)


async def _record_distinct_adds(deps: Deps, adds: list[NewAdd]) -> None:
    if not adds:
        return
    exts = {a.external_userid for a in adds}
    known: defaultdict[tuple[str, str], list[FollowEvent]] = defaultdict(list)
    stored = await models_in(FollowEvent, "external_userid", exts)
    for e in sorted(stored, key=lambda e: (e.at, e.id)):
        known[(e.userid, e.external_userid)].append(e)
    facts: dict[str, FollowEvent] = {}
    new: list[tuple[Any, ...]] = []
    for a in adds:
        synced = _synced_episode(known[(a.userid, a.external_userid)], a.at)
        if synced is not None:
            facts[a.key] = synced
        else:
            row = (a.key, a.userid, a.external_userid, "add", a.at, a.add_way, a.state[:64])
            new.append((*row, "", str(FactSource.CALLBACK)))
    if new:  # a re-delivered add finds its stored fact
        facts |= {e.key: e for e in await insert_new_returning(FollowEvent, FACT_COLUMNS, new)}
        if kept_out := [f[0] for f in new if f[0] not in facts]:  # stored meanwhile
            facts |= {e.key: e for e in await models_in(FollowEvent, "key", kept_out)}
    for a in adds:
        fact, events = facts[a.key], known[(a.userid, a.external_userid)]
        if all(e.id != fact.id for e in events):
            events.append(fact)
        await _adopt_orphan_end(fact, events)
    ordered = [facts[a.key] for a in adds]
    await mark_first_adds(ordered)
    await rebuild_relations(
        {(a.userid, a.external_userid): known[(a.userid, a.external_userid)] for a in adds},
        {(a.userid, a.external_userid): a.follow for a in adds if a.follow},
    )
    names = await staff_names({a.userid for a in adds})
    await insert_new(
        TimelineEntry,
        ("key", "external_userid", "userid", "kind", "feature", "text", "detail", "at"),
        [
            (
                f"tl:{fact.key}"[:160],
                fact.external_userid,
                fact.userid,
                "added",
                "facts",
                f"添加了员工 {names.get(fact.userid, fact.userid)}"[:512],
                {"add_way": fact.add_way, "state": fact.state, "source": str(fact.source)},
                fact.at,
            )
            for fact in ordered
        ],
    )
    added = [
        (
            FollowAdded(
                userid=fact.userid,
                external_userid=fact.external_userid,
                at=fact.at,
                add_way=fact.add_way,
                state=fact.state,
                source=str(fact.source),
            ),
            fact.key,
        )
        for fact in ordered
    ]
    await publish_many(deps, added)
    await set_many_follow_tags(
        {
            (a.userid, a.external_userid): (
                follow_tag_ids(a.follow),
                from_ts(a.follow.get("createtime")),
            )
            for a in adds
            if a.follow
        }
    )


async def mark_first_adds(facts: list[FollowEvent]) -> None:
    """`_mark_first_add` for many facts in one conditional UPDATE (no read-modify-write):
    a customer's first add moves only to an earlier one."""
    earliest: dict[str, FollowEvent] = {}
    for fact in facts:  # equal times: the first wins, as one by one
        seen = earliest.get(fact.external_userid)
        if seen is None or fact.at < seen.at:
            earliest[fact.external_userid] = fact
    conn = connections.get("default")
    pg = conn.capabilities.dialect == "postgres"
    to_db = Customer._meta.fields_map["first_added_at"].to_db_value
    table = Customer._meta.db_table
    chosen = list(earliest.values())
    for start in range(0, len(chosen), 1000):
        chunk = chosen[start : start + 1000]
        params: list[Any] = []
        rows = []
        for n, fact in enumerate(chunk):
            params += [fact.external_userid, to_db(fact.at, Customer), fact.userid]
            casts = ("::varchar", "::timestamptz", "::varchar")
            rows.append(
                "(" + ",".join(f"${3 * n + c + 1}{casts[c]}" if pg else "?" for c in range(3)) + ")"
            )
        await conn.execute_query(
            f"WITH v(v_ext, v_at, v_by) AS (VALUES {','.join(rows)}) "
            f"UPDATE {table} SET first_added_at = v.v_at, first_added_by = v.v_by FROM v "
            f"WHERE {table}.external_userid = v.v_ext AND "
            f"({table}.first_added_at IS NULL OR {table}.first_added_at > v.v_at)",
            params,
        )


def _relation_values(events: list[FollowEvent]) -> dict[str, Any] | None:
    adds = [e for e in events if e.kind == "add"]
    if not adds:
        return None
    latest = max(adds, key=lambda e: (e.at, e.id))
    ends = [e for e in events if e.kind == "end" and e.at >= latest.at]
    end = min(ends, key=lambda e: (e.at, e.id)) if ends else None
    return {
        "added_at": latest.at,
        "add_way": latest.add_way,
        "state": latest.state,
        "source": latest.source,
        "active": end is None,
        "ended_at": end.at if end else None,
        "end_reason": end.end_reason if end else "",
    }


RELATION_COLUMNS = (
    "userid",
    "external_userid",
    "added_at",
    "add_way",
    "state",
    "source",
    "active",
    "ended_at",
    "end_reason",
    "remark",
    "description",
)


async def rebuild_relations(
    events: dict[tuple[str, str], list[FollowEvent]],
    follows: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """`rebuild_relation` for many pairs, with the remark and description of those whose
    follow entry WeCom gave: one upsert per kind, written as plain rows."""
    plain: list[tuple[Any, ...]] = []
    detailed: list[tuple[Any, ...]] = []
    for (userid, ext), pair_events_ in events.items():
        values = _relation_values(pair_events_)
        if values is None:
            continue
        follow = follows.get((userid, ext))
        row = (
            userid,
            ext,
            values["added_at"],
            values["add_way"],
            values["state"],
            str(values["source"]),
            values["active"],
            values["ended_at"],
            str(values["end_reason"]),
            str((follow or {}).get("remark") or "")[:128],
            str((follow or {}).get("description") or "")[:512],
        )
        (detailed if follow is not None else plain).append(row)
    conflict = ("userid", "external_userid")
    derived = RELATION_COLUMNS[2:9]
    await upsert_rows(FollowRelation, RELATION_COLUMNS, plain, conflict, derived)
    await upsert_rows(FollowRelation, RELATION_COLUMNS, detailed, conflict, RELATION_COLUMNS[2:])


async def set_many_follow_tags(wanted: dict[tuple[str, str], tuple[list[str], datetime]]) -> None:
    """`set_follow_tags` for many pairs: one read, the stale removed, the new in one INSERT."""
    if not wanted:
        return
    current: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    exts = {ext for _, ext in wanted}
    columns = ("userid", "external_userid", "tag_id")
    for userid, ext, tag_id in await select_in(FollowTag, columns, "external_userid", exts):
        current[(str(userid), str(ext))].add(str(tag_id))
    new: list[tuple[str, str, str, datetime]] = []
    for (userid, ext), (tag_ids, at) in wanted.items():
        keep = {t for t in tag_ids if t}
        have = current[(userid, ext)]
        if stale := have - keep:
            await FollowTag.filter(userid=userid, external_userid=ext, tag_id__in=stale).delete()
        new += [(userid, ext, t, at) for t in sorted(keep - have)]
    await insert_new(FollowTag, ("userid", "external_userid", "tag_id", "added_at"), new)


async def pair_events(userid: str, ext: str) -> list[FollowEvent]:
    """Every add and end of one staff member and customer (a handful), in time order."""
    return list(await FollowEvent.filter(userid=userid, external_userid=ext).order_by("at", "id"))


def _synced_episode(events: list[FollowEvent], at: datetime) -> FollowEvent | None:
    """An open relation a sync found at WeCom's createtime is the add this late callback
    reports (a sync cannot tell events apart; callbacks always can)."""
    add = next(
        (
            e
            for e in events
            if e.kind == "add" and e.source == FactSource.SYNC and abs(e.at - at) <= SAME_MOMENT
        ),
        None,
    )
    ended = add is not None and any(e.kind == "end" and e.at >= add.at for e in events)
    return None if add is None or ended else add


def _episode_add(events: list[FollowEvent], at: datetime) -> FollowEvent | None:
    adds = [e for e in events if e.kind == "add" and e.at <= at]
    return max(adds, key=lambda e: (e.at, e.id)) if adds else None


async def _adopt_orphan_end(add: FollowEvent, events: list[FollowEvent]) -> None:
    """An end processed before its add (reordered delivery) gets the episode's key."""
    prefix = f"end:{add.userid}:{add.external_userid}:orphan:"
    orphan = next(
        (e for e in events if e.kind == "end" and e.key.startswith(prefix) and e.at >= add.at),
        None,
    )
    episode_key = f"end:{add.userid}:{add.external_userid}:{ts(add.at)}"
    if orphan is None or any(e.key == episode_key for e in events):
        return
    later = _episode_add(events, orphan.at)
    if later is not None and later.key == add.key:
        await FollowEvent.filter(id=orphan.id).update(key=episode_key)
        orphan.key = episode_key


END_TEXT = {
    "deleted_by_customer": "删除了员工 {name}",
    "deleted_by_staff": "被员工 {name} 删除",
    "transferred": "已从员工 {name} 转接",
    "": "与员工 {name} 的好友关系已不存在",
    "unknown": "与员工 {name} 的好友关系已不存在",
}


async def record_end(
    deps: Deps,
    *,
    userid: str,
    external_userid: str,
    at: datetime,
    reason: str,
    source: str = FactSource.CALLBACK,
) -> FollowEvent:
    """One end per relation episode (both sides deleting still ends it once)."""
    events = await pair_events(userid, external_userid)
    add = _episode_add(events, at)
    episode = str(ts(add.at)) if add else f"orphan:{ts(at)}"
    fact = await _insert(
        f"end:{userid}:{external_userid}:{episode}",
        userid=userid,
        external_userid=external_userid,
        kind="end",
        at=at,
        end_reason=reason,
        source=source,
    )
    if all(e.id != fact.id for e in events):
        events.append(fact)
    await rebuild_relation(userid, external_userid, events)
    text = END_TEXT.get(fact.end_reason, END_TEXT[""]).format(name=await staff_name(userid))
    await add_timeline(
        deps,
        external_userid=external_userid,
        userid=userid,
        kind="deleted",
        text=text,
        key=f"tl:end:{userid}:{external_userid}:{ts(fact.at)}",  # stable when an orphan is adopted
        detail={"reason": fact.end_reason, "source": fact.source},
        at=fact.at,
    )
    ended = FollowEnded(
        userid=userid,
        external_userid=external_userid,
        at=fact.at,
        reason=str(fact.end_reason),
        source=str(fact.source),
    )
    await publish(deps, ended, key=f"end:{userid}:{external_userid}:{ts(fact.at)}")
    return fact


async def rebuild_relation(userid: str, ext: str, events: list[FollowEvent] | None = None) -> None:
    """The current relation is whatever the latest add and any end after it say (one upsert)."""
    events = await pair_events(userid, ext) if events is None else events
    values = _relation_values(events)
    if values is None:
        return
    relation = FollowRelation(userid=userid, external_userid=ext, **values)
    await FollowRelation.bulk_create(
        [relation], on_conflict=["userid", "external_userid"], update_fields=list(values)
    )


async def update_follow_details(userid: str, ext: str, follow: dict[str, Any]) -> None:
    """Remark, description and corp tags from a follow_user / follow_info entry."""
    await FollowRelation.filter(userid=userid, external_userid=ext).update(
        remark=str(follow.get("remark") or "")[:128],
        description=str(follow.get("description") or "")[:512],
    )
    ids = follow_tag_ids(follow)
    await set_follow_tags(userid, ext, ids, at=from_ts(follow.get("createtime")))


def follow_tag_ids(follow: dict[str, Any]) -> list[str]:
    """The corp tag ids of a follow_user / follow_info entry (personal tags left out)."""
    tags = follow.get("tags")
    if isinstance(tags, list):
        return [str(t.get("tag_id")) for t in tags if isinstance(t, dict) and t.get("type", 1) == 1]
    return [str(t) for t in follow.get("tag_id") or []]


async def follow_tags(userid: str, ext: str) -> set[str]:
    rows = await FollowTag.filter(userid=userid, external_userid=ext).values_list(
        "tag_id", flat=True
    )
    return {str(t) for t in rows}


async def set_follow_tags(userid: str, ext: str, tag_ids: list[str], at: datetime) -> None:
    current = set(
        await FollowTag.filter(userid=userid, external_userid=ext).values_list("tag_id", flat=True)
    )
    wanted = {t for t in tag_ids if t}
    if stale := current - wanted:
        await FollowTag.filter(userid=userid, external_userid=ext, tag_id__in=stale).delete()
    for tag_id in wanted - current:
        with contextlib.suppress(IntegrityError):
            await FollowTag.create(userid=userid, external_userid=ext, tag_id=tag_id, added_at=at)


async def staff_names(userids: set[str]) -> dict[str, str]:
    from storage.directory import Staff

    rows = await Staff.filter(userid__in=userids).values_list("userid", "name")
    return {str(u): str(n) for u, n in rows}


async def staff_name(userid: str) -> str:
    from storage.directory import Staff

    names = await Staff.filter(userid=userid).values_list("name", flat=True)
    return str(names[0]) if names else userid


async def tag_names(tag_ids: list[str]) -> list[str]:
    rows = dict(await CorpTag.filter(tag_id__in=tag_ids).values_list("tag_id", "name"))
    return [str(rows.get(t, t)) for t in tag_ids]


async def mark_tags(
    deps: Deps,
    *,
    userid: str,
    external_userid: str,
    add: list[str],
    remove: list[str],
    by: str,
    feature: str = "facts",
) -> None:
    """Tag through WeCom (API changes raise no callback), then record the change."""
    add, remove = list(dict.fromkeys(add)), [t for t in dict.fromkeys(remove) if t not in add]
    if not add and not remove:
        return
    await deps.wecom.mark_tag(userid, external_userid, add, remove)
    now = deps.now()
    current = await follow_tags(userid, external_userid)
    await set_follow_tags(userid, external_userid, list((current | set(add)) - set(remove)), now)
    mark = uuid.uuid4().hex
    parts = []
    if add:
        parts.append("添加标签 " + "、".join(await tag_names(add)))
    if remove:
        parts.append("移除标签 " + "、".join(await tag_names(remove)))
    await add_timeline(
        deps,
        external_userid=external_userid,
        userid=userid,
        kind="tag",
        text="；".join(parts),
        key=f"tag:{userid}:{external_userid}:{mark}",
        feature=feature,
        detail={"add": add, "remove": remove, "by": by},
        at=now,
    )
    marked = TagsMarked(
        userid=userid,
        external_userid=external_userid,
        at=now,
        add=add,
        remove=remove,
        by="scrmbot",
        actor=by,
    )
    await publish(deps, marked, key=f"scrmbot:{userid}:{external_userid}:{mark}")


async def first_add(external_userid: str) -> FollowEvent | None:
    """The earliest time anyone in the corp added this customer."""
    return (
        await FollowEvent.filter(external_userid=external_userid, kind="add")
        .order_by("at", "id")
        .first()
    )


async def is_new_customer(external_userid: str, before: datetime) -> bool:
    """True when nobody in the corp had added this customer before `before`."""
    return not await FollowEvent.exists(external_userid=external_userid, kind="add", at__lt=before)
