"""Files features keep on disk: the type read from the first bytes (never the name or the
browser's claim), random stored names, one folder per feature under `[storage] upload_dir`,
and the response that serves them. Uploads arrive through `bot.multipart`."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from aiohttp import web

from bot.settings import Settings

CONTENT_TYPES = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "mp4": "video/mp4",
}
IMAGES = ("png", "jpg", "gif", "webp")
# ISO-BMFF major brands of MP4 files (H.264/AAC plays in WeChat's browser); AVIF/HEIC images
# and QuickTime movies share the container but not the brand, and do not play there.
MP4_BRANDS = frozenset(
    {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V ", b"MSNV"}
    | {b"dash", b"mmp4"}
)
VIDEO_HELP = "MP4 视频（H.264 视频 + AAC 音频，可在微信内直接播放）；不支持 MOV、HEIC、AVIF 等格式"
NAME_RE = re.compile(r"^[A-Za-z0-9_-]{16,40}\.(pdf|png|jpg|gif|webp|mp4)$")


def sniff(head: bytes) -> str | None:
    """The file's real type from its magic bytes: a key of CONTENT_TYPES, "bmff" for an
    ISO-BMFF file that is not an MP4 (HEIC, AVIF, QuickTime), or None."""
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


def folder(settings: Settings, feature: str) -> Path:
    """The feature's upload folder, created when missing."""
    path = Path(settings.storage.upload_dir) / feature
    path.mkdir(parents=True, exist_ok=True)
    return path


def new_name(ext: str) -> str:
    return f"{secrets.token_urlsafe(18)}.{ext}"


def stored(settings: Settings, feature: str, name: str) -> Path | None:
    """The stored file of that name, or None (a name we never give out included)."""
    if not NAME_RE.match(name):
        return None
    path = folder(settings, feature) / name
    return path if path.is_file() else None


def file_response(path: Path) -> web.FileResponse:
    """A stored file for the signed-in or gated reader who asked (cached privately)."""
    headers = {
        "Content-Type": CONTENT_TYPES[path.suffix[1:]],
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=3600",
    }
    return web.FileResponse(path, headers=headers)
