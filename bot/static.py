"""Static files served compressed and cacheable: on a phone the PDF viewer alone is 1.8 MB
uncompressed, fetched again on every open without caching.

Text files (JS, CSS, HTML, JSON, SVG) are gzipped once per file version and kept in memory;
every answer carries an ETag (a 304 when the browser's copy is current) and Cache-Control:
vendored libraries for a day, the app's own files revalidated on each use (they change with
each deploy, and a revalidation is a 304 with no body)."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import mimetypes
from pathlib import Path

from aiohttp import web

COMPRESSIBLE = {".js", ".mjs", ".css", ".html", ".json", ".svg", ".txt", ".map"}
TYPES = {".mjs": "text/javascript", ".js": "text/javascript"}
VENDOR_MAX_AGE = 86_400
MAX_CACHED = 8 * 1024 * 1024  # larger text files are sent uncompressed


class StaticFiles:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._cache: dict[Path, tuple[int, int, str, bytes, bytes | None]] = {}
        self._locks: dict[Path, asyncio.Lock] = {}

    def _path(self, tail: str) -> Path:
        path = (self.root / tail).resolve()
        if not path.is_relative_to(self.root) or not path.is_file() or path.name.startswith("."):
            raise web.HTTPNotFound()
        return path

    async def _load(self, path: Path) -> tuple[str, bytes, bytes | None]:
        """(etag, body, gzipped body or None), read and compressed off the event loop once per
        file version (mtime and size)."""
        stat = await asyncio.to_thread(path.stat)
        hit = self._cache.get(path)
        if hit and hit[:2] == (stat.st_mtime_ns, stat.st_size):
            return hit[2], hit[3], hit[4]
        async with self._locks.setdefault(path, asyncio.Lock()):
            body = await asyncio.to_thread(path.read_bytes)
            etag = hashlib.sha256(body).hexdigest()[:20]
            packed = None
            if path.suffix in COMPRESSIBLE and len(body) <= MAX_CACHED:
                packed = await asyncio.to_thread(gzip.compress, body, 6, mtime=0)
            self._cache[path] = (stat.st_mtime_ns, stat.st_size, etag, body, packed)
        return etag, body, packed

    def _cache_control(self, path: Path) -> str:
        if path.is_relative_to(self.root / "vendor"):
            return f"public, max-age={VENDOR_MAX_AGE}"
        return "no-cache"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = self._path(request.match_info.get("tail", ""))
        if path.suffix not in COMPRESSIBLE:  # images, fonts: aiohttp streams them from disk
            response = web.FileResponse(path)
            response.headers["Cache-Control"] = self._cache_control(path)
            return response
        etag, body, packed = await self._load(path)
        gzip_ok = packed is not None and "gzip" in request.headers.get("Accept-Encoding", "")
        tag = f'"{etag}{"-gz" if gzip_ok else ""}"'
        headers = {
            "ETag": tag,
            "Cache-Control": self._cache_control(path),
            "Vary": "Accept-Encoding",
            "X-Content-Type-Options": "nosniff",
        }
        if tag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        kind = TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "text/plain"
        if gzip_ok:
            headers["Content-Encoding"] = "gzip"
        return web.Response(
            body=packed if gzip_ok else body, headers=headers, content_type=kind, charset="utf-8"
        )


def add_static(app: web.Application, prefix: str, root: Path) -> None:
    files = StaticFiles(root)
    app.router.add_get(prefix.rstrip("/") + "/{tail:.+}", files.handle)
