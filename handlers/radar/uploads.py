"""Uploaded radar content: the type is read from the file's first bytes (never from its name
or the browser's claim), the size is capped while streaming, and files get random names."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.http import ApiError
from bot.multipart import Upload, read_multipart
from bot.settings import Settings
from bot.uploads import IMAGES, VIDEO_HELP, folder, new_name, sniff, stored
from bot.uploads import file_response as stored_file_response

log = logging.getLogger(__name__)

KINDS = {
    "pdf": ("pdf",),
    "image": IMAGES,
    "video": ("mp4",),
}
_PAGE_RE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


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
    return folder(settings, "radar")


def file_path(settings: Settings, name: str) -> Path | None:
    return stored(settings, "radar", name)


def file_response(settings: Settings, name: str) -> web.StreamResponse:
    path = file_path(settings, name)
    if path is None:
        raise web.HTTPNotFound(text="文件不存在")
    return stored_file_response(path)


def store(
    settings: Settings, data: bytes | Upload, kind: str, label: str, field: str = "files"
) -> str:
    """Check the bytes are of `kind` ("pdf", "image", "video") and save them; the new name.
    An `Upload` is moved into place (it is on the same disk), never read into memory."""
    ext = sniff(data.head[:16] if isinstance(data, Upload) else data[:16])
    if ext is None or ext not in KINDS[kind]:
        wanted = {"pdf": "PDF 文件", "image": "PNG/JPEG/GIF/WebP 图片", "video": VIDEO_HELP}[kind]
        raise ApiError(400, f"{label}的文件内容不是{wanted}，请重新选择", field)
    name = new_name(ext)
    if isinstance(data, Upload):
        data.keep_as(upload_dir(settings) / name)
    else:
        (upload_dir(settings) / name).write_bytes(data)
    return name


def store_pdf(
    settings: Settings, data: bytes | Upload, label: str, field: str = "files"
) -> dict[str, Any]:
    """Store a PDF for the phone viewer (blocking: call it off the event loop): its entry
    in a radar's files, {name, size, pages, width, height} (the first page's size in
    points). See `compact_pdf` and `render_first_page`; a PDF that cannot be drawn (damaged,
    password-protected, no pages) is refused, as the customer's phone could not show it."""
    name = store(settings, data, "pdf", label, field)
    path = upload_dir(settings) / name
    pages = compact_pdf(path)
    try:
        drawn = render_first_page(path)
    except UnreadablePdf:
        path.unlink(missing_ok=True)
        raise ApiError(
            400, f"{label}无法打开：PDF 文件已损坏、设有打开密码或没有页面，请重新导出后上传", field
        ) from None
    entry: dict[str, Any] = {"name": name, "size": path.stat().st_size, "pages": pages}
    if drawn is not None:
        entry.update(pages=pages or drawn[0], width=drawn[1], height=drawn[2])
    elif pages is None:  # neither library installed: pages counted from the page markers
        entry["pages"] = pdf_pages(path.read_bytes())
    return entry


class UnreadablePdf(Exception):
    pass


FIRST_PAGE_WIDTH = 900  # pixels: a phone's 390 CSS pixels at 2x, with room
_pdfium = threading.RLock()  # pdfium is not thread-safe: one document at a time per process
_undrawable: set[str] = set()  # PDFs stored before uploads were checked that pdfium refused


def first_page_name(pdf_name: str) -> str:
    """The first page's image of a stored PDF, named after it (beside it in the folder)."""
    return pdf_name.removesuffix(".pdf") + "-p1.jpg"


def render_first_page(path: Path) -> tuple[int, int, int] | None:
    """Draw the PDF's first page once as a JPEG beside it, for the landing page to show
    while the viewer loads: (pages, width, height in points), None without pypdfium2.
    Blocking; raises `UnreadablePdf` when pdfium cannot open or draw it."""
    try:
        import pypdfium2
    except ImportError:  # an install from before the dependency: the viewer draws page 1
        log.warning("radar: pypdfium2 is not installed; no first-page image for %s", path.name)
        return None
    target = path.with_name(first_page_name(path.name))
    tmp = target.with_name(target.name + ".tmp")
    with _pdfium:
        try:
            pdf = pypdfium2.PdfDocument(path)
        except pypdfium2.PdfiumError as e:
            raise UnreadablePdf(str(e)) from e
        try:
            if len(pdf) == 0:
                raise UnreadablePdf("no pages")
            page = pdf[0]
            width, height = page.get_size()
            if width <= 0 or height <= 0:
                raise UnreadablePdf("an empty first page")
            image = page.render(scale=FIRST_PAGE_WIDTH / width).to_pil().convert("RGB")
            image.save(tmp, "JPEG", quality=80, optimize=True, progressive=True)
            os.replace(tmp, target)
            return len(pdf), round(width), round(height)
        except pypdfium2.PdfiumError as e:
            raise UnreadablePdf(str(e)) from e
        finally:
            tmp.unlink(missing_ok=True)
            pdf.close()


async def first_page_response(settings: Settings, name: str) -> web.StreamResponse:
    """The first page's image of a stored PDF, drawn now if it was stored before the images
    were (or its drawing was lost); a 404 when the PDF cannot be drawn (the viewer then
    draws the page itself)."""
    if file_path(settings, name) is None and name not in _undrawable:
        pdf = file_path(settings, name.removesuffix("-p1.jpg") + ".pdf")
        if pdf is None:
            raise web.HTTPNotFound(text="文件不存在")
        try:
            await asyncio.to_thread(_render_missing, pdf, upload_dir(settings) / name)
        except UnreadablePdf:
            log.warning("radar: the first page of %s cannot be drawn", pdf.name)
            _undrawable.add(name)
    return file_response(settings, name)


def _render_missing(pdf: Path, image: Path) -> None:
    with _pdfium:  # checked again under the lock: two first opens draw it once
        if not image.is_file():
            render_first_page(pdf)


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
