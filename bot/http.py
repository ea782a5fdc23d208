"""What every HTTP view shares: the request context, the role/CSRF gate around a view, JSON
in and out with Chinese error messages, paging and Excel exports."""

from __future__ import annotations

import asyncio
import html
import io
import json
import logging
import os
import tempfile
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import pydantic
from aiohttp import web
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from bot.auth import csrf_ok, current_user, login_url_for, scope_userids
from bot.auth_types import Principal, Role
from bot.deps import Deps
from bot.router import HttpRoute
from bot.validation import explain_validation_error
from bot.web_keys import DEPS_KEY

__all__ = [
    "ApiError",
    "XlsxWriter",
    "RequestContext",
    "json_ok",
    "page_params",
    "redirect",
    "read_json",
    "scope_userids",
    "wrap_view",
    "xlsx_response",
]

log = logging.getLogger(__name__)

MAX_JSON_BYTES = 1024 * 1024
MAX_PAGE_SIZE = 100
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
M = TypeVar("M", bound=pydantic.BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """A 4xx the person can act on; `message` is Chinese, `field` names the bad input."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


@dataclass(frozen=True)
class RequestContext:
    request: web.Request
    deps: Deps
    user: Principal | None


def json_ok(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def error_response(exc: ApiError) -> web.Response:
    return web.json_response(
        {"error": exc.message, "field": exc.field}, status=exc.status, dumps=_dumps
    )


# --- the gate around every view ------------------------------------------------------------


def _is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/") or request.path == "/api"


def _referer_path(request: web.Request) -> str:
    """The page that made an API call, so the login link brings the person back to it."""
    parts = urlsplit(request.headers.get("Referer", ""))
    if parts.netloc and parts.netloc != request.host:
        return "/admin"
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return path if path.startswith("/") and not path.startswith("//") else "/admin"


def _login_required(request: web.Request) -> web.StreamResponse:
    if _is_api(request):
        url = login_url_for(_referer_path(request))
        return web.json_response({"error": "请先登录", "login": url}, status=401, dumps=_dumps)
    return redirect(login_url_for(request.path_qs))


def redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})


def _forbidden(request: web.Request, role: Role) -> web.Response:
    message = f"没有权限：需要{role.label}"
    if _is_api(request):
        return web.json_response({"error": message}, status=403, dumps=_dumps)
    return message_page(403, "没有权限", message)


def message_page(status: int, title: str, message: str) -> web.Response:
    """A small Chinese page for people who reached a dead end (login refused, no role)."""
    body = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<title>{html.escape(title)}</title><link rel="stylesheet" href="/static/common/ui.css">'
        f'</head><body class="message-page"><main><h1>{html.escape(title)}</h1>'
        f"<p>{html.escape(message)}</p></main></body></html>"
    )
    return web.Response(status=status, text=body, content_type="text/html", charset="utf-8")


def wrap_view(route: HttpRoute) -> Handler:
    """Adapt a feature view to aiohttp: session, role, CSRF, then `view(RequestContext)`."""

    async def handler(request: web.Request) -> web.StreamResponse:
        deps = request.app[DEPS_KEY]
        user = await current_user(request, deps.signer, deps.settings, deps.dispatcher)
        if route.role is not None:
            if user is None:
                return _login_required(request)
            if user.role < route.role:
                return _forbidden(request, route.role)
        if "\x00" in request.query_string or "%00" in request.query_string:
            # No text column stores NUL (PostgreSQL refuses it): a 400 here, not a 500 later.
            return error_response(ApiError(400, "请求参数含有无效字符"))
        if route.csrf and request.method not in SAFE_METHODS and not csrf_ok(request, deps.signer):
            return web.json_response(
                {"error": "CSRF 校验失败，请刷新页面"}, status=403, dumps=_dumps
            )
        try:
            return await route.view(RequestContext(request, deps, user))  # type: ignore[no-any-return]
        except ApiError as exc:
            return error_response(exc)

    handler.__name__ = getattr(route.view, "__name__", "view")
    handler.__qualname__ = getattr(route.view, "__qualname__", "view")
    return handler


# --- input -----------------------------------------------------------------------------------


async def read_body(request: web.Request, limit: int = MAX_JSON_BYTES) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, f"请求内容过大（上限 {limit // 1024} KB）")
    chunks, size = [], 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"请求内容过大（上限 {limit // 1024} KB）")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: web.Request, model: type[M]) -> M:
    """Parse and validate a JSON body; every failure is a 4xx with a Chinese message."""
    raw = await read_body(request)
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "请求内容不是有效的 JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "请求内容必须是一个 JSON 对象")
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        message, field = explain_validation_error(exc, model)
        raise ApiError(400, message, field) from None


MAX_ID = 2**31 - 1  # the id columns are 32-bit integers on PostgreSQL
MIN_YEAR, MAX_YEAR = 1970, 2999


def parse_id(raw: str) -> int | None:
    """A database id written in ASCII digits and within the column's range, or None
    ("²" and "１" pass str.isdigit() but not int(); 20 digits overflow the column)."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10 or int(raw) > MAX_ID:
        return None
    return int(raw)


def path_id(request: web.Request, name: str = "id", missing: str = "找不到该记录") -> int:
    """A numeric id from the URL path; anything else (letters, "²", too large) is a 404."""
    found = parse_id(request.match_info.get(name, ""))
    if found is None:
        raise ApiError(404, missing)
    return found


def query_id(request: web.Request, name: str, label: str) -> int | None:
    """An optional id filter from the query string: absent → None, malformed → 400."""
    raw = request.query.get(name, "")
    if not raw:
        return None
    found = parse_id(raw)
    if found is None:
        raise ApiError(400, f"{label}无效", name)
    return found


def day_param(request: web.Request, name: str, tz: tzinfo) -> datetime | None:
    """A date (2024-05-01) or date-time query parameter; without a zone it is the corp's."""
    raw = request.query.get(name, "")
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw) if raw.isascii() and len(raw) <= 40 else None
    except ValueError:
        value = None
    # Years near 1 or 9999 overflow once a day is added or the zone is converted.
    if value is None or not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ApiError(400, f"参数 {name} 不是有效的日期（例如 2024-05-01）", name)
    return value if value.tzinfo else value.replace(tzinfo=tz)


def text_param(request: web.Request, name: str, label: str, max_length: int = 64) -> str:
    """A free-text filter; longer than the column it is compared with is a 400, not a 500."""
    raw = request.query.get(name, "")
    if len(raw) > max_length or "\x00" in raw:
        raise ApiError(400, f"{label}过长或含有无效字符（最多 {max_length} 个字符）", name)
    return raw


def int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name, "")
    if not raw:
        return default
    if not (raw.lstrip("-").isascii() and raw.lstrip("-").isdigit()) or len(raw) > 12:
        raise ApiError(400, f"参数 {name} 必须是整数", name)
    value = int(raw)
    if not low <= value <= high:
        raise ApiError(400, f"参数 {name} 必须在 {low} 到 {high} 之间", name)
    return value


def page_params(request: web.Request, default_size: int = 20) -> tuple[int, int]:
    """`?page=` (from 1) and `?size=` (up to 100)."""
    page = int_param(request, "page", 1, 1, 100_000)
    size = int_param(request, "size", default_size, 1, MAX_PAGE_SIZE)
    return page, size


# --- Excel export ----------------------------------------------------------------------------


def _cell_value(value: Any, tz: tzinfo) -> Any:
    if isinstance(value, datetime):
        # Excel has no time zones: show the corp's local time, as people read it.
        return value.astimezone(tz).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list | tuple | set | frozenset):
        return "、".join(str(v) for v in value)
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


def _row(sheet: Any, values: Iterable[Any], tz: tzinfo, bold: bool = False) -> list[Any]:
    cells = []
    for value in values:
        cell = WriteOnlyCell(sheet, value=_cell_value(value, tz))
        if isinstance(cell.value, str):
            cell.data_type = "s"  # "=..." from a customer's name must never become a formula
        if bold:
            cell.font = Font(bold=True)
        cells.append(cell)
    return cells


def _disposition(filename: str) -> dict[str, str]:
    if not filename.lower().endswith(".xlsx"):
        filename += ".xlsx"
    fallback = filename if filename.isascii() else "export.xlsx"
    fallback = fallback.replace('"', "").replace("\\", "")
    return {
        "Content-Type": XLSX_TYPE,
        "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}",
        "Cache-Control": "no-store",
    }


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_response(
    filename: str, headers: list[str], rows: Iterable[list[Any]], tz: tzinfo
) -> web.Response:
    """An .xlsx download: a bold Chinese header row, then the rows; times in `tz` (pass
    `settings.tz`: the corp's zone, as people read it)."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("导出")
    sheet.append(_row(sheet, headers, tz, bold=True))
    for row in rows:
        sheet.append(_row(sheet, row, tz))
    buf = io.BytesIO()
    book.save(buf)
    head = _disposition(filename)
    body = buf.getvalue()
    return web.Response(body=body, content_type=head.pop("Content-Type"), headers=head)


class XlsxWriter:
    """A large .xlsx export that never stalls the web process: rows are added in chunks (the
    caller reads them from the database a chunk at a time), cells are built and the file is
    compressed in a worker thread, and the file is streamed from a temporary file."""

    def __init__(self, headers: list[str], tz: tzinfo) -> None:
        self.tz = tz
        self.headers = headers
        self.book = Workbook(write_only=True)
        self.sheet: Any = None

    def _open(self) -> Any:
        # Started with the first rows, not in __init__: a request refused before any row (a bad
        # filter) must not leave a half-written sheet for the garbage collector to trip on.
        if self.sheet is None:
            self.sheet = self.book.create_sheet("导出")
            self.sheet.append(_row(self.sheet, self.headers, self.tz, bold=True))
        return self.sheet

    def _append(self, rows: list[list[Any]]) -> None:
        sheet = self._open()
        for row in rows:
            sheet.append(_row(sheet, row, self.tz))

    async def add(self, rows: Iterable[list[Any]]) -> None:
        await asyncio.to_thread(self._append, [list(r) for r in rows])

    async def response(self, request: web.Request, filename: str) -> web.StreamResponse:
        fd, path = tempfile.mkstemp(suffix=".xlsx")
        os.close(fd)
        try:
            await asyncio.to_thread(self._append, [])
            await asyncio.to_thread(self.book.save, path)
            response = web.StreamResponse(headers=_disposition(filename))
            response.content_length = await asyncio.to_thread(os.path.getsize, path)
            await response.prepare(request)
            with open(path, "rb") as f:  # noqa: ASYNC230 - chunks are read in a thread
                while chunk := await asyncio.to_thread(f.read, 256 * 1024):
                    await response.write(chunk)
            await response.write_eof()
            return response
        finally:
            os.unlink(path)
