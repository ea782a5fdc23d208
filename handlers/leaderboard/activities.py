"""Activity life cycle: input models, the editing rules per state, participants and teams."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationInfo, field_validator
from redis.asyncio import Redis

from bot.http import ApiError
from handlers.facts import department_tree
from handlers.leaderboard.counting import counts_key, rebuild_teams, refresh_participant, zkey
from storage.directory import Staff
from storage.leaderboard import (
    Activity,
    ActivityDepartment,
    ActivityState,
    Metric,
    Participant,
    Team,
)

_INACTIVE = (2, 5)  # disabled, left
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")

FIELD_LABELS = {
    "name": "活动名称",
    "description": "活动说明",
    "start_at": "开始时间",
    "end_at": "结束时间",
    "metric": "排行指标",
    "dedup": "去重",
    "chat_ids": "活动群聊",
    "top_n": "上榜名次",
    "userids": "参与成员",
    "department_ids": "参与部门",
    "teams": "团队",
    "remind_start_end": "活动开始/结束提醒",
    "remind_daily": "每日播报",
    "daily_time": "每日播报时间",
    "remind_about_to_rank": "即将上榜提醒",
    "about_to_rank_distance": "即将上榜名次差",
    "remind_on_off_list": "上榜/落榜提醒",
    "damping_minutes": "提醒间隔",
}
REMINDER_FIELDS = {
    "remind_start_end",
    "remind_daily",
    "daily_time",
    "remind_about_to_rank",
    "about_to_rank_distance",
    "remind_on_off_list",
    "damping_minutes",
}
RUNNING_EDITABLE = {"end_at", "top_n", "description"} | REMINDER_FIELDS
SIMPLE_FIELDS = set(FIELD_LABELS) - {"userids", "department_ids", "teams"}


class TeamIn(BaseModel):
    name: str = Field(min_length=1, max_length=64, title="团队名称")
    department_id: int | None = Field(default=None, title="团队部门")
    userids: list[str] = Field(default_factory=list, max_length=10_000, title="团队成员")


class ActivityPatch(BaseModel):
    """Every field optional: an update sends only what changes; a create fills the rest."""

    name: str | None = Field(default=None, min_length=1, max_length=64, title=FIELD_LABELS["name"])
    description: str | None = Field(
        default=None, max_length=2000, title=FIELD_LABELS["description"]
    )
    start_at: datetime | None = Field(default=None, title=FIELD_LABELS["start_at"])
    end_at: datetime | None = Field(default=None, title=FIELD_LABELS["end_at"])
    metric: Metric | None = Field(default=None, title=FIELD_LABELS["metric"])
    dedup: bool | None = Field(default=None, title=FIELD_LABELS["dedup"])
    chat_ids: list[str] | None = Field(default=None, max_length=200, title=FIELD_LABELS["chat_ids"])
    top_n: int | None = Field(default=None, ge=1, le=1000, title=FIELD_LABELS["top_n"])
    userids: list[str] | None = Field(
        default=None, max_length=20_000, title=FIELD_LABELS["userids"]
    )
    department_ids: list[int] | None = Field(
        default=None, max_length=500, title=FIELD_LABELS["department_ids"]
    )
    teams: list[TeamIn] | None = Field(default=None, max_length=100, title=FIELD_LABELS["teams"])
    remind_start_end: bool | None = Field(default=None, title=FIELD_LABELS["remind_start_end"])
    remind_daily: bool | None = Field(default=None, title=FIELD_LABELS["remind_daily"])
    daily_time: str | None = Field(default=None, title=FIELD_LABELS["daily_time"])
    remind_about_to_rank: bool | None = Field(
        default=None, title=FIELD_LABELS["remind_about_to_rank"]
    )
    about_to_rank_distance: int | None = Field(
        default=None, ge=1, le=100, title=FIELD_LABELS["about_to_rank_distance"]
    )
    remind_on_off_list: bool | None = Field(default=None, title=FIELD_LABELS["remind_on_off_list"])
    damping_minutes: int | None = Field(
        default=None, ge=1, le=24 * 60, title=FIELD_LABELS["damping_minutes"]
    )

    @field_validator("daily_time")
    @classmethod
    def _hhmm(cls, value: str | None) -> str | None:
        if value is not None and not _TIME.match(value):
            raise ValueError("每日播报时间格式应为 HH:MM，例如 18:00")
        return value

    @field_validator("start_at", "end_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("时间必须带时区，例如 2024-06-01T09:00:00+08:00")
        return value

    @field_validator("end_at")
    @classmethod
    def _after_start(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        # On the end field (not the whole body) so the form shows it next to 结束时间.
        start = info.data.get("start_at")
        if value is not None and start is not None and value <= start:
            raise ValueError("必须晚于开始时间")
        return value


def state_of(activity: Activity, now: datetime) -> ActivityState:
    if activity.draft or now < activity.start_at:
        return ActivityState.NOT_STARTED
    if now < activity.end_at:
        return ActivityState.RUNNING
    return ActivityState.ENDED


def check_edit(
    activity: Activity, patch: ActivityPatch, now: datetime, lists: dict[str, Any]
) -> None:
    """Refuse a change the activity's state does not allow, naming the field (in Chinese).
    `lists` holds the current userids / department_ids / teams in `list_values` form."""
    state = state_of(activity, now)
    changed = [f for f in patch.model_fields_set if _differs(activity, f, patch, lists)]
    if state is ActivityState.ENDED and changed:
        raise ApiError(409, "活动已结束，不能修改", changed[0])
    if state is ActivityState.RUNNING:
        refused = [f for f in changed if f not in RUNNING_EDITABLE]
        if refused:
            raise ApiError(409, f"活动进行中，不能修改{FIELD_LABELS[refused[0]]}", refused[0])
        if patch.end_at is not None and patch.end_at <= now:
            raise ApiError(400, "结束时间必须晚于当前时间", "end_at")
    start = patch.start_at or activity.start_at
    end = patch.end_at or activity.end_at
    if end <= start:
        raise ApiError(400, "结束时间必须晚于开始时间", "end_at")
    if activity.draft or (state is ActivityState.NOT_STARTED and "end_at" in changed):
        check_not_past(end, now)


def check_not_past(end: datetime, now: datetime) -> None:
    if end <= now:
        raise ApiError(400, "活动时间已全部过去，请把结束时间设在当前时间之后", "end_at")


async def check_has_participants(userids: list[str], department_ids: list[int]) -> None:
    """An activity nobody takes part in would only report 「共 0 人参与」: refused."""
    if userids:
        return
    if not department_ids:
        raise ApiError(400, "请选择参与成员或参与部门", "userids")
    if not await dept_staff(department_ids):
        raise ApiError(
            400, "所选参与部门下没有在职成员，请选择参与成员或其他部门", "department_ids"
        )


def list_values(
    userids: Any, department_ids: Any, teams: list[tuple[str, int | None, list[str]]]
) -> dict[str, Any]:
    """Comparable forms of the list settings (teams as (name, department_id, userids))."""
    return {
        "userids": sorted(set(userids or [])),
        "department_ids": sorted(set(department_ids or [])),
        "teams": sorted((n, -1 if d is None else d, sorted(set(m))) for n, d, m in teams),
    }


def _differs(activity: Activity, name: str, patch: ActivityPatch, lists: dict[str, Any]) -> bool:
    value = getattr(patch, name)
    if name in lists:
        if value is None:
            return False
        if name == "teams":
            value = [(t.name, t.department_id, t.userids) for t in value]
        sent = list_values(
            value if name == "userids" else [],
            value if name == "department_ids" else [],
            value if name == "teams" else [],
        )
        return bool(sent[name] != lists[name])
    if value is None:
        return False
    current = getattr(activity, name)
    if isinstance(value, datetime):
        return bool(current != value)
    return bool(current != (value.value if isinstance(value, Metric) else value))


def apply_fields(activity: Activity, patch: ActivityPatch) -> None:
    for name in patch.model_fields_set & SIMPLE_FIELDS:
        value = getattr(patch, name)
        if value is not None:
            setattr(activity, name, value.value if isinstance(value, Metric) else value)
    if activity.metric == Metric.GROUP_JOINS and not activity.chat_ids:
        raise ApiError(400, "排行指标为邀请客户加入群聊时，请选择活动群聊", "chat_ids")


def copy_fields(activity: Activity) -> dict[str, Any]:
    """A copy is a draft: it keeps every setting but runs nothing until saved with dates."""
    return {n: getattr(activity, n) for n in SIMPLE_FIELDS} | {"draft": True}


# --- participants and teams ----------------------------------------------------------------------


async def set_members(activity_id: int, userids: list[str], department_ids: list[int]) -> None:
    await Participant.filter(activity_id=activity_id, via_dept=False).delete()
    await Participant.filter(activity_id=activity_id).update(picked=False)
    for uid in dict.fromkeys(userids):
        row, created = await Participant.get_or_create(
            activity_id=activity_id, userid=uid, defaults={"picked": True}
        )
        if not created:
            row.picked = True
            await row.save(update_fields=["picked"])
    await ActivityDepartment.filter(activity_id=activity_id).delete()
    for dept in dict.fromkeys(department_ids):
        await ActivityDepartment.create(activity_id=activity_id, department_id=dept)


async def dept_staff(department_ids: list[int]) -> dict[str, list[int]]:
    if not department_ids:
        return {}
    depts = await department_tree(frozenset(department_ids))
    rows = await Staff.exclude(status__in=_INACTIVE).values_list("userid", "departments")
    return {uid: list(ds or []) for uid, ds in rows if depts.intersection(int(d) for d in ds or [])}


async def sync_participants(redis: Redis | None, activity: Activity) -> None:
    """Resolve department participants to staff now (idempotent; keeps them in sync)."""
    found = await ActivityDepartment.filter(activity_id=activity.id).values_list(
        "department_id", flat=True
    )
    dept_ids = [int(d) for d in found]  # type: ignore[call-overload]
    wanted = set(await dept_staff(dept_ids))
    rows = {p.userid: p for p in await Participant.filter(activity_id=activity.id)}
    joined = sorted(wanted - rows.keys())
    for uid in joined:
        await Participant.get_or_create(
            activity_id=activity.id, userid=uid, defaults={"via_dept": True}
        )
    if redis is not None and joined and await redis.exists(zkey(activity.id)):
        # Newcomers enter the live ranking now, not at the next full rebuild.
        for uid in joined:
            await refresh_participant(redis, activity, uid)
    left = False
    for uid, row in rows.items():
        if uid in wanted and not row.via_dept:
            row.via_dept = True
            await row.save(update_fields=["via_dept"])
        elif uid not in wanted and row.via_dept:
            left = await _drop_dept_member(redis, activity.id, row) or left
    moved = await assign_teams(activity.id)
    if redis is not None and (joined or left or moved) and await redis.exists(zkey(activity.id)):
        await rebuild_teams(redis, activity)


async def _drop_dept_member(redis: Redis | None, activity_id: int, row: Participant) -> bool:
    """True when the member left the activity."""
    if row.picked:
        row.via_dept = False
        await row.save(update_fields=["via_dept"])
        return False
    await row.delete()
    if redis is not None:
        await redis.zrem(zkey(activity_id), row.userid)
        await redis.hdel(counts_key(activity_id), row.userid)  # type: ignore[misc]
    return True


async def set_teams(activity_id: int, teams: list[TeamIn]) -> None:
    await Team.filter(activity_id=activity_id).delete()
    for team in teams:
        await Team.create(
            activity_id=activity_id,
            name=team.name,
            department_id=team.department_id,
            members=list(dict.fromkeys(team.userids)),
        )
    await assign_teams(activity_id)


async def assign_teams(activity_id: int) -> bool:
    """Put each participant in their team; True when anyone moved."""
    teams = await Team.filter(activity_id=activity_id).order_by("id")
    if not teams:
        return False
    members: dict[str, int] = {}
    for team in teams:
        uids = team.members or []
        if team.department_id is not None:
            uids = list(await dept_staff([team.department_id]))
        for uid in uids:
            members.setdefault(uid, team.id)
    moved = False
    for row in await Participant.filter(activity_id=activity_id):
        team_id = members.get(row.userid)
        if row.team_id != team_id:
            row.team_id = team_id
            await row.save(update_fields=["team_id"])
            moved = True
    return moved
