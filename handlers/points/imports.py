"""Import points from a CSV or Excel file of (客户, 积分, 原因) rows.

The customer is named by external_userid, or by a phone number or a name that matches
exactly one customer (an ambiguous or unknown one refuses the row). Uploading stores the
parsed rows and answers a row-by-row preview; applying writes every row in one transaction —
all or nothing (a refused row, or a deduction beyond a balance, applies none) — and is
idempotent: each row's entry is keyed by (import, row), and an applied import answers its
result again."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from aiohttp import web
from openpyxl import load_workbook
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot.auth_types import Principal, Role
from bot.deps import Deps
from bot.http import ApiError, RequestContext, json_ok
from bot.multipart import read_multipart
from handlers.points import ledger
from handlers.points.admin import image_dir
from handlers.points.config import program
from handlers.points.router import router
from handlers.points.rules import expires_at
from storage.facts import Customer, FollowRelation
from storage.points import EntryKind, PointsEntry, PointsImport, PointsLot, PointsProfile

FILE_LIMIT = 5 * 1024 * 1024
MAX_ROWS = 5000
HEADERS = {"客户": "who", "积分": "points", "原因": "reason"}


def _cells(path: Path, filename: str) -> list[list[str]]:
    """The file's rows as text cells (first sheet of a workbook)."""
    if filename.lower().endswith(".xlsx"):
        try:
            book = load_workbook(io.BytesIO(path.read_bytes()), read_only=True, data_only=True)
        except Exception as exc:
            raise ApiError(400, "文件不是有效的 Excel（.xlsx）文件", "file") from exc
        sheet = book.worksheets[0]
        rows = [
            ["" if c is None else str(c).strip() for c in row]
            for row in sheet.iter_rows(values_only=True)
        ]
        book.close()
        return rows
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ApiError(400, "文件编码无法识别，请保存为 UTF-8 的 CSV", "file")
    return [[c.strip() for c in row] for row in csv.reader(io.StringIO(text))]


async def _resolve(who: str) -> tuple[str, str]:
    """(external_userid, error) for a customer named by id, phone or exact name."""
    if await Customer.exists(external_userid=who):
        return who, ""
    if who.isdigit() and len(who) == 11:
        found = await PointsProfile.filter(phone=who).values_list("external_userid", flat=True)
        matches = {str(f) for f in found}
    else:
        by_name = await Customer.filter(name=who).values_list("external_userid", flat=True)
        by_remark = await FollowRelation.filter(remark=who).values_list(
            "external_userid", flat=True
        )
        matches = {str(f) for f in [*by_name, *by_remark]}
    if len(matches) == 1:
        return matches.pop(), ""
    if not matches:
        return "", "找不到这位客户"
    return "", f"有 {len(matches)} 位客户匹配，请改用 external_userid"


async def preview_rows(cells: list[list[str]]) -> list[dict[str, Any]]:
    if not cells:
        raise ApiError(400, "文件是空的", "file")
    header = [c.strip() for c in cells[0]]
    columns = {HEADERS[h]: i for i, h in enumerate(header) if h in HEADERS}
    missing = [h for h, k in HEADERS.items() if k not in columns and k != "reason"]
    if missing:
        raise ApiError(
            400, f"第 1 行应为表头：客户、积分、原因（缺少：{'、'.join(missing)}）", "file"
        )
    body = [r for r in cells[1:] if any(r)]
    if len(body) > MAX_ROWS:
        raise ApiError(400, f"一次最多导入 {MAX_ROWS} 行", "file")
    out = []
    for n, row in enumerate(body, start=2):

        def cell(key: str, row: list[str] = row) -> str:
            i = columns.get(key)
            return row[i] if i is not None and i < len(row) else ""

        who, raw_points, reason = cell("who"), cell("points"), cell("reason") or "导入"
        item: dict[str, Any] = {"row": n, "who": who, "reason": reason[:100], "points": 0}
        try:
            points = int(float(raw_points))
        except ValueError:
            points = 0
        if not who:
            item["error"] = "客户为空"
        elif points == 0 or abs(points) > 1_000_000:
            item["error"] = "积分应为非零整数"
        else:
            ext, error = await _resolve(who)
            item |= {"external_userid": ext, "points": points}
            if error:
                item["error"] = error
        out.append(item)
    return out


def _summary(imp: PointsImport) -> dict[str, Any]:
    rows = imp.rows or []
    return {
        "id": imp.id,
        "filename": imp.filename,
        "state": imp.state,
        "rows": rows,
        "ok": sum(1 for r in rows if not r.get("error")),
        "refused": sum(1 for r in rows if r.get("error")),
    }


@router.post("/api/points/import", role=Role.ADMIN)
async def upload(ctx: RequestContext) -> web.StreamResponse:
    form = await read_multipart(
        ctx.request, image_dir(ctx.deps), FILE_LIMIT, FILE_LIMIT + 64 * 1024
    )
    files = form.files.get("file") or []
    if not files:
        raise ApiError(400, "请选择要导入的文件", "file")
    upload_ = files[0]
    try:
        if not upload_.filename.lower().endswith((".csv", ".xlsx")):
            raise ApiError(400, "请上传 CSV 或 Excel（.xlsx）文件", "file")
        cells = _cells(upload_.path, upload_.filename)
    finally:
        upload_.path.unlink(missing_ok=True)
    rows = await preview_rows(cells)
    assert ctx.user is not None
    imp = await PointsImport.create(
        filename=upload_.filename[:128],
        rows=rows,
        created_by=ctx.user.userid,
        created_at=ctx.deps.now(),
    )
    return json_ok(_summary(imp), status=201)


async def apply(deps: Deps, import_id: int, user: Principal) -> dict[str, Any]:
    imp = await PointsImport.get_or_none(id=import_id)
    if imp is None:
        raise ApiError(404, "导入记录不存在")
    if imp.state == "applied":
        return _summary(imp)
    rows = imp.rows or []
    bad = [r for r in rows if r.get("error")]
    if bad:
        first = bad[0]
        raise ApiError(400, f"第 {first['row']} 行：{first['error']}。请修改文件后重新上传")
    cfg, _ = await program()
    posted: list[ledger.Posted] = []
    try:
        async with in_transaction() as tx:
            for r in rows:
                key = f"import:{imp.id}:{r['row']}"
                if await PointsEntry.filter(key=key).using_db(tx).exists():
                    continue  # applied before a crash: once per row
                ext, points = str(r["external_userid"]), int(r["points"])
                reason = f"导入：{r['reason']}"
                if points > 0:
                    got = await ledger.credit(
                        deps,
                        ext,
                        points,
                        key=key,
                        kind=EntryKind.IMPORT,
                        rule="import",
                        reason=reason,
                        created_by=user.userid,
                        ref=str(imp.id),
                        expires_at=expires_at(deps, cfg, deps.now()),
                        conn=tx,
                    )
                else:
                    got = await ledger.debit_locked(
                        tx,
                        deps,
                        ext,
                        -points,
                        key=key,
                        kind=EntryKind.IMPORT,
                        rule="import",
                        reason=reason,
                        created_by=user.userid,
                        ref=str(imp.id),
                        what=f"第 {r['row']} 行",
                    )
                if got is not None:
                    posted.append(got)
            moved = (
                await PointsImport.filter(id=imp.id, state="preview")
                .using_db(tx)
                .update(state="applied", applied_at=deps.now())
            )
            if not moved:
                raise IntegrityError("applied meanwhile")
    except IntegrityError:
        return _summary(await PointsImport.get(id=imp.id))
    for p in posted:
        await ledger.after_credit(deps, p, await _lot_expiry(p))
    return _summary(await PointsImport.get(id=imp.id))


async def _lot_expiry(posted: ledger.Posted) -> Any:
    lot = await PointsLot.get_or_none(entry_id=posted.entry.id)
    return lot.expires_at if lot is not None else None


@router.post(r"/api/points/import/{iid:\d+}/apply", role=Role.ADMIN)
async def apply_view(ctx: RequestContext) -> web.StreamResponse:
    assert ctx.user is not None
    return json_ok(await apply(ctx.deps, int(ctx.request.match_info["iid"]), ctx.user))


@router.get(r"/api/points/import/{iid:\d+}", role=Role.ADMIN)
async def show(ctx: RequestContext) -> web.StreamResponse:
    imp = await PointsImport.get_or_none(id=int(ctx.request.match_info["iid"]))
    if imp is None:
        raise ApiError(404, "导入记录不存在")
    return json_ok(_summary(imp))
