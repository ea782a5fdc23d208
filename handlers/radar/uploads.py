"""Uploaded radar content: the type is read from the file's first bytes (never from its name
or the browser's claim), the size is capped while streaming, and files get random names."""

from __future__ import annotations

import logging
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.http import ApiError
from bot.multipart import Upload, read_multipart
from bot.settings import Settings

log = logging.getLogger(__name__)

KINDS = {
    "pdf": ("pdf",),
    "image": ("png", "jpg", "gif", "webp"),
    "video": ("mp4",),
}
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "mp4": "video/mp4",
}
# ISO-BMFF major brands of MP4 files (H.264/AAC plays in WeChat's browser); AVIF/HEIC images
# and QuickTime movies share the container but not the brand, and do not play there.
MP4_BRANDS = frozenset(
    {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V ", b"MSNV"}
    | {b"dash", b"mmp4"}
)
VIDEO_HELP = "MP4 视频（H.264 视频 + AAC 音频，可在微信内直接播放）；不支持 MOV、HEIC、AVIF 等格式"
NAME_RE = re.compile(r"^[A-Za-z0-9_-]{16,40}\.(pdf|png|jpg|gif|webp|mp4)$")
_PAGE_RE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def sniff(head: bytes) -> str | None:
    """The file's real type from its magic bytes, or None."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp":
        return "mp4" if head[8:12] in MP4_BRANDS else "bmff"
    return None


def pdf_pages(data: bytes | Upload) -> int:
    if isinstance(data, bytes):
        return len(_PAGE_RE.findall(data))
    count, tail = 0, b""
    for chunk in data.chunks():  # a chunk at a time; the tail catches a marker cut in two
        block = tail + chunk
        cut = max(len(block) - 32, 0)
        count += len(_PAGE_RE.findall(block[:cut]))
        tail = block[cut:]
    return count + len(_PAGE_RE.findall(tail))


def upload_dir(settings: Settings) -> Path:
    path = Path(settings.storage.upload_dir) / "radar"
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_path(settings: Settings, name: str) -> Path | None:
    if not NAME_RE.match(name):
        return None
    path = upload_dir(settings) / name
    return path if path.is_file() else None


def file_response(settings: Settings, name: str) -> web.StreamResponse:
    path = file_path(settings, name)
    if path is None:
        raise web.HTTPNotFound(text="文件不存在")
    ext = name.rsplit(".", 1)[1]
    headers = {"Content-Type": CONTENT_TYPES[ext], "X-Content-Type-Options": "nosniff"}
    headers["Cache-Control"] = "private, max-age=3600"
    return web.FileResponse(path, headers=headers)


def store(
    settings: Settings, data: bytes | Upload, kind: str, label: str, field: str = "files"
) -> str:
    """Check the bytes are of `kind` ("pdf", "image", "video") and save them; the new name.
    An `Upload` is moved into place (it is on the same disk), never read into memory."""
    ext = sniff(data.head[:16] if isinstance(data, Upload) else data[:16])
    if ext is None or ext not in KINDS[kind]:
        wanted = {"pdf": "PDF 文件", "image": "PNG/JPEG/GIF/WebP 图片", "video": VIDEO_HELP}[kind]
        raise ApiError(400, f"{label}的文件内容不是{wanted}，请重新选择", field)
    name = f"{secrets.token_urlsafe(18)}.{ext}"
    if isinstance(data, Upload):
        data.keep_as(upload_dir(settings) / name)
    else:
        (upload_dir(settings) / name).write_bytes(data)
    return name


def store_pdf(
    settings: Settings, data: bytes | Upload, label: str, field: str = "files"
) -> dict[str, Any]:
    """Store a PDF for the phone viewer (blocking: call it off the event loop): its entry
    in a radar's files, {name, size, pages}. See `compact_pdf`."""
    name = store(settings, data, "pdf", label, field)
    path = upload_dir(settings) / name
    pages = compact_pdf(path)
    if pages is None:  # a PDF qpdf cannot read is kept as uploaded (pdf.js may manage)
        pages = pdf_pages(path.read_bytes())
    return {"name": name, "size": path.stat().st_size, "pages": pages}


def compact_pdf(path: Path) -> int | None:
    """Rewrite the PDF in place with its small objects packed in object streams; the number
    of pages, or None when it cannot be read.

    The viewer reads a PDF by byte ranges and, before the first page, looks up the last
    page's object: in a file where each page's objects sit beside its content (most
    producers), that touches every part of the file, so an 80-page document was downloaded
    whole before its first page showed. Packed, the page objects are a few ranges."""
    try:
        import pikepdf
    except ImportError:  # an install from before the dependency: the PDF works, unpacked
        log.warning("radar: pikepdf is not installed; %s kept as uploaded", path.name)
        return None
    tmp = path.with_name(path.name + ".tmp")
    try:
        with pikepdf.open(path) as pdf:
            pages = len(pdf.pages)
            pdf.save(tmp, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    except Exception:  # damaged, encrypted, or not really a PDF
        log.warning("radar: %s kept as uploaded (not rewritable)", path.name, exc_info=True)
        tmp.unlink(missing_ok=True)
        return None
    os.replace(tmp, path)
    return pages


@dataclass
class Form:
    """A multipart form: text fields and the uploaded files (on disk) per field name."""

    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, list[tuple[str, Upload]]] = field(default_factory=dict)


async def read_form(request: web.Request, settings: Settings) -> Form:
    """Read a JSON body or a multipart form into one `Form`; files are streamed to disk with
    the size cap enforced while reading."""
    if not request.content_type.startswith("multipart/"):
        return await _json_form(request)
    limit = settings.storage.max_upload_mb * 1024 * 1024
    # Up to four files' worth per request (images come several at a time).
    parts = await read_multipart(request, upload_dir(settings), limit, 4 * limit + 1024 * 1024)
    files = {name: [(u.filename, u) for u in ups] for name, ups in parts.files.items()}
    return Form(parts.fields, files)


async def _json_form(request: web.Request) -> Form:
    import json

    from bot.http import read_body

    try:
        data: Any = json.loads(await read_body(request) or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "请求内容不是有效的 JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "请求内容必须是一个 JSON 对象")
    out = Form()
    for key, value in data.items():
        out.fields[key] = json.dumps(value) if isinstance(value, list | dict) else str(value)
        if isinstance(value, bool):
            out.fields[key] = "true" if value else "false"
    return out
