"""The console's API: activities (create as a draft, edit by state, publish, copy as a draft),
the poster background and its boxes, prize tiers, the participants and every help attempt
with its reason, and marking a prize as given."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field, field_validator
from tortoise.transactions import in_transaction

from bot import schedule as bot_schedule
from bot.auth import scope_userids
from bot.auth_types import Role
from bot.deps import Deps
from bot.http import ApiError, RequestContext, json_ok, page_params, read_json
from bot.wecom_errors import WeComError
from cards.fission import OUTCOME_LABELS
from handlers.fission import participants, poster, schedule
from handlers.fission.pages import personal_url, phase, progress
from handlers.fission.router import FissionSettings, router
from storage.directory import Staff
from storage.facts import Customer
from storage.fission import (
    AwardState,
    FissionActivity,
    FissionAttempt,
    FissionAward,
    FissionHelp,
    FissionParticipant,
    FissionReview,
    FissionTier,
)

BASE = "/api/fission/activities"
MAX_TIERS = 5


class BoxIn(BaseModel):
    x: int = Field(ge=0, le=10_000, title="横坐标")
    y: int = Field(ge=0, le=10_000, title="纵坐标")
    w: int = Field(ge=8, le=10_000, title="大小")


class LayoutIn(BaseModel):
    qr: BoxIn | None = Field(default=None, title="二维码位置")
    avatar: BoxIn | None = Field(default=None, title="头像位置")
    nickname: BoxIn | None = Field(default=None, title="昵称位置")


class TierIn(BaseModel):
    helpers: int = Field(ge=1, le=1000, title="助力人数")
    prize: str = Field(min_length=1, max_length=64, title="奖品名称")
    stock: int = Field(ge=0, le=1_000_000, title="库存")
    redeem_text: str = Field(default="", max_length=500, title="兑奖说明")


class ActivityIn(BaseModel):
    name: str = Field(min_length=1, max_length=64, title="活动名称")
    start_at: datetime = Field(title="开始时间")
    end_at: datetime = Field(title="结束时间")
    rules: str = Field(default="", max_length=5000, title="活动规则")
    tiers: list[TierIn] = Field(min_length=1, max_length=MAX_TIERS, title="奖品阶梯")
    new_only: bool = Field(default=True, title="仅限新客户助力")
    revoke_hours: int = Field(default=0, ge=0, le=24 * 30, title="删除好友作废时限（小时）")
    helper_limit: int = Field(default=0, ge=0, le=1000, title="每人跨活动助力次数上限")
    staff: list[str] = Field(min_length=1, max_length=100, title="添加的员工")
    welcome_text: str = Field(default="", max_length=1000, title="欢迎语")
    way_keep_days: int = Field(default=7, ge=0, le=90, title="活动结束后二维码保留天数")
    qr_kind: Literal["way", "link"] = Field(default="way", title="海报二维码类型")
    layout: LayoutIn = Field(default_factory=LayoutIn, title="海报布局")
    staff_script: str = Field(default="", max_length=2000, title="员工话术")
    customer_script: str = Field(default="", max_length=2000, title="客户话术")
    participating: list[str] = Field(default_factory=list, max_length=5000, title="参与员工")
    departments: list[int] = Field(default_factory=list, max_length=500, title="参与部门")
    recommend_tags: list[str] = Field(default_factory=list, max_length=50, title="推荐客户标签")
    remind_times: list[str] = Field(
        default_factory=lambda: list(schedule.DEFAULT_TIMES), title="提醒时间"
    )

    @field_validator("remind_times")
    @classmethod
    def _times(cls, value: list[str]) -> list[str]:
        if not 1 <= len(value) <= schedule.MAX_TIMES:
            raise ValueError(f"需填写 1～{schedule.MAX_TIMES} 个时间")
        for text in value:
            if not schedule.TIME_RE.fullmatch(text):
                raise ValueError(f"“{text[:10]}”不是有效的时间，请按 HH:MM 填写，如 18:00")
        if len(set(value)) != len(value):
            raise ValueError("时间不能重复")
        return sorted(value)

    @field_validator("start_at", "end_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("时间需包含时区")
        return value.astimezone(UTC)


# Fields an activity keeps once it has started: changing them would change what earlier
# helps were worth. Running: the end may move later, texts and stock may change.
LOCKED_RUNNING = {"start_at", "new_only", "revoke_hours", "helper_limit", "tiers.helpers"}
FIELD_LABELS = {
    "start_at": "开始时间",
    "new_only": "仅限新客户助力",
    "revoke_hours": "删除好友作废时限",
    "helper_limit": "每人跨活动助力次数上限",
    "tiers.helpers": "奖品阶梯的助力人数",
    "tiers": "奖品阶梯",
}


NO_PERMISSION = frozenset({48001, 48002})
NO_ACQUISITION_API = (
    "本应用不能调用获客链接接口：请在企业微信管理后台「客户与上下游 → 客户联系 → API」中"
    "把本应用加入「可调用应用」后再选择获客链接（客户联系 secret 不能调用此接口）"
)


async def acquisition_status(deps: Deps) -> dict[str, Any]:
    """Whether the app may use 获客链接, and the corp's remaining 获客 quota (W5)."""
    try:
        body = await deps.wecom.acquisition_quota()
    except WeComError as exc:
        message = (
            NO_ACQUISITION_API
            if exc.errcode in NO_PERMISSION
            else f"暂时无法查询获客链接额度，请稍后再试（企业微信错误码 {exc.errcode}）"
        )
        return {"available": False, "message": message, "errcode": exc.errcode}
    total, balance = int(body.get("total") or 0), int(body.get("balance") or 0)
    return {"available": True, "total": total, "balance": balance, "message": ""}


async def _check_qr_kind(deps: Deps, activity: FissionActivity, body: ActivityIn) -> None:
    """Choosing 获客链接 needs the app to be allowed to call it (it stays chosen if WeCom
    withdraws that later: the posters say what WeCom refuses)."""
    if body.qr_kind != participants.QR_LINK or participants.qr_kind(activity) == body.qr_kind:
        return
    status = await acquisition_status(deps)
    if not status["available"]:
        raise ApiError(409, status["message"], "qr_kind")


def _layout(data: LayoutIn) -> dict[str, Any]:
    return {k: v for k, v in data.model_dump().items() if v is not None}


async def _staff_known(userids: list[str]) -> None:
    known = {
        str(u) for u in await Staff.filter(userid__in=userids).values_list("userid", flat=True)
    }
    if missing := [u for u in userids if u not in known]:
        raise ApiError(400, f"添加的员工不存在：{'、'.join(missing[:5])}", "staff")


async def _in_scope(ctx: RequestContext, userids: list[str]) -> None:
    assert ctx.user is not None
    scope = await scope_userids(ctx.user)
    if scope is not None and (outside := [u for u in userids if u not in scope]):
        raise ApiError(403, f"不能选择管理范围以外的员工：{'、'.join(outside[:5])}", "staff")


async def load(ctx: RequestContext) -> FissionActivity:
    raw = ctx.request.match_info.get("id", "")
    activity = await FissionActivity.get_or_none(id=int(raw)) if raw.isdigit() else None
    if activity is None:
        raise ApiError(404, "活动不存在")
    assert ctx.user is not None
    scope = await scope_userids(ctx.user)
    if scope is not None and activity.created_by not in scope and not set(activity.staff) & scope:
        raise ApiError(404, "活动不存在")
    return activity


async def serialize(
    ctx: RequestContext, activity: FissionActivity, full: bool = False
) -> dict[str, Any]:
    now = ctx.deps.now()
    tiers = await FissionTier.filter(activity_id=activity.id).order_by("level")
    data: dict[str, Any] = {
        "id": activity.id,
        "name": activity.name,
        "start_at": activity.start_at,
        "end_at": activity.end_at,
        "published": activity.published,
        "phase": phase(activity, now) if activity.published else "draft",
        "staff": activity.staff,
        "participants": await FissionParticipant.filter(activity_id=activity.id).count(),
        "helps": await FissionHelp.filter(activity_id=activity.id, revoked_at__isnull=True).count(),
        "winners": await FissionAward.filter(
            activity_id=activity.id, state__in=[AwardState.WON, AwardState.GIVEN]
        ).count(),
        "tiers": [
            {
                "level": t.level,
                "helpers": t.helpers,
                "prize": t.prize,
                "stock": t.stock,
                "stock_left": t.stock_left,
                "redeem_text": t.redeem_text,
            }
            for t in tiers
        ],
        "page_url": ctx.deps.url(f"/f/{activity.id}"),
    }
    if full:
        opts = activity.options or {}
        size = (
            poster.check_background(activity.poster_bg)
            if activity.poster_bg
            else poster.DEFAULT_SIZE
        )
        data |= {
            "rules": activity.rules,
            "new_only": activity.new_only,
            "revoke_hours": activity.revoke_hours,
            "helper_limit": activity.helper_limit,
            "welcome_text": activity.welcome_text,
            "way_keep_days": activity.way_keep_days,
            "qr_kind": participants.qr_kind(activity),
            "layout": poster.layout_for(activity.poster_layout, size),
            "background": {"width": size[0], "height": size[1], "custom": bool(activity.poster_bg)},
            "staff_script": opts.get("staff_script", ""),
            "customer_script": opts.get("customer_script", ""),
            "participating": opts.get("participating", []),
            "departments": opts.get("departments", []),
            "recommend_tags": opts.get("recommend_tags", []),
            "remind_times": [f"{t:%H:%M}" for t in schedule.times_of(activity)],
        }
    return data


def _apply(activity: FissionActivity, body: ActivityIn) -> None:
    activity.name = body.name
    activity.start_at = body.start_at
    activity.end_at = body.end_at
    activity.rules = body.rules
    activity.new_only = body.new_only
    activity.revoke_hours = body.revoke_hours
    activity.helper_limit = body.helper_limit
    activity.staff = list(dict.fromkeys(body.staff))
    activity.welcome_text = body.welcome_text
    activity.way_keep_days = body.way_keep_days
    activity.poster_layout = _layout(body.layout)
    activity.options = {
        "staff_script": body.staff_script,
        "customer_script": body.customer_script,
        "participating": body.participating,
        "departments": body.departments,
        "recommend_tags": body.recommend_tags,
        "remind_times": body.remind_times,
        "qr_kind": body.qr_kind,
    }


async def _save_tiers(activity: FissionActivity, tiers: list[TierIn], started: bool) -> None:
    """Replace the tiers (a draft or a published activity before its start), or, once started,
    change only texts and stock (never below what was already awarded)."""
    current = {t.level: t for t in await FissionTier.filter(activity_id=activity.id)}
    if started:
        for level, tier in enumerate(tiers, start=1):
            row = current[level]
            taken = row.stock - row.stock_left
            if tier.stock < taken:
                raise ApiError(
                    400,
                    f"第{level}档奖品已发出 {taken} 份，库存不能少于此数",
                    f"tiers.{level - 1}.stock",
                )
            await FissionTier.filter(id=row.id).update(
                prize=tier.prize,
                redeem_text=tier.redeem_text,
                stock=tier.stock,
                stock_left=tier.stock - taken,
            )
        return
    await FissionTier.filter(activity_id=activity.id).delete()
    for level, tier in enumerate(tiers, start=1):
        await FissionTier.create(
            activity_id=activity.id,
            level=level,
            helpers=tier.helpers,
            prize=tier.prize,
            stock=tier.stock,
            stock_left=tier.stock,
            redeem_text=tier.redeem_text,
        )


def _check_times(body: ActivityIn) -> None:
    if body.end_at <= body.start_at:
        raise ApiError(400, "结束时间必须晚于开始时间", "end_at")
    levels = [t.helpers for t in body.tiers]
    if levels != sorted(set(levels)):
        raise ApiError(400, "奖品阶梯的助力人数需逐档递增", "tiers")


async def _check_edit(activity: FissionActivity, body: ActivityIn, now: datetime) -> None:
    """Edit rules by state: a draft or an activity not yet started changes freely; a running
    one keeps its start and help rules and may only end later; an ended one is read-only."""
    if not activity.published:
        return
    state = phase(activity, now)
    if state == "ended":
        raise ApiError(409, "活动已结束，不能再修改")
    if state != "running":
        return
    tiers = await FissionTier.filter(activity_id=activity.id).order_by("level")
    changed = set()
    if body.start_at != activity.start_at.astimezone(UTC):
        changed.add("start_at")
    for name in ("new_only", "revoke_hours", "helper_limit"):
        if getattr(body, name) != getattr(activity, name):
            changed.add(name)
    if len(body.tiers) != len(tiers):
        changed.add("tiers")
    elif [t.helpers for t in body.tiers] != [t.helpers for t in tiers]:
        changed.add("tiers.helpers")
    if changed:
        field = sorted(changed)[0]
        raise ApiError(409, f"活动进行中，不能修改{FIELD_LABELS[field]}", field)
    if body.end_at < activity.end_at.astimezone(UTC) and body.end_at < now:
        raise ApiError(409, "活动进行中，结束时间不能早于现在", "end_at")


@router.get("/api/fission/acquisition", role=Role.DEPT_ADMIN)
async def acquisition(ctx: RequestContext) -> web.StreamResponse:
    """For the editor's QR kind: may 获客链接 be chosen, and the remaining 获客 quota."""
    return json_ok(await acquisition_status(ctx.deps))


@router.get(BASE, role=Role.DEPT_ADMIN)
async def list_activities(ctx: RequestContext) -> web.StreamResponse:
    assert ctx.user is not None
    page, size = page_params(ctx.request)
    query = FissionActivity.all().order_by("-start_at", "-id")
    if name := ctx.request.query.get("q", "").strip():
        query = query.filter(name__icontains=name)
    scope = await scope_userids(ctx.user)
    found = [
        a for a in await query if scope is None or a.created_by in scope or set(a.staff) & scope
    ]
    rows = found[(page - 1) * size : page * size]
    items = [await serialize(ctx, a) for a in rows]
    return json_ok({"items": items, "total": len(found), "page": page, "size": size})


@router.post(BASE, role=Role.DEPT_ADMIN)
async def create_activity(ctx: RequestContext) -> web.StreamResponse:
    assert ctx.user is not None
    body = await read_json(ctx.request, ActivityIn)
    _check_times(body)
    await _staff_known(body.staff)
    await _in_scope(ctx, body.staff)
    activity = FissionActivity(created_by=ctx.user.userid)
    await _check_qr_kind(ctx.deps, activity, body)
    async with in_transaction():
        _apply(activity, body)
        await activity.save()
        await _save_tiers(activity, body.tiers, started=False)
    return json_ok(await serialize(ctx, activity, full=True), 201)


@router.get(BASE + "/{id}", role=Role.DEPT_ADMIN)
async def get_activity(ctx: RequestContext) -> web.StreamResponse:
    return json_ok(await serialize(ctx, await load(ctx), full=True))


@router.post(BASE + "/{id}", role=Role.DEPT_ADMIN)
async def update_activity(ctx: RequestContext) -> web.StreamResponse:
    activity = await load(ctx)
    body = await read_json(ctx.request, ActivityIn)
    _check_times(body)
    await _check_edit(activity, body, ctx.deps.now())
    await _staff_known(body.staff)
    await _in_scope(ctx, body.staff)
    await _check_qr_kind(ctx.deps, activity, body)
    started = activity.published and phase(activity, ctx.deps.now()) == "running"
    staff_before = list(activity.staff)
    async with in_transaction():
        _apply(activity, body)
        await activity.save()
        await _save_tiers(activity, body.tiers, started=started)
    await participants.expire_ways(activity)  # the end or the days kept may have moved
    if list(activity.staff) != staff_before:  # every participant's QR code, in a job
        job_id = f"fission-ways:{activity.id}:{ctx.deps.now().timestamp():.0f}"
        await ctx.deps.queue.enqueue("fission_update_ways", activity.id, job_id=job_id)
    if activity.published:
        await schedule.plan_runs(ctx.deps, activity)
    return json_ok(await serialize(ctx, activity, full=True))


@router.post(BASE + "/{id}/publish", role=Role.DEPT_ADMIN)
async def publish_activity(ctx: RequestContext) -> web.StreamResponse:
    activity = await load(ctx)
    if activity.end_at.astimezone(UTC) <= ctx.deps.now():
        raise ApiError(409, "结束时间已过，请先修改活动时间再发布", "end_at")
    if not activity.published:
        await FissionActivity.filter(id=activity.id).update(published=True)
        activity.published = True
        await schedule.plan_runs(ctx.deps, activity)
        await bot_schedule.plan("fission.created", f"{activity.id}:created", ctx.deps.now())
    return json_ok(await serialize(ctx, activity, full=True))


@router.post(BASE + "/{id}/copy", role=Role.DEPT_ADMIN)
async def copy_activity(ctx: RequestContext) -> web.StreamResponse:
    """A draft with the same settings, tiers at full stock; nothing of the participants."""
    assert ctx.user is not None
    source = await load(ctx)
    async with in_transaction():
        copy = FissionActivity(
            name=f"{source.name}（副本）"[:64],
            start_at=source.start_at,
            end_at=source.end_at,
            rules=source.rules,
            published=False,
            new_only=source.new_only,
            revoke_hours=source.revoke_hours,
            helper_limit=source.helper_limit,
            staff=source.staff,
            welcome_text=source.welcome_text,
            poster_bg=source.poster_bg,
            poster_layout=source.poster_layout,
            way_keep_days=source.way_keep_days,
            options=source.options,
            created_by=ctx.user.userid,
        )
        await copy.save()
        for tier in await FissionTier.filter(activity_id=source.id).order_by("level"):
            await FissionTier.create(
                activity_id=copy.id,
                level=tier.level,
                helpers=tier.helpers,
                prize=tier.prize,
                stock=tier.stock,
                stock_left=tier.stock,
                redeem_text=tier.redeem_text,
            )
    return json_ok(await serialize(ctx, copy, full=True), 201)


@router.post(BASE + "/{id}/background", role=Role.DEPT_ADMIN)
async def upload_background(ctx: RequestContext) -> web.StreamResponse:
    """The poster background as the raw image body (PNG or JPG)."""
    activity = await load(ctx)
    if activity.published and phase(activity, ctx.deps.now()) == "ended":
        raise ApiError(409, "活动已结束，不能再修改")
    cap = ctx.deps.section(FissionSettings).poster_bg_max_bytes
    if (ctx.request.content_length or 0) > cap:
        raise ApiError(413, f"海报背景图不能超过 {cap // 1_000_000} MB", "poster_bg")
    data = await ctx.request.content.read(cap + 1)
    if len(data) > cap:
        raise ApiError(413, f"海报背景图不能超过 {cap // 1_000_000} MB", "poster_bg")
    width, height = poster.check_background(data)
    await FissionActivity.filter(id=activity.id).update(poster_bg=data, updated_at=ctx.deps.now())
    return json_ok({"width": width, "height": height})


@router.get(BASE + "/{id}/background", role=Role.DEPT_ADMIN)
async def background(ctx: RequestContext) -> web.StreamResponse:
    activity = await load(ctx)
    if activity.poster_bg:
        data = bytes(activity.poster_bg)
    else:
        import io

        buf = io.BytesIO()
        poster.plain_background(activity.name).save(buf, format="PNG")
        data = buf.getvalue()
    kind = "image/jpeg" if data[:3] == b"\xff\xd8\xff" else "image/png"
    return web.Response(body=data, content_type=kind, headers={"Cache-Control": "no-store"})


@router.get(BASE + "/{id}/participants", role=Role.DEPT_ADMIN)
async def list_participants(ctx: RequestContext) -> web.StreamResponse:
    activity = await load(ctx)
    page, size = page_params(ctx.request)
    query = FissionParticipant.filter(activity_id=activity.id).order_by("-joined_at", "-id")
    total = await query.count()
    items = []
    for p in await query.offset((page - 1) * size).limit(size):
        mine = await progress(ctx.deps, activity, p)
        items.append(
            {
                "id": p.id,
                "name": p.name,
                "external_userid": p.external_userid,
                "userid": p.userid,
                "joined_at": p.joined_at,
                "helps": mine["helps"],
                "tiers": mine["tiers"],
            }
        )
    return json_ok({"items": items, "total": total, "page": page, "size": size})


@router.get(BASE + "/{id}/attempts", role=Role.DEPT_ADMIN)
async def list_attempts(ctx: RequestContext) -> web.StreamResponse:
    """Every help attempt with its outcome and reason, newest first."""
    activity = await load(ctx)
    page, size = page_params(ctx.request)
    query = FissionAttempt.filter(activity_id=activity.id).order_by("-at", "-id")
    if outcome := ctx.request.query.get("outcome", ""):
        if outcome not in OUTCOME_LABELS:
            raise ApiError(400, "参数 outcome 不是有效的助力结果", "outcome")
        query = query.filter(outcome=outcome)
    total = await query.count()
    rows = await query.offset((page - 1) * size).limit(size)
    exts = {r.helper for r in rows}
    pids = {r.participant_id for r in rows}
    names = dict(
        await Customer.filter(external_userid__in=exts).values_list("external_userid", "name")
    )
    owners = dict(await FissionParticipant.filter(id__in=pids).values_list("id", "name"))
    items = [
        {
            "helper": names.get(r.helper) or r.helper,
            "participant": owners.get(r.participant_id, ""),
            "userid": r.userid,
            "at": r.at,
            "outcome": str(r.outcome),
            "label": OUTCOME_LABELS.get(str(r.outcome), ""),
        }
        for r in rows
    ]
    return json_ok({"items": items, "total": total, "page": page, "size": size})


# --- the sidebar: my activity customers -----------------------------------------------------


@router.get("/api/fission/mine", role=Role.STAFF)
async def my_customers(ctx: RequestContext) -> web.StreamResponse:
    """The signed-in staff member's participants in activities that are not drafts."""
    assert ctx.user is not None
    rows = await FissionParticipant.filter(userid=ctx.user.userid).order_by("-joined_at").limit(200)
    activities = {
        a.id: a
        for a in await FissionActivity.filter(id__in={r.activity_id for r in rows}, published=True)
    }
    items = []
    for p in rows:
        activity = activities.get(p.activity_id)
        if activity is None:
            continue
        mine = await progress(ctx.deps, activity, p)
        awards = await FissionAward.filter(participant_id=p.id).order_by("id")
        tiers = {t["level"]: t for t in mine["tiers"]}
        prize_of = {t.id: t for t in await FissionTier.filter(activity_id=activity.id)}
        items.append(
            {
                "activity": activity.name,
                "activity_id": activity.id,
                "name": p.name,
                "external_userid": p.external_userid,
                "helps": mine["helps"],
                "next": mine["next"],
                "link": personal_url(ctx.deps, activity.id, p.external_userid),
                "script": str((activity.options or {}).get("customer_script", "")),
                "awards": [
                    {
                        "id": a.id,
                        "prize": prize_of[a.tier_id].prize if a.tier_id in prize_of else "",
                        "state": str(a.state),
                        "given_at": a.given_at,
                    }
                    for a in awards
                ],
                "tiers": list(tiers.values()),
            }
        )
    return json_ok({"items": items})


@router.post("/api/fission/awards/{id}/given", role=Role.STAFF)
async def mark_given(ctx: RequestContext) -> web.StreamResponse:
    """Mark a prize as handed out: the participant's staff member, or an admin over them."""
    assert ctx.user is not None
    raw = ctx.request.match_info.get("id", "")
    award = await FissionAward.get_or_none(id=int(raw)) if raw.isdigit() else None
    if award is None:
        raise ApiError(404, "奖品记录不存在")
    p = await FissionParticipant.get(id=award.participant_id)
    scope = await scope_userids(ctx.user)
    if scope is not None and p.userid not in scope:
        raise ApiError(403, "只能标记自己客户的奖品")
    if award.state is AwardState.OUT_OF_STOCK:
        raise ApiError(409, "该奖品已无库存，不能标记为已发放")
    if await FissionReview.exists(participant_id=p.id, decision="hold"):
        raise ApiError(409, "该客户的助力存在风险，已被管理员暂缓发奖")
    await FissionAward.filter(id=award.id, state=AwardState.WON).update(
        state=AwardState.GIVEN, given_at=ctx.deps.now(), given_by=ctx.user.userid
    )
    award = await FissionAward.get(id=award.id)
    return json_ok({"id": award.id, "state": str(award.state), "given_at": award.given_at})
