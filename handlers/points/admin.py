"""The console's 社群积分 API: programme settings (and which entry points work with the corp's
configuration), rewards with images, the customers table with batch award / deduct and
group-wide awards, the ledger with filters and reversal, redemptions, the blacklist."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, date, time, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, Field
from tortoise.expressions import Q
from tortoise.functions import Count

from bot.auth_types import Principal, Role
from bot.deps import Deps
from bot.http import (
    MAX_YEAR,
    MIN_YEAR,
    ApiError,
    RequestContext,
    json_ok,
    page_params,
    read_json,
    xlsx_response,
)
from bot.multipart import read_multipart
from bot.periods import at_local
from bot.uploads import folder
from handlers.points import ledger, redeem
from handlers.points.config import ProgramConfig, program
from handlers.points.page import KIND_TEXT, SHARED, personal_path
from handlers.points.router import router
from storage.directory import Staff
from storage.facts import Customer, FollowRelation, GroupMember
from storage.points import (
    EntryKind,
    PointsAccount,
    PointsBlock,
    PointsEntry,
    PointsProgram,
    PointsRedemption,
    PointsReward,
)

IMAGE_LIMIT = 4 * 1024 * 1024
MAX_BATCH = 5000


def _user(ctx: RequestContext) -> Principal:
    assert ctx.user is not None
    return ctx.user


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


# --- programme ------------------------------------------------------------------------------


def entry_points(deps: Deps) -> list[dict[str, Any]]:
    """Which links credit a customer with this corp's configuration."""
    oauth = deps.settings.wechat_mp.enabled
    return [
        {
            "name": "欢迎语 / 单聊中的专属链接",
            "works": True,
            "detail": "每位客户一条专属链接，首次打开的微信即为该客户，可签到、兑换。",
        },
        {
            "name": "群公告 / 群聊中的公共链接",
            "works": oauth,
            "detail": (
                "已配置服务号网页授权：客户在微信中打开即可识别身份并签到。"
                if oauth
                else "未配置服务号（[wechat_mp]）：群公告里的链接对所有人相同，无法识别客户，"
                "客户只能浏览，不能签到或兑换。请改用欢迎语中的专属链接，或配置服务号。"
            ),
            "url": deps.url(f"/p/{SHARED}"),
        },
    ]


@router.get("/api/points/program", role=Role.ADMIN)
async def get_program(ctx: RequestContext) -> web.StreamResponse:
    cfg, version = await program()
    row = await PointsProgram.get_or_none(id=1)
    return json_ok(
        {
            "config": cfg.model_dump(mode="json"),
            "version": version,
            "started_at": _iso(row.started_at) if row else None,
            "entry_points": entry_points(ctx.deps),
        }
    )


@router.post("/api/points/program", role=Role.ADMIN)
async def save_program(ctx: RequestContext) -> web.StreamResponse:
    cfg = await read_json(ctx.request, ProgramConfig)
    now = ctx.deps.now()
    row = await PointsProgram.get_or_none(id=1)
    values: dict[str, Any] = {
        "config": cfg.model_dump(mode="json"),
        "updated_at": now,
        "updated_by": _user(ctx).userid,
    }
    if row is None:
        await PointsProgram.create(
            id=1, version=1, started_at=now if cfg.enabled else None, **values
        )
    else:
        if cfg.enabled and row.started_at is None:
            values["started_at"] = now
        await PointsProgram.filter(id=1).update(version=row.version + 1, **values)
    return await get_program(ctx)


# --- rewards --------------------------------------------------------------------------------


class RewardForm(BaseModel):
    name: str = Field(min_length=1, max_length=32, title="奖品名称")
    cost: int = Field(ge=1, le=10_000_000, title="所需积分")
    stock: int = Field(ge=0, le=1_000_000, title="库存")
    description: str = Field("", max_length=200, title="说明")
    active: bool = Field(True, title="上架")
    order: int = Field(0, ge=0, le=9999, title="排序")


def _reward(r: PointsReward) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "cost": r.cost,
        "stock": r.stock,
        "image": r.image,
        "description": r.description,
        "active": r.active,
        "order": r.order,
    }


@router.get("/api/points/rewards", role=Role.ADMIN)
async def list_rewards(ctx: RequestContext) -> web.StreamResponse:
    rows = await PointsReward.filter(deleted=False).order_by("order", "id")
    pending = {
        int(rid): n
        for rid, n in await PointsRedemption.filter(state="pending")
        .annotate(n=Count("id"))
        .group_by("reward_id")
        .values_list("reward_id", "n")
    }
    return json_ok({"items": [_reward(r) | {"pending": pending.get(r.id, 0)} for r in rows]})


@router.post("/api/points/rewards", role=Role.ADMIN)
async def create_reward(ctx: RequestContext) -> web.StreamResponse:
    form = await read_json(ctx.request, RewardForm)
    r = await PointsReward.create(**form.model_dump(), created_at=ctx.deps.now())
    return json_ok(_reward(r), status=201)


async def _reward_or_404(ctx: RequestContext) -> PointsReward:
    raw = ctx.request.match_info.get("rid", "")
    r = await PointsReward.get_or_none(id=int(raw), deleted=False) if raw.isdigit() else None
    if r is None:
        raise ApiError(404, "奖品不存在")
    return r


@router.post(r"/api/points/rewards/{rid:\d+}", role=Role.ADMIN)
async def update_reward(ctx: RequestContext) -> web.StreamResponse:
    r = await _reward_or_404(ctx)
    form = await read_json(ctx.request, RewardForm)
    await PointsReward.filter(id=r.id).update(**form.model_dump())
    await r.refresh_from_db()
    return json_ok(_reward(r))


@router.post(r"/api/points/rewards/{rid:\d+}/delete", role=Role.ADMIN)
async def delete_reward(ctx: RequestContext) -> web.StreamResponse:
    r = await _reward_or_404(ctx)
    await PointsReward.filter(id=r.id).update(deleted=True, active=False)
    return json_ok({"ok": True})


def image_dir(deps: Deps) -> Path:
    return folder(deps.settings, "points")


@router.post(r"/api/points/rewards/{rid:\d+}/image", role=Role.ADMIN)
async def upload_image(ctx: RequestContext) -> web.StreamResponse:
    r = await _reward_or_404(ctx)
    folder = image_dir(ctx.deps)
    form = await read_multipart(ctx.request, folder, IMAGE_LIMIT, IMAGE_LIMIT + 64 * 1024)
    uploads = form.files.get("image") or []
    if not uploads:
        raise ApiError(400, "请选择奖品图片", "image")
    upload = uploads[0]
    try:
        with Image.open(upload.path) as img:
            img.thumbnail((800, 800))
            out = io.BytesIO()
            img.convert("RGB").save(out, "JPEG", quality=85)
    except (UnidentifiedImageError, OSError) as exc:
        raise ApiError(
            400, "奖品图片的文件内容不是 PNG/JPEG/GIF/WebP 图片，请重新选择", "image"
        ) from exc
    finally:
        upload.path.unlink(missing_ok=True)
    data = out.getvalue()
    name = hashlib.sha256(data).hexdigest()[:32] + ".jpg"
    (folder / name).write_bytes(data)
    await PointsReward.filter(id=r.id).update(image=f"/p-img/{name}")
    return json_ok({"image": f"/p-img/{name}"})


@router.get(r"/p-img/{name:[0-9a-f]{32}\.jpg}", role=None)
async def reward_image(ctx: RequestContext) -> web.StreamResponse:
    path = image_dir(ctx.deps) / ctx.request.match_info["name"]
    if not path.is_file():
        raise ApiError(404, "图片不存在")
    return web.FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})


# --- customers ------------------------------------------------------------------------------


async def _names(exts: list[str]) -> dict[str, str]:
    rows = await Customer.filter(external_userid__in=exts).values_list("external_userid", "name")
    return {str(e): str(n) for e, n in rows}


async def _customer_query(ctx: RequestContext) -> Any:
    q = ctx.request.query
    rows = PointsAccount.all()
    if text := q.get("q", "").strip()[:64]:
        ids = (
            await Customer.filter(name__icontains=text)
            .limit(5000)
            .values_list("external_userid", flat=True)
        )
        rows = rows.filter(Q(external_userid=text) | Q(external_userid__in=list(ids)))
    for name, field, label in (
        ("min_balance", "balance__gte", "最低积分"),
        ("min_streak", "streak__gte", "最少连续签到天数"),
    ):
        if (value := _whole(q.get(name, ""), label, name)) is not None:
            rows = rows.filter(**{field: value})
    if q.get("blocked") == "1":
        blocked = await PointsBlock.all().values_list("external_userid", flat=True)
        rows = rows.filter(external_userid__in=list(blocked))
    return rows.order_by("-balance", "external_userid")


async def _customer_rows(deps: Deps, accounts: list[PointsAccount]) -> list[dict[str, Any]]:
    exts = [a.external_userid for a in accounts]
    names = await _names(exts)
    blocked = {
        str(e)
        for e in await PointsBlock.filter(external_userid__in=exts).values_list(
            "external_userid", flat=True
        )
    }
    from handlers.points.rules import current_streak

    return [
        {
            "external_userid": a.external_userid,
            "name": names.get(a.external_userid, ""),
            "balance": a.balance,
            "held": a.held,
            "earned": a.earned,
            "streak": current_streak(deps, a.last_signin, a.streak),
            "signin_days": a.signin_days,
            "last_signin": a.last_signin.isoformat() if a.last_signin else None,
            "blocked": a.external_userid in blocked,
            "link": deps.url(personal_path(deps, a.external_userid)),
        }
        for a in accounts
    ]


@router.get("/api/points/customers", role=Role.ADMIN)
async def customers(ctx: RequestContext) -> web.StreamResponse:
    page, size = page_params(ctx.request)
    rows = await _customer_query(ctx)
    total = await rows.count()
    accounts = await rows.offset((page - 1) * size).limit(size)
    return json_ok(
        {"items": await _customer_rows(ctx.deps, accounts), "total": total, "size": size}
    )


@router.get("/api/points/customers/export", role=Role.ADMIN)
async def export_customers(ctx: RequestContext) -> web.StreamResponse:
    accounts = await (await _customer_query(ctx)).limit(100_000)
    items = await _customer_rows(ctx.deps, accounts)
    headers = [
        "客户",
        "external_userid",
        "积分余额",
        "兑换中",
        "累计获得",
        "连续签到",
        "累计签到",
        "最近签到",
        "黑名单",
    ]
    rows = [
        [
            i["name"],
            i["external_userid"],
            i["balance"],
            i["held"],
            i["earned"],
            i["streak"],
            i["signin_days"],
            i["last_signin"] or "",
            "是" if i["blocked"] else "",
        ]
        for i in items
    ]
    return xlsx_response("社群积分客户.xlsx", headers, rows, ctx.deps.settings.tz)


class AdjustForm(BaseModel):
    external_userids: list[str] = Field(default_factory=list, max_length=MAX_BATCH, title="客户")
    chat_ids: list[str] = Field(default_factory=list, max_length=50, title="客户群")
    points: int = Field(ge=-1_000_000, le=1_000_000, title="积分")
    reason: str = Field(min_length=1, max_length=100, title="原因")
    request_id: str = Field(
        min_length=8, max_length=40, pattern=r"^[A-Za-z0-9_-]+$", title="请求编号"
    )


async def adjust(
    deps: Deps, user: Principal, exts: list[str], points: int, reason: str, request_id: str
) -> dict[str, Any]:
    """Award (points > 0) or deduct to each customer once per request: the key is
    (request, customer), so a retried batch changes nobody twice."""
    if points == 0:
        raise ApiError(400, "积分不能为 0", "points")
    cfg, _ = await program()
    done, refused = 0, []
    for ext in sorted(set(exts)):
        key = f"manual:{request_id}:{ext}"
        try:
            if points > 0:
                from handlers.points.rules import expires_at

                got = await ledger.credit(
                    deps,
                    ext,
                    points,
                    key=key,
                    kind=EntryKind.MANUAL,
                    rule="manual",
                    reason=reason,
                    created_by=user.userid,
                    expires_at=expires_at(deps, cfg, deps.now()),
                )
            else:
                got = await ledger.debit(
                    deps,
                    ext,
                    -points,
                    key=key,
                    kind=EntryKind.MANUAL,
                    rule="manual",
                    reason=reason,
                    created_by=user.userid,
                )
        except ledger.LedgerRefused as exc:
            refused.append({"external_userid": ext, "error": exc.message})
            continue
        done += got is not None
    return {"done": done, "refused": refused}


@router.post("/api/points/adjust", role=Role.ADMIN)
async def batch_adjust(ctx: RequestContext) -> web.StreamResponse:
    form = await read_json(ctx.request, AdjustForm)
    exts = list(form.external_userids)
    if form.chat_ids:
        members = await GroupMember.filter(chat_id__in=form.chat_ids, member_type=2).values_list(
            "member_id", flat=True
        )
        exts += [str(m) for m in members]
    if not exts:
        raise ApiError(400, "请选择客户或客户群", "external_userids")
    if len(set(exts)) > MAX_BATCH:
        raise ApiError(400, f"一次最多调整 {MAX_BATCH} 位客户", "external_userids")
    result = await adjust(ctx.deps, _user(ctx), exts, form.points, form.reason, form.request_id)
    return json_ok(result)


# --- ledger ---------------------------------------------------------------------------------


def _whole(raw: str, label: str, name: str) -> int | None:
    """An optional whole-number filter within the points columns' range."""
    if not raw:
        return None
    digits = raw.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 9:
        raise ApiError(400, f"{label}应为不超过 9 位的整数", name)
    return int(raw)


def _day(raw: str, label: str) -> date | None:
    """An optional YYYY-MM-DD filter; years outside 1970–2999 are refused (a day past
    9999-12-31 cannot be computed)."""
    if not raw:
        return None
    try:
        value = date.fromisoformat(raw) if raw.isascii() and len(raw) <= 10 else None
    except ValueError:
        value = None
    if value is None or not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ApiError(400, f"{label}格式应为 YYYY-MM-DD", label)
    return value


@router.get("/api/points/ledger", role=Role.ADMIN)
async def ledger_view(ctx: RequestContext) -> web.StreamResponse:
    q = ctx.request.query
    page, size = page_params(ctx.request)
    rows = PointsEntry.all()
    if ext := q.get("external_userid", "").strip()[:64]:
        rows = rows.filter(external_userid=ext)
    if (kind := q.get("kind", "")) and kind in KIND_TEXT:
        rows = rows.filter(kind=kind)
    if rule := q.get("rule", "")[:32]:
        rows = rows.filter(rule=rule)
    tz = ctx.deps.settings.tz
    if since := _day(q.get("since", ""), "开始日期"):
        rows = rows.filter(at__gte=at_local(since, time(0), tz).astimezone(UTC))
    if until := _day(q.get("until", ""), "结束日期"):
        end = at_local(until + timedelta(days=1), time(0), tz)
        rows = rows.filter(at__lt=end.astimezone(UTC))
    total = await rows.count()
    entries = await rows.order_by("-at", "-id").offset((page - 1) * size).limit(size)
    names = await _names([e.external_userid for e in entries])
    reversed_ids = {
        str(ref)
        for ref in await PointsEntry.filter(
            kind=EntryKind.REVERSE, ref__in=[str(e.id) for e in entries]
        ).values_list("ref", flat=True)
    }
    items = [
        {
            "id": e.id,
            "at": _iso(e.at),
            "external_userid": e.external_userid,
            "name": names.get(e.external_userid, ""),
            "kind": e.kind,
            "kind_text": KIND_TEXT.get(e.kind, e.kind),
            "rule": e.rule,
            "amount": e.amount,
            "reason": e.reason,
            "created_by": e.created_by,
            "reversible": e.kind in ledger.REVERSIBLE
            and e.amount != 0
            and str(e.id) not in reversed_ids,
        }
        for e in entries
    ]
    return json_ok({"items": items, "total": total, "size": size})


class ReverseForm(BaseModel):
    reason: str = Field("", max_length=100, title="原因")


@router.post(r"/api/points/ledger/{eid:\d+}/reverse", role=Role.ADMIN)
async def reverse_entry(ctx: RequestContext) -> web.StreamResponse:
    form = await read_json(ctx.request, ReverseForm)
    cfg, _ = await program()
    posted = await ledger.reverse(
        ctx.deps,
        int(ctx.request.match_info["eid"]),
        by=_user(ctx).userid,
        allow_negative=cfg.reversal_negative,
        reason=form.reason,
    )
    return json_ok({"id": posted.entry.id, "balance": posted.balance})


# --- redemptions and the blacklist ---------------------------------------------------------


@router.get("/api/points/redemptions", role=Role.ADMIN)
async def redemptions(ctx: RequestContext) -> web.StreamResponse:
    page, size = page_params(ctx.request)
    rows = PointsRedemption.all()
    if (state := ctx.request.query.get("state", "")) in ("pending", "fulfilled", "released"):
        rows = rows.filter(state=state)
    total = await rows.count()
    items = await rows.order_by("-id").offset((page - 1) * size).limit(size)
    names = await _names([r.external_userid for r in items])
    staff = dict(
        await Staff.filter(
            userid__in={r.userid for r in items} | {r.fulfilled_by for r in items}
        ).values_list("userid", "name")
    )
    return json_ok(
        {
            "items": [
                {
                    "id": r.id,
                    "name": names.get(r.external_userid, ""),
                    "external_userid": r.external_userid,
                    "reward": r.reward_name,
                    "cost": r.cost,
                    "state": r.state,
                    "owner": staff.get(r.userid, r.userid),
                    "fulfilled_by": staff.get(r.fulfilled_by, r.fulfilled_by),
                    "created_at": _iso(r.created_at),
                    "release_at": _iso(r.release_at),
                }
                for r in items
            ],
            "total": total,
            "size": size,
        }
    )


@router.post(r"/api/points/redemptions/{rid:\d+}/fulfil", role=Role.ADMIN)
async def fulfil_redemption(ctx: RequestContext) -> web.StreamResponse:
    if not await redeem.fulfil(ctx.deps, int(ctx.request.match_info["rid"]), _user(ctx).userid):
        raise ApiError(409, "该兑换已发放或已退回")
    return json_ok({"ok": True})


class BlockForm(BaseModel):
    external_userid: str = Field(min_length=1, max_length=64, title="客户")
    reason: str = Field("", max_length=100, title="原因")
    blocked: bool = Field(True, title="加入黑名单")


@router.post("/api/points/blacklist", role=Role.ADMIN)
async def blacklist(ctx: RequestContext) -> web.StreamResponse:
    form = await read_json(ctx.request, BlockForm)
    if form.blocked:
        await PointsBlock.update_or_create(
            external_userid=form.external_userid,
            defaults={"reason": form.reason, "created_by": _user(ctx).userid, "at": ctx.deps.now()},
        )
    else:
        await PointsBlock.filter(external_userid=form.external_userid).delete()
    return json_ok({"ok": True})


# --- the sidebar 客户画像 block -----------------------------------------------------------------


async def _followed(ctx: RequestContext, ext: str) -> None:
    user = _user(ctx)
    if user.sees_all:
        return
    from bot.http import scope_userids

    scope = await scope_userids(user) if user.role >= Role.DEPT_ADMIN else {user.userid}
    rels = FollowRelation.filter(external_userid=ext, active=True)
    if scope is not None and not await rels.filter(userid__in=sorted(scope)).exists():
        raise ApiError(403, "没有权限查看该客户：只能查看自己添加的客户")


@router.get("/api/points/profile", role=Role.STAFF)
async def profile_block(ctx: RequestContext) -> web.StreamResponse:
    ext = ctx.request.query.get("external_userid", "")[:64]
    if not ext:
        raise ApiError(400, "请选择客户", "external_userid")
    await _followed(ctx, ext)
    acc = await ledger.account(ext)
    cfg, _ = await program()
    entries = await PointsEntry.filter(external_userid=ext).order_by("-at", "-id").limit(10)
    from handlers.points.rules import current_streak

    return json_ok(
        {
            "enabled": cfg.enabled,
            "balance": acc.balance,
            "held": acc.held,
            "streak": current_streak(ctx.deps, acc.last_signin, acc.streak),
            "signin_days": acc.signin_days,
            "last_signin": acc.last_signin.isoformat() if acc.last_signin else None,
            "blocked": await PointsBlock.exists(external_userid=ext),
            "limit": None if _user(ctx).sees_all else cfg.staff_limit,
            "link": ctx.deps.url(personal_path(ctx.deps, ext)),
            "entries": [
                {
                    "at": _iso(e.at),
                    "amount": e.amount,
                    "reason": e.reason,
                    "kind": KIND_TEXT.get(e.kind, e.kind),
                }
                for e in entries
            ],
        }
    )


class StaffAdjustForm(BaseModel):
    external_userid: str = Field(min_length=1, max_length=64, title="客户")
    points: int = Field(ge=-1_000_000, le=1_000_000, title="积分")
    reason: str = Field(min_length=1, max_length=100, title="原因")
    request_id: str = Field(
        min_length=8, max_length=40, pattern=r"^[A-Za-z0-9_-]+$", title="请求编号"
    )


@router.post("/api/points/profile/adjust", role=Role.STAFF)
async def staff_adjust(ctx: RequestContext) -> web.StreamResponse:
    form = await read_json(ctx.request, StaffAdjustForm)
    await _followed(ctx, form.external_userid)
    cfg, _ = await program()
    user = _user(ctx)
    if not user.sees_all and abs(form.points) > cfg.staff_limit:
        raise ApiError(400, f"积分单次调整不能超过 {cfg.staff_limit} 分", "points")
    result = await adjust(
        ctx.deps, user, [form.external_userid], form.points, form.reason, form.request_id
    )
    if result["refused"]:
        raise ApiError(409, result["refused"][0]["error"], "points")
    acc = await ledger.account(form.external_userid)
    return json_ok({"balance": acc.balance})
