"""Images and videos for moments content: uploaded once in the editor (the type read from
the bytes, a video's length from its MP4 header), kept on disk, and sent to WeCom's
upload_attachment again for every run, since its media ids live 3 days (W10)."""

from __future__ import annotations

import struct
from pathlib import Path

from aiohttp import web

from bot.auth_types import Role
from bot.http import ApiError, RequestContext, json_ok
from bot.multipart import read_multipart
from bot.settings import Settings
from bot.uploads import IMAGES, VIDEO_HELP, file_response, folder, new_name, sniff, stored
from handlers.sop.plans import FILE_RE
from handlers.sop.router import router

MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_VIDEO_BYTES = 10 * 1024 * 1024  # W8: a moments video is at most 10 MB and 30 s
MAX_VIDEO_SECONDS = 30


def upload_dir(settings: Settings) -> Path:
    return folder(settings, "sop")


def file_path(settings: Settings, name: str) -> Path | None:
    return stored(settings, "sop", name) if FILE_RE.match(name) else None


def mp4_seconds(path: Path) -> float | None:
    """The movie's duration from its `mvhd` box (version 0 or 1), or None if not found."""
    with open(path, "rb") as f:
        data = f.read(4 * 1024 * 1024)
    at = data.find(b"mvhd")
    if at < 0:
        return None
    body = data[at + 4 :]
    version = body[0] if body else 0
    try:
        if version == 1:
            timescale, duration = struct.unpack(">IQ", body[20:32])
        else:
            timescale, duration = struct.unpack(">II", body[12:20])
    except struct.error:
        return None
    return duration / timescale if timescale else None


@router.post("/api/sop/media", role=Role.DEPT_ADMIN)
async def upload(ctx: RequestContext) -> web.StreamResponse:
    """One file (field `file`, `kind` image or video); its stored name for the item."""
    settings = ctx.deps.settings
    parts = await read_multipart(
        ctx.request, upload_dir(settings), MAX_IMAGE_BYTES, MAX_IMAGE_BYTES + 1024 * 1024
    )
    kind = parts.fields.get("kind", "image")
    if kind not in ("image", "video"):
        raise ApiError(400, "文件类型只能是图片或视频", "kind")
    files = parts.files.get("file", [])
    label = "图片" if kind == "image" else "视频"
    if len(files) != 1:
        raise ApiError(400, f"请选择一个{label}文件", "file")
    data = files[0]
    ext = sniff(data.head[:16])
    if ext is None or ext not in (IMAGES if kind == "image" else ("mp4",)):
        wanted = "PNG/JPEG/GIF/WebP 图片" if kind == "image" else VIDEO_HELP
        raise ApiError(400, f"{label}的文件内容不是{wanted}，请重新选择", "file")
    if kind == "video":
        if data.size > MAX_VIDEO_BYTES:
            raise ApiError(400, "视频不能超过 10MB（企业微信朋友圈的限制）", "file")
        seconds = mp4_seconds(data.path)
        if seconds is None:
            raise ApiError(400, "视频无法读取时长，请重新导出为 MP4", "file")
        if seconds > MAX_VIDEO_SECONDS:
            raise ApiError(
                400, f"视频时长 {seconds:.0f} 秒，企业微信朋友圈视频不能超过 30 秒", "file"
            )
    name = new_name(ext)
    data.keep_as(upload_dir(settings) / name)
    return json_ok({"name": name, "url": f"/api/sop/media/{name}", "kind": kind}, 201)


@router.get("/api/sop/media/{name}", role=Role.STAFF)
async def media_file(ctx: RequestContext) -> web.StreamResponse:
    name = ctx.request.match_info["name"]
    path = file_path(ctx.deps.settings, name)
    if path is None:
        raise ApiError(404, "文件不存在")
    return file_response(path)
