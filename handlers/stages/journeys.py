"""Console API for journeys: create, edit (stages, rules, reminders), order, delete, and the
dry run of a rule. Admins manage every journey; a department admin the journeys whose member
staff are all in their departments."""

from __future__ import annotations

from typing import Any, Literal

import pydantic
from aiohttp import web

from bot.auth import scope_userids
from bot.auth_types import Principal, Role
from bot.http import ApiError, RequestContext, json_ok, path_id, read_json
from handlers.stages.engine import current_stages, decide, load_facts, load_plan
from handlers.stages.router import router
from handlers.stages.sweep import SILENT_DISABLED, apply_soon
from storage.facts import Customer
from storage.sql import fetch, placeholders
from storage.stages import (
    MAX_CONDITIONS,
    MAX_REMINDERS,
    MAX_RULES,
    MAX_STAGES,
    Journey,
    Stage,
    StageCurrent,
    StageReminder,
    StageRule,
)

DRY_RUN_LIST = 200


class _In(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(str_strip_whitespace=True, extra="forbid")


class StageIn(_In):
    id: int | None = pydantic.Field(None, title="阶段")
    name: str = pydantic.Field(min_length=1, max_length=32, title="阶段名称")
    description: str = pydantic.Field("", max_length=256, title="阶段描述")


class JourneyIn(_In):
    name: str = pydantic.Field(min_length=1, max_length=64, title="旅程名称")
    description: str = pydantic.Field("", max_length=512, title="旅程描述")
    members: list[str] = pydantic.Field(default_factory=list, max_length=5000, title="使用成员")
    automation: bool = pydantic.Field(True, title="阶段自动化")
    reminders: bool = pydantic.Field(True, title="阶段提醒")
    stages: list[StageIn] = pydantic.Field(min_length=1, max_length=MAX_STAGES, title="客户阶段")


class ConditionIn(_In):
    type: Literal["tags", "state", "group", "radar", "days_added"] = pydantic.Field(
        title="条件类型"
    )
    match: Literal["any", "all"] = pydantic.Field("any", title="标签匹配方式")
    tag_ids: list[str] = pydantic.Field(default_factory=list, max_length=50, title="客户标签")
    states: list[str] = pydantic.Field(default_factory=list, max_length=50, title="添加渠道")
    chat_ids: list[str] = pydantic.Field(default_factory=list, max_length=50, title="客户群")
    radar_ids: list[int] = pydantic.Field(default_factory=list, max_length=50, title="雷达")
    days: int = pydantic.Field(0, ge=0, le=3650, title="添加天数")
    min: int = pydantic.Field(0, ge=0, le=100_000_000, title="积分不少于")

    @pydantic.model_validator(mode="after")
    def _complete(self) -> ConditionIn:
        if self.type == "tags" and not self.tag_ids:
            raise ValueError("请选择客户标签")
        if self.type == "state" and not self.states:
            raise ValueError("请填写添加渠道")
        return self

    def stored(self) -> dict[str, Any]:
        kept = {
            "tags": ("match", "tag_ids"),
            "state": ("states",),
            "group": ("chat_ids",),
            "radar": ("radar_ids",),
            "points": ("min",),
            "days_added": ("days",),
        }[self.type]
        return {"type": self.type} | {k: getattr(self, k) for k in kept}


class RuleIn(_In):
    id: int | None = pydantic.Field(None, title="规则")
    name: str = pydantic.Field("", max_length=64, title="规则名称")
    enabled: bool = pydantic.Field(False, title="启用")
    conditions: list[ConditionIn] = pydantic.Field(
        min_length=1, max_length=MAX_CONDITIONS, title="条件"
    )


class RulesIn(_In):
    rules: list[RuleIn] = pydantic.Field(max_length=MAX_RULES, title="规则")


class ReminderIn(_In):
    id: int | None = pydantic.Field(None, title="提醒")
    kind: Literal["stay", "silent"] = pydantic.Field(title="提醒类型")
    days: int = pydantic.Field(ge=1, le=365, title="天数")
    to_owner: bool = pydantic.Field(True, title="提醒跟进员工")
    to_admins: bool = pydantic.Field(False, title="提醒管理员")
    enabled: bool = pydantic.Field(True, title="启用")


class RemindersIn(_In):
    reminders: list[ReminderIn] = pydantic.Field(max_length=MAX_REMINDERS, title="提醒规则")


class OrderIn(_In):
    ids: list[int] = pydantic.Field(max_length=500, title="旅程顺序")


class DryRunIn(_In):
    stage_id: int = pydantic.Field(title="阶段")
    rule_id: int | None = pydantic.Field(None, title="规则")
    conditions: list[ConditionIn] = pydantic.Field(
        min_length=1, max_length=MAX_CONDITIONS, title="条件"
    )


def _user(ctx: RequestContext) -> Principal:
    assert ctx.user is not None
    return ctx.user


async def may_manage(user: Principal, journey: Journey) -> bool:
    scope = await scope_userids(user)
    if scope is None:
        return True
    return bool(journey.members) and set(journey.members) <= scope


async def managed(ctx: RequestContext, journey_id: int, read: bool = False) -> Journey:
    """The journey this person may edit (`read`: may read, its data scoped to them)."""
    journey = await Journey.get_or_none(id=journey_id, deleted=False)
    if journey is None:
        raise ApiError(404, "找不到该客户旅程")
    if not read and not await may_manage(_user(ctx), journey):
        raise ApiError(403, "只能管理本部门成员使用的客户旅程")
    return journey


async def journey_json(journey: Journey) -> dict[str, Any]:
    stages = await Stage.filter(journey_id=journey.id, deleted=False).order_by("position")
    rules = await StageRule.filter(journey_id=journey.id, deleted=False).order_by("id")
    reminders = await StageReminder.filter(journey_id=journey.id, deleted=False).order_by("id")
    counts: dict[int | None, int] = {}
    for stage_id, n in await fetch(
        "SELECT c.stage_id, COUNT(*) FROM stage_current c JOIN follow_relation r"
        " ON r.userid = c.userid AND r.external_userid = c.external_userid AND r.active = ?"
        " WHERE c.journey_id = ? GROUP BY c.stage_id",
        [True, journey.id],
    ):
        counts[stage_id] = int(n)  # relations still followed (an ended one leaves the count)
    return {
        "id": journey.id,
        "name": journey.name,
        "description": journey.description,
        "position": journey.position,
        "members": journey.members,
        "automation": journey.automation,
        "reminders": journey.reminders,
        "stages": [
            {
                "id": s.id,
                "name": s.name,
                "description": s.description,
                "position": s.position,
                "count": counts.get(s.id, 0),
                "rules": [
                    {
                        "id": r.id,
                        "name": r.name,
                        "enabled": r.enabled,
                        "version": r.version,
                        "conditions": r.conditions,
                    }
                    for r in rules
                    if r.stage_id == s.id
                ],
                "reminders": [
                    {
                        "id": m.id,
                        "kind": m.kind,
                        "days": m.days,
                        "to_owner": m.to_owner,
                        "to_admins": m.to_admins,
                        "enabled": m.enabled,
                    }
                    for m in reminders
                    if m.stage_id == s.id
                ],
            }
            for s in stages
        ],
        "unset": await unset_count(journey),
    }


async def unset_count(journey: Journey) -> int:
    """Active relations of the journey's members in no stage (the 未设置阶段 pool)."""
    sql = (
        "SELECT COUNT(*) FROM follow_relation r WHERE r.active = ? AND NOT EXISTS ("
        "SELECT 1 FROM stage_current c WHERE c.journey_id = ? AND c.userid = r.userid"
        " AND c.external_userid = r.external_userid AND c.stage_id IS NOT NULL)"
    )
    params: list[Any] = [True, journey.id]
    if journey.members:
        sql += f" AND r.userid IN ({placeholders(len(journey.members))})"
        params += list(journey.members)
    rows = await fetch(sql, params)
    return int(rows[0][0]) if rows else 0


@router.get("/api/stages/journeys", role=Role.STAFF)
async def list_journeys(ctx: RequestContext) -> web.StreamResponse:
    """Every journey in order (staff see them to read their customers' stages); `manage`
    says whether this person may edit it."""
    user = _user(ctx)
    out = []
    for journey in await Journey.filter(deleted=False).order_by("position", "id"):
        item = await journey_json(journey)
        item["manage"] = user.role >= Role.DEPT_ADMIN and await may_manage(user, journey)
        out.append(item)
    return json_ok(
        {
            "journeys": out,
            "may_order": user.role >= Role.ADMIN,
            "silent_disabled": SILENT_DISABLED,
            "limits": {
                "stages": MAX_STAGES,
                "rules": MAX_RULES,
                "conditions": MAX_CONDITIONS,
                "reminders": MAX_REMINDERS,
            },
        }
    )


async def _check_members(user: Principal, members: list[str]) -> None:
    scope = await scope_userids(user)
    if scope is None:
        return
    if not members:
        raise ApiError(400, "部门管理员创建的旅程须选择本部门的使用成员", "members")
    outside = sorted(set(members) - scope)
    if outside:
        raise ApiError(400, f"使用成员不在你管理的部门内：{'、'.join(outside[:5])}", "members")


async def _save_stages(journey: Journey, wanted: list[StageIn]) -> None:
    existing = {s.id: s for s in await Stage.filter(journey_id=journey.id, deleted=False)}
    names = [s.name for s in wanted]
    if len(set(names)) != len(names):
        raise ApiError(400, "阶段名称不能重复", "stages")
    keep = {s.id for s in wanted if s.id is not None}
    for stage_id in keep:
        if stage_id not in existing:
            raise ApiError(400, "阶段不存在或已删除，请刷新后重试", "stages")
    for stage_id, stage in existing.items():
        if stage_id in keep:
            continue
        inside = await StageCurrent.filter(journey_id=journey.id, stage_id=stage_id).count()
        if inside:
            raise ApiError(
                400,
                f"阶段「{stage.name}」还有 {inside} 位客户，请先将他们移到其他阶段再删除",
                "stages",
            )
        await Stage.filter(id=stage_id).update(deleted=True)
        await StageRule.filter(stage_id=stage_id).update(deleted=True, enabled=False)
        await StageReminder.filter(stage_id=stage_id).update(deleted=True)
    for position, item in enumerate(wanted):
        if item.id is None:
            await Stage.create(
                journey_id=journey.id,
                position=position,
                name=item.name,
                description=item.description,
            )
        else:
            await Stage.filter(id=item.id).update(
                position=position, name=item.name, description=item.description
            )


@router.post("/api/stages/journeys", role=Role.DEPT_ADMIN)
async def create_journey(ctx: RequestContext) -> web.StreamResponse:
    body = await read_json(ctx.request, JourneyIn)
    user = _user(ctx)
    await _check_members(user, body.members)
    now = ctx.deps.now()
    last = await Journey.filter(deleted=False).order_by("-position").first()
    journey = await Journey.create(
        name=body.name,
        description=body.description,
        members=list(dict.fromkeys(body.members)),
        automation=body.automation,
        reminders=body.reminders,
        position=(last.position + 1) if last else 0,
        created_by=user.userid,
        created_at=now,
        updated_at=now,
    )
    await _save_stages(
        journey, [StageIn(name=s.name, description=s.description) for s in body.stages]
    )
    return json_ok(await journey_json(journey), status=201)


@router.post("/api/stages/journeys/{id}", role=Role.DEPT_ADMIN)
async def update_journey(ctx: RequestContext) -> web.StreamResponse:
    journey = await managed(ctx, path_id(ctx.request, missing="找不到该客户旅程"))
    body = await read_json(ctx.request, JourneyIn)
    await _check_members(_user(ctx), body.members)
    await _save_stages(journey, body.stages)
    journey.name = body.name
    journey.description = body.description
    journey.members = list(dict.fromkeys(body.members))
    journey.automation = body.automation
    journey.reminders = body.reminders
    journey.updated_at = ctx.deps.now()
    await journey.save()
    if journey.automation:
        await apply_soon(ctx.deps, journey.id)
    return json_ok(await journey_json(journey))


@router.post("/api/stages/journeys/{id}/delete", role=Role.DEPT_ADMIN)
async def delete_journey(ctx: RequestContext) -> web.StreamResponse:
    journey = await managed(ctx, path_id(ctx.request, missing="找不到该客户旅程"))
    await Journey.filter(id=journey.id).update(deleted=True, updated_at=ctx.deps.now())
    return json_ok({"deleted": journey.id})


@router.post("/api/stages/order", role=Role.ADMIN)
async def order_journeys(ctx: RequestContext) -> web.StreamResponse:
    body = await read_json(ctx.request, OrderIn)
    for position, journey_id in enumerate(body.ids):
        await Journey.filter(id=journey_id).update(position=position)
    return json_ok({"ids": body.ids})


async def _stage_of(ctx: RequestContext) -> tuple[Journey, Stage]:
    stage = await Stage.get_or_none(id=path_id(ctx.request, missing="找不到该阶段"), deleted=False)
    if stage is None:
        raise ApiError(404, "找不到该阶段")
    return await managed(ctx, stage.journey_id), stage


@router.post("/api/stages/stages/{id}/rules", role=Role.DEPT_ADMIN)
async def save_rules(ctx: RequestContext) -> web.StreamResponse:
    """A stage's rules as a whole; an edited rule gets a new version, so it may move a
    relation that an earlier version of it already moved."""
    journey, stage = await _stage_of(ctx)
    body = await read_json(ctx.request, RulesIn)
    existing = {r.id: r for r in await StageRule.filter(stage_id=stage.id, deleted=False)}
    keep = {r.id for r in body.rules if r.id is not None}
    if keep - set(existing):
        raise ApiError(400, "规则不存在或已删除，请刷新后重试", "rules")
    await StageRule.filter(stage_id=stage.id, deleted=False, id__not_in=sorted(keep)).update(
        deleted=True, enabled=False
    )
    for item in body.rules:
        conditions = [c.stored() for c in item.conditions]
        if item.id is None:
            await StageRule.create(
                journey_id=journey.id,
                stage_id=stage.id,
                name=item.name,
                conditions=conditions,
                enabled=item.enabled,
            )
            continue
        rule = existing[item.id]
        version = rule.version + (1 if rule.conditions != conditions else 0)
        await StageRule.filter(id=rule.id).update(
            name=item.name, conditions=conditions, enabled=item.enabled, version=version
        )
    if any(r.enabled for r in body.rules):
        await apply_soon(ctx.deps, journey.id)
    return json_ok(await journey_json(journey))


@router.post("/api/stages/stages/{id}/reminders", role=Role.DEPT_ADMIN)
async def save_reminders(ctx: RequestContext) -> web.StreamResponse:
    journey, stage = await _stage_of(ctx)
    body = await read_json(ctx.request, RemindersIn)
    for i, item in enumerate(body.reminders):
        if item.kind == "silent" and item.enabled:
            raise ApiError(400, SILENT_DISABLED, f"reminders.{i}.kind")
    existing = {m.id for m in await StageReminder.filter(stage_id=stage.id, deleted=False)}
    keep = {m.id for m in body.reminders if m.id is not None}
    if keep - existing:
        raise ApiError(400, "提醒规则不存在或已删除，请刷新后重试", "reminders")
    await StageReminder.filter(stage_id=stage.id, deleted=False, id__not_in=sorted(keep)).update(
        deleted=True
    )
    for item in body.reminders:
        values = item.model_dump(exclude={"id"})
        if item.id is None:
            await StageReminder.create(journey_id=journey.id, stage_id=stage.id, **values)
        else:
            await StageReminder.filter(id=item.id).update(**values)
    return json_ok(await journey_json(journey))


@router.post("/api/stages/journeys/{id}/dry-run", role=Role.DEPT_ADMIN)
async def dry_run(ctx: RequestContext) -> web.StreamResponse:
    """How many relations this rule would move now (with the journey's enabled rules beside
    it: a relation a further rule takes is not counted), and which; nothing is moved."""
    journey = await managed(ctx, path_id(ctx.request, missing="找不到该客户旅程"))
    body = await read_json(ctx.request, DryRunIn)
    stage = await Stage.get_or_none(id=body.stage_id, journey_id=journey.id, deleted=False)
    if stage is None:
        raise ApiError(400, "阶段不存在或已删除", "stage_id")
    probe = StageRule(
        id=body.rule_id or 0,
        journey_id=journey.id,
        stage_id=stage.id,
        name="试运行",
        conditions=[c.stored() for c in body.conditions],
        enabled=True,
        version=0,
    )
    plan = await load_plan(journey, extra_rule=probe)
    rels = [r for r in await load_facts() if plan.is_member(r.userid)]
    current = await current_stages(journey.id)
    now = ctx.deps.now()
    hits = []
    for rel in rels:
        decision = decide(plan, rel, current.get(rel.key), now)
        if decision is not None and decision.rule is probe:
            hits.append((rel, current.get(rel.key)))
    names = dict(
        await Customer.filter(
            external_userid__in=sorted({r.external_userid for r, _ in hits[:DRY_RUN_LIST]})
        ).values_list("external_userid", "name")
    )
    stage_names = {s.id: s.name for s in plan.stages.values()}
    items = [
        {
            "userid": rel.userid,
            "external_userid": rel.external_userid,
            "name": names.get(rel.external_userid, "") or rel.external_userid,
            "from": stage_names.get(cur, "未设置阶段") if cur else "未设置阶段",
        }
        for rel, cur in hits[:DRY_RUN_LIST]
    ]
    return json_ok({"count": len(hits), "items": items, "stage": stage.name})
