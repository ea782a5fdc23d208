"""Plans: the editor's model (WeCom's limits on moments content, W8), who may manage a plan,
and planning its runs on the core's scheduled runs. Editing re-plans only runs still to
come; pausing and deleting withdraw them; a copy is a paused draft."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot import schedule
from bot.auth_types import Principal, Role
from bot.deps import Deps
from bot.http import ApiError, RequestContext, path_id
from handlers.facts import check_picks_in_scope
from handlers.sop import rules
from handlers.sop.router import SopSettings
from storage.directory import Staff
from storage.sop import Freq, Mode, SopPlan

RUN = "sop.run"
HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"
MAX_TEXT = 2000  # add_moment_task text (W8)
MAX_IMAGES = 9
MAX_LINK_TITLE_BYTES = 64
FILE_RE = re.compile(r"^[A-Za-z0-9_-]{16,40}\.(png|jpg|gif|webp|mp4)$")
INACTIVE = (2, 5)  # WeCom member status: disabled, left


def check_url(value: str) -> str:
    """Only http(s) links become moments (a javascript: or data: link never)."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("链接地址必须以 http:// 或 https:// 开头")
    return value.strip()


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=64, title="链接标题")
    url: str = Field(min_length=1, max_length=1000, title="链接地址")
    cover: str = Field(min_length=1, max_length=64, title="链接封面")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value)

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        if len(value.encode()) > MAX_LINK_TITLE_BYTES:
            raise ValueError("最多 64 字节（约 21 个汉字）")
        return value


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field("", max_length=MAX_TEXT, title="文案")
    kind: Literal["text", "images", "link", "video"] = Field("text", title="附件类型")
    images: list[str] = Field(default_factory=list, max_length=MAX_IMAGES, title="图片")
    link: LinkIn | None = Field(None, title="链接")
    video: str = Field("", max_length=64, title="视频")

    @field_validator("images")
    @classmethod
    def _images(cls, value: list[str]) -> list[str]:
        if any(not FILE_RE.match(v) or v.endswith(".mp4") for v in value):
            raise ValueError("请重新上传图片")
        return value

    @field_validator("video")
    @classmethod
    def _video(cls, value: str) -> str:
        if value and (not FILE_RE.match(value) or not value.endswith(".mp4")):
            raise ValueError("请重新上传视频")
        return value

    @model_validator(mode="after")
    def _attachment(self) -> ItemIn:
        if self.kind == "images" and not self.images:
            raise ValueError("选择了图片，请至少上传 1 张图片")
        if self.kind == "link" and self.link is None:
            raise ValueError("选择了链接，请填写链接")
        if self.kind == "video" and not self.video:
            raise ValueError("选择了视频，请上传视频")
        if self.kind == "text" and not self.text.strip():
            raise ValueError("请填写文案或添加图片、链接、视频")
        return self

    def stored(self) -> dict[str, Any]:
        """Only the attachment the kind names is kept (WeCom takes one kind per moment)."""
        out: dict[str, Any] = {"text": self.text, "kind": self.kind}
        if self.kind == "images":
            out["images"] = list(self.images)
        elif self.kind == "link" and self.link is not None:
            out["link"] = self.link.model_dump()
        elif self.kind == "video":
            out["video"] = self.video
        return out


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, title="计划名称")
    mode: Literal["task", "personal"] = Field("personal", title="发送方式")
    userids: list[str] = Field(default_factory=list, max_length=5000, title="执行员工")
    department_ids: list[int] = Field(default_factory=list, max_length=200, title="执行部门")
    tag_ids: list[str] = Field(default_factory=list, max_length=100, title="可见客户标签")
    freq: Literal["daily", "weekly", "monthly", "once"] = Field("daily", title="重复")
    weekdays: list[int] = Field(default_factory=list, max_length=7, title="每周发送日")
    month_days: list[int] = Field(default_factory=list, max_length=31, title="每月发送日")
    at_time: str = Field("12:00", pattern=HHMM, title="发送时间")
    start_date: date = Field(title="开始日期")
    end_date: date | None = Field(None, title="结束日期")
    quiet_start: str = Field("", pattern=r"^$|" + HHMM, title="免打扰开始")
    quiet_end: str = Field("", pattern=r"^$|" + HHMM, title="免打扰结束")
    remind_again_minutes: int = Field(120, ge=0, le=1440, title="再次提醒间隔（分钟）")
    poll_hours: int = Field(48, ge=1, le=168, title="发布跟踪时长（小时）")
    items: list[ItemIn] = Field(min_length=1, max_length=30, title="内容")

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if any(not 0 <= d <= 6 for d in value):
            raise ValueError("只能是周一到周日")
        return sorted(set(value))

    @field_validator("month_days")
    @classmethod
    def _month_days(cls, value: list[int]) -> list[int]:
        if any(not 1 <= d <= 31 for d in value):
            raise ValueError("只能是 1 到 31 日")
        return sorted(set(value))


def check_plan(data: PlanIn, *, staff: bool = True) -> None:
    """Rules across fields, each naming its field (`staff` False: the calendar preview of a
    plan still being written)."""
    if staff and not data.userids and not data.department_ids:
        raise ApiError(400, "请选择执行员工或执行部门", "userids")
    if data.freq == "weekly" and not data.weekdays:
        raise ApiError(400, "每周重复时请选择每周发送日", "weekdays")
    if data.freq == "monthly" and not data.month_days:
        raise ApiError(400, "每月重复时请选择每月发送日", "month_days")
    if data.end_date is not None and data.end_date < data.start_date:
        raise ApiError(400, "结束日期不能早于开始日期", "end_date")
    if bool(data.quiet_start) != bool(data.quiet_end):
        raise ApiError(400, "免打扰请同时填写开始和结束时间", "quiet_end")
    if data.quiet_start and data.quiet_start == data.quiet_end:
        raise ApiError(400, "免打扰开始和结束时间不能相同", "quiet_end")
    probe = SopPlan(at_time=data.at_time, quiet_start=data.quiet_start, quiet_end=data.quiet_end)
    if rules.in_quiet(probe, _probe_instant(data.at_time), UTC):
        raise ApiError(400, "发送时间在免打扰时段内，请调整发送时间或免打扰时段", "at_time")
    if data.mode == "personal" and data.tag_ids:
        raise ApiError(
            400,
            "员工个人发表时由员工在企业微信里选择可见范围，无法按标签限定；请清空可见客户标签或改用企业朋友圈任务",
            "tag_ids",
        )


def _probe_instant(hhmm: str) -> datetime:
    t = rules.parse_hhmm(hhmm)
    return datetime(2000, 1, 3, t.hour, t.minute, tzinfo=UTC)


def apply(plan: SopPlan, data: PlanIn) -> None:
    plan.name = data.name.strip()
    plan.mode = Mode(data.mode)
    plan.userids = list(dict.fromkeys(data.userids))
    plan.department_ids = list(dict.fromkeys(data.department_ids))
    plan.tag_ids = list(dict.fromkeys(data.tag_ids))
    plan.freq = Freq(data.freq)
    plan.weekdays = data.weekdays if data.freq == "weekly" else []
    plan.month_days = data.month_days if data.freq == "monthly" else []
    plan.at_time = data.at_time
    plan.start_date = data.start_date
    plan.end_date = data.start_date if data.freq == "once" else data.end_date
    plan.quiet_start, plan.quiet_end = data.quiet_start, data.quiet_end
    plan.remind_again_minutes = data.remind_again_minutes
    plan.poll_hours = data.poll_hours
    plan.items = [i.stored() for i in data.items]


# --- who --------------------------------------------------------------------------------


async def staff_of(deps: Deps, plan: SopPlan) -> list[str]:
    """The plan's executing staff now: its people plus its departments' members, active."""
    found = set(plan.userids)
    members_of = deps.dispatcher.lookup("department_members")
    if plan.department_ids and members_of is not None:
        found |= set(await members_of(frozenset(plan.department_ids)))
    inactive = set(
        await Staff.filter(userid__in=sorted(found), status__in=INACTIVE).values_list(
            "userid", flat=True
        )
    )
    return sorted(found - inactive)


async def manages(user: Principal, plan: SopPlan) -> bool:
    if user.sees_all:
        return True
    if user.role is not Role.DEPT_ADMIN:
        return False
    try:
        await check_picks_in_scope(user, plan.userids, plan.department_ids)
    except ApiError:
        return False
    return True


async def load(ctx: RequestContext, *, manage: bool = True) -> SopPlan:
    assert ctx.user is not None
    plan = await SopPlan.get_or_none(id=path_id(ctx.request, "id", "计划不存在"), deleted=False)
    if plan is None:
        raise ApiError(404, "计划不存在或已删除")
    if manage and not await manages(ctx.user, plan):
        raise ApiError(403, "没有权限管理这个计划")
    return plan


# --- runs -------------------------------------------------------------------------------


async def plan_runs(deps: Deps, plan: SopPlan) -> int:
    """(Re)plan the runs from now up to `plan_days` ahead; a paused or deleted plan has none.
    Runs that already ran are never touched; one missed while the workers were down (due
    before now) is kept, to go out late."""
    prefix, now, tz = f"{plan.id}:", deps.now(), deps.settings.tz
    if plan.paused or plan.deleted or not plan.items:
        return await schedule.cancel(RUN, prefix=prefix)
    horizon = now + timedelta(days=deps.section(SopSettings).plan_days)
    wanted = {
        rules.run_key(plan, due, tz): (due, {"item": rules.item_index(plan, due, tz)})
        for due in rules.occurrences(plan, now, horizon, tz)
    }
    await schedule.replace(RUN, prefix, wanted, since=now)
    return len(wanted)
