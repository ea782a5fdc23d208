"""The stage engine: moving a relation (append a transition, derive the current stage) and
evaluating the automation rules over the facts of one relation or of all of them.

A move appends `StageTransition` with the next `seq` of the relation and updates
`StageCurrent` in one transaction; two writers racing on one relation collide on the unique
`(journey, relation, seq)` and the loser re-reads and decides again. A rule move is keyed by
(journey, rule, version, relation): the same rule version never moves a relation twice,
however often its events are replayed or the sweep runs.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot.deps import Deps
from bot.domain_events import StageMoved, publish
from handlers.facts import add_timeline
from storage.facts import FollowRelation, FollowTag, GroupMember, TimelineEntry
from storage.stages import (
    Journey,
    MoveBy,
    Stage,
    StageCurrent,
    StagePoints,
    StageRadarView,
    StageRule,
    StageTagMark,
    StageTransition,
)

log = logging.getLogger(__name__)
MOVE_ATTEMPTS = 5
BY_TEXT = {MoveBy.RULE: "规则", MoveBy.STAFF: "员工", MoveBy.BATCH: "批量设置"}


@dataclass
class RelationFacts:
    """What the rules look at for one follow relation."""

    userid: str
    external_userid: str
    state: str
    added_at: datetime
    tags: set[str] = field(default_factory=set)  # tags set through scrmbot, still on it
    groups: set[str] = field(default_factory=set)  # chats the customer is in now
    radars: set[int] = field(default_factory=set)  # radars the customer opened
    points: int = 0  # the customer's points balance

    @property
    def key(self) -> tuple[str, str]:
        return (self.userid, self.external_userid)


@dataclass(frozen=True)
class Test:
    """A condition compiled once per sweep: a quick yes/no over a relation's facts (the
    facts that satisfied it are spelled out by `check` only for the rule that moves)."""

    kind: str
    values: frozenset[str] = frozenset()
    ints: frozenset[int] = frozenset()
    every: bool = False
    number: int = 0

    @classmethod
    def of(cls, cond: dict[str, Any]) -> Test:
        kind = str(cond.get("type", ""))
        if kind == "tags":
            wanted = frozenset(_as_strs(cond.get("tag_ids")))
            return cls(kind, values=wanted, every=cond.get("match") == "all")
        if kind in ("state", "group"):
            key = "states" if kind == "state" else "chat_ids"
            return cls(kind, values=frozenset(_as_strs(cond.get(key))))
        if kind == "radar":
            ids = frozenset(int(r) for r in _as_strs(cond.get("radar_ids")) if r.isdigit())
            return cls(kind, ints=ids)
        if kind in ("points", "days_added"):
            return cls(kind, number=int(str(cond.get("min" if kind == "points" else "days", 0))))
        return cls("unknown")

    def holds(self, rel: RelationFacts, now: datetime) -> bool:
        kind = self.kind
        if kind == "tags":
            if self.every:
                return bool(self.values) and self.values <= rel.tags
            return not self.values.isdisjoint(rel.tags)
        if kind == "state":
            return rel.state in self.values
        if kind == "group":
            return bool(rel.groups) and (not self.values or not self.values.isdisjoint(rel.groups))
        if kind == "radar":
            return bool(rel.radars) and (not self.ints or not self.ints.isdisjoint(rel.radars))
        if kind == "points":
            return rel.points >= self.number
        if kind == "days_added":
            return rel.added_at <= now - timedelta(days=self.number)
        return False


@dataclass(frozen=True)
class JourneyPlan:
    """A journey with its live stages and enabled rules, ready for evaluation."""

    journey: Journey
    stages: dict[int, Stage]  # id -> stage (not deleted)
    rules: list[StageRule]  # enabled, on live stages, furthest stage first
    tests: dict[int, tuple[Test, ...]] = field(default_factory=dict)  # id(rule) -> its tests

    def tests_of(self, rule: StageRule) -> tuple[Test, ...]:
        found = self.tests.get(id(rule))
        if found is None:
            found = self.tests[id(rule)] = tuple(Test.of(dict(c)) for c in rule.conditions)
        return found

    def position(self, stage_id: int | None) -> int:
        if stage_id is None or stage_id not in self.stages:
            return -1
        return self.stages[stage_id].position

    def is_member(self, userid: str) -> bool:
        members = self.journey.members or []
        return not members or userid in members


@dataclass(frozen=True)
class Decision:
    rule: StageRule
    stage: Stage
    facts: dict[str, Any]


async def load_plan(journey: Journey, extra_rule: StageRule | None = None) -> JourneyPlan:
    stages = {
        s.id: s
        for s in await Stage.filter(journey_id=journey.id, deleted=False).order_by("position")
    }
    rules = [
        r
        for r in await StageRule.filter(journey_id=journey.id, deleted=False, enabled=True)
        if r.stage_id in stages and (extra_rule is None or r.id != extra_rule.id)
    ]
    if extra_rule is not None and extra_rule.stage_id in stages:
        rules.append(extra_rule)
    rules.sort(key=lambda r: (-stages[r.stage_id].position, r.id or 0))
    return JourneyPlan(journey, stages, rules)


async def automated_plans() -> list[JourneyPlan]:
    journeys = await Journey.filter(deleted=False, automation=True).order_by("position", "id")
    plans = [await load_plan(j) for j in journeys]
    return [p for p in plans if p.rules]


# --- conditions ----------------------------------------------------------------------------


def _as_strs(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def check(cond: dict[str, Any], rel: RelationFacts, now: datetime) -> dict[str, Any] | None:
    """The facts that satisfy `cond` for `rel`, or None when it does not hold."""
    kind = cond.get("type")
    if kind == "tags":
        wanted = _as_strs(cond.get("tag_ids"))
        have = [t for t in wanted if t in rel.tags]
        ok = bool(have) and (len(have) == len(wanted) if cond.get("match") == "all" else True)
        return {"type": "tags", "tag_ids": have} if ok else None
    if kind == "state":
        return (
            {"type": "state", "state": rel.state}
            if rel.state in _as_strs(cond.get("states"))
            else None
        )
    if kind == "group":
        chats = _as_strs(cond.get("chat_ids"))
        inside = sorted(rel.groups & set(chats)) if chats else sorted(rel.groups)
        return {"type": "group", "chat_ids": inside[:5]} if inside else None
    if kind == "radar":
        wanted_ids = {int(r) for r in _as_strs(cond.get("radar_ids")) if r.isdigit()}
        seen = sorted(rel.radars & wanted_ids) if wanted_ids else sorted(rel.radars)
        return {"type": "radar", "radar_ids": seen[:5]} if seen else None
    if kind == "points":
        least = int(str(cond.get("min", 0)))
        return (
            {"type": "points", "min": least, "balance": rel.points} if rel.points >= least else None
        )
    if kind == "days_added":
        days = int(str(cond.get("days", 0)))
        if rel.added_at.astimezone(UTC) <= now - timedelta(days=days):
            return {"type": "days_added", "days": days, "added_at": rel.added_at.isoformat()}
        return None
    return None  # an unknown condition never holds


def matches(rule: StageRule, rel: RelationFacts, now: datetime) -> list[dict[str, Any]] | None:
    if not rule.conditions:
        return None
    found = []
    for cond in rule.conditions:
        got = check(dict(cond), rel, now)
        if got is None:
            return None
        found.append(got)
    return found


def decide(
    plan: JourneyPlan,
    rel: RelationFacts,
    current: int | None,
    now: datetime,
    skip: frozenset[int] = frozenset(),
) -> Decision | None:
    """The furthest stage ahead of `current` whose rule matches (forward only)."""
    here = plan.position(current)
    for rule in plan.rules:
        stage = plan.stages[rule.stage_id]
        if stage.position <= here:
            return None  # rules are furthest first: nothing ahead matches
        if rule.id in skip:
            continue
        tests = plan.tests_of(rule)
        if not tests or not all(t.holds(rel, now) for t in tests):
            continue
        found = matches(rule, rel, now)
        if found is not None:
            return Decision(rule, stage, {"rule": rule.name, "conditions": found})
    return None


# --- facts ---------------------------------------------------------------------------------


async def load_facts(
    external_userids: Iterable[str] | None = None, userid: str | None = None
) -> list[RelationFacts]:
    """Active relations with what rules look at: of the given customers, or all (None)."""
    query = FollowRelation.filter(active=True)
    tags_q = StageTagMark.all()
    follow_q = FollowTag.all()
    groups_q = GroupMember.filter(member_type=2)
    radar_q = StageRadarView.all()
    points_q = StagePoints.all()
    if external_userids is not None:
        exts = sorted(set(external_userids))
        query = query.filter(external_userid__in=exts)
        tags_q = tags_q.filter(external_userid__in=exts)
        follow_q = follow_q.filter(external_userid__in=exts)
        groups_q = groups_q.filter(member_id__in=exts)
        radar_q = radar_q.filter(external_userid__in=exts)
        points_q = points_q.filter(external_userid__in=exts)
    if userid is not None:
        query = query.filter(userid=userid)
        tags_q = tags_q.filter(userid=userid)
        follow_q = follow_q.filter(userid=userid)
    rows = await query.values_list("userid", "external_userid", "state", "added_at")
    rels = {(u, e): RelationFacts(u, e, s or "", a) for u, e, s, a in rows}
    on_relation = set(await follow_q.values_list("userid", "external_userid", "tag_id"))
    for u, e, tag in await tags_q.values_list("userid", "external_userid", "tag_id"):
        rel = rels.get((u, e))
        if rel is not None and (u, e, tag) in on_relation:
            rel.tags.add(tag)
    by_customer: dict[str, list[RelationFacts]] = defaultdict(list)
    for rel in rels.values():
        by_customer[rel.external_userid].append(rel)
    for chat_id, member in await groups_q.values_list("chat_id", "member_id"):
        for rel in by_customer.get(member, []):
            rel.groups.add(chat_id)
    for ext, radar_id in await radar_q.values_list("external_userid", "radar_id"):
        for rel in by_customer.get(ext, []):
            rel.radars.add(int(radar_id))
    for ext, balance in await points_q.values_list("external_userid", "balance"):
        for rel in by_customer.get(ext, []):
            rel.points = int(balance)
    return list(rels.values())


async def current_stages(
    journey_id: int, rels: list[RelationFacts] | None = None
) -> dict[tuple[str, str], int | None]:
    query = StageCurrent.filter(journey_id=journey_id)
    if rels is not None:
        if not rels:
            return {}
        query = query.filter(external_userid__in=sorted({r.external_userid for r in rels}))
    rows = await query.values_list("userid", "external_userid", "stage_id")
    return {(u, e): s for u, e, s in rows}


# --- moving --------------------------------------------------------------------------------


def rule_key(journey_id: int, rule: StageRule, userid: str, ext: str) -> str:
    return f"rule:{journey_id}:{rule.id}:v{rule.version}:{userid}:{ext}"


async def move(
    deps: Deps,
    *,
    journey_id: int,
    userid: str,
    external_userid: str,
    to_stage_id: int | None,
    by: MoveBy,
    key: str,
    created_by: str = "",
    reason: str = "",
    facts: dict[str, Any] | None = None,
    rule: StageRule | None = None,
    allowed: Callable[[int | None], bool] = lambda current: True,
    at: datetime | None = None,
    labels: Labels | None = None,
) -> StageTransition | None:
    """Append one move unless the relation is already there, `allowed(current)` refuses it
    (decided again on the freshest current stage), or `key` was used (a replay). `at` is for
    seeding a past history (the demo), later than the relation's last move."""
    labels = labels or await Labels.of(journey_id)
    for _ in range(MOVE_ATTEMPTS):
        cur = await StageCurrent.get_or_none(
            journey_id=journey_id, userid=userid, external_userid=external_userid
        )
        here = cur.stage_id if cur else None
        if here == to_stage_id or not allowed(here):  # already there (the pool: no row)
            return None
        now = at or deps.now()
        try:
            async with in_transaction():
                row = await StageTransition.create(
                    key=key[:191],
                    journey_id=journey_id,
                    userid=userid,
                    external_userid=external_userid,
                    seq=(cur.seq if cur else 0) + 1,
                    from_stage_id=here,
                    to_stage_id=to_stage_id,
                    by=by.value,
                    created_by=created_by,
                    rule_id=rule.id if rule else None,
                    rule_version=rule.version if rule else None,
                    reason=reason[:256],
                    facts=facts or {},
                    at=now,
                )
                if cur is None:
                    await StageCurrent.create(
                        journey_id=journey_id,
                        userid=userid,
                        external_userid=external_userid,
                        stage_id=to_stage_id,
                        seq=row.seq,
                        transition_id=row.id,
                        entered_at=now,
                    )
                else:
                    done = await StageCurrent.filter(id=cur.id, seq=cur.seq).update(
                        stage_id=to_stage_id, seq=row.seq, transition_id=row.id, entered_at=now
                    )
                    if not done:
                        raise IntegrityError("stage_current moved meanwhile")
                await TimelineEntry.create(**timeline_values(row, labels))
        except IntegrityError:
            if await StageTransition.exists(key=key[:191]):
                return None  # this very move happened already
            continue  # someone else moved the relation: decide again
        await publish(deps, moved_event(row), key=row.key)
        return row
    log.warning("stages: gave up moving %s/%s in journey %s", userid, external_userid, journey_id)
    return None


@dataclass(frozen=True)
class Labels:
    """The names a 客户动态 entry shows: the journey's and its stages' (deleted ones too)."""

    journey: str
    stages: dict[int, str]

    @classmethod
    async def of(cls, journey_id: int) -> Labels:
        journey = await Journey.get_or_none(id=journey_id)
        rows = await Stage.filter(journey_id=journey_id).values_list("id", "name")
        return cls(journey.name if journey else "", {int(i): str(n) for i, n in rows})


def timeline_values(row: StageTransition, labels: Labels) -> dict[str, Any]:
    text = "客户阶段（{}）：{} → {}（{}{}）".format(
        labels.journey,
        labels.stages.get(row.from_stage_id or 0, "未设置阶段"),
        labels.stages.get(row.to_stage_id or 0, "未设置阶段"),
        BY_TEXT.get(MoveBy(row.by), row.by),
        f"：{row.reason}" if row.reason else "",
    )
    return {
        "key": f"stage:{row.id}",
        "external_userid": row.external_userid,
        "userid": row.userid,
        "kind": "stage",
        "feature": "stages",
        "text": text[:512],
        "detail": {"journey_id": row.journey_id, "to": row.to_stage_id, "by": row.by},
        "at": row.at,
    }


def moved_event(row: StageTransition) -> StageMoved:
    return StageMoved(
        userid=row.userid,
        external_userid=row.external_userid,
        at=row.at,
        journey_id=row.journey_id,
        from_stage_id=row.from_stage_id,
        to_stage_id=row.to_stage_id,
        by=row.by,
        transition_id=row.id,
    )


async def announce(deps: Deps, row: StageTransition, labels: Labels | None = None) -> None:
    """The StageMoved event and the 客户动态 entry of a move (written with the move; this is
    for a process that stopped before publishing): both keyed, so safe to repeat."""
    await publish(deps, moved_event(row), key=row.key)
    values = timeline_values(row, labels or await Labels.of(row.journey_id))
    await add_timeline(
        deps, **{k: v for k, v in values.items() if k != "detail"}, detail=values["detail"]
    )


def _ahead_of(plan: JourneyPlan, position: int) -> Callable[[int | None], bool]:
    """A rule move is allowed only while the relation is still behind its stage."""
    return lambda current: plan.position(current) < position


async def apply_rules(
    deps: Deps, plan: JourneyPlan, rels: list[RelationFacts], trigger: str, everyone: bool = False
) -> list[StageTransition]:
    """Evaluate the plan's rules on these relations (`everyone`: they are all of them) and
    make the moves they decide."""
    if not plan.journey.automation:
        return []
    now = deps.now()
    current = await current_stages(plan.journey.id, None if everyone else rels)
    labels = await Labels.of(plan.journey.id)
    moved = []
    for rel in rels:
        if not plan.is_member(rel.userid):
            continue
        used: set[int] = set()
        here = current.get(rel.key)
        while (decision := decide(plan, rel, here, now, frozenset(used))) is not None:
            rule, stage = decision.rule, decision.stage
            row = await move(
                deps,
                journey_id=plan.journey.id,
                userid=rel.userid,
                external_userid=rel.external_userid,
                to_stage_id=stage.id,
                by=MoveBy.RULE,
                key=rule_key(plan.journey.id, rule, rel.userid, rel.external_userid),
                rule=rule,
                reason=f"满足规则「{rule.name or stage.name}」",
                facts={**decision.facts, "trigger": trigger},
                allowed=_ahead_of(plan, stage.position),
                labels=labels,
            )
            if row is not None:
                moved.append(row)
                break
            # Not moved: this rule version already moved it once (a replay, or a staff member
            # moved it back since), or it is already as far. Try the next rule behind it.
            used.add(rule.id)
            fresh = await StageCurrent.get_or_none(
                journey_id=plan.journey.id, userid=rel.userid, external_userid=rel.external_userid
            )
            here = fresh.stage_id if fresh else None
    return moved


async def evaluate_customers(
    deps: Deps,
    external_userids: list[str],
    trigger: str,
    userid: str | None = None,
    pairs: Collection[tuple[str, str]] | None = None,
) -> list[StageTransition]:
    """Run every automated journey's rules on these customers' relations (events): those
    with `userid`, or only the (userid, external_userid) `pairs` when given."""
    plans = await automated_plans()
    if not plans:
        return []
    rels = await load_facts(external_userids, userid)
    if pairs is not None:
        rels = [r for r in rels if r.key in pairs]
    moved = []
    for plan in plans:
        moved += await apply_rules(deps, plan, rels, trigger)
    return moved


async def rebuild_current(journey_id: int) -> dict[tuple[str, str], tuple[int | None, int]]:
    """The current stage of each relation as the transitions say: (stage, transition id)."""
    latest: dict[tuple[str, str], tuple[int, int | None, int]] = {}
    rows = await StageTransition.filter(journey_id=journey_id).values_list(
        "userid", "external_userid", "seq", "to_stage_id", "id"
    )
    for u, e, seq, to, tid in rows:
        if (u, e) not in latest or latest[(u, e)][0] < seq:
            latest[(u, e)] = (seq, to, tid)
    return {k: (v[1], v[2]) for k, v in latest.items()}
