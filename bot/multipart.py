"""Multipart uploads streamed to temporary files on disk, the size caps enforced while
reading: a refused upload costs one chunk of memory, never its whole size.

Files land in the directory they will be kept in (a rename, not a copy, stores them) under
names the file routes never serve; one not stored is deleted when its `Upload` is dropped."""

from __future__ import annotations

import contextlib
import os
import tempfile
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import BodyPartReader, web

from bot.http import ApiError

CHUNK = 256 * 1024
HEAD = 64  # enough for every magic number and an MP4's brand
MAX_PARTS = 200
MAX_FIELD = 64 * 1024


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


class Upload:
    """One uploaded file on disk: its client-side name, size and first bytes."""

    def __init__(self, filename: str, path: Path, size: int, head: bytes) -> None:
        self.filename, self.path, self.size, self.head = filename, path, size, head
        self._cleanup = weakref.finalize(self, _unlink, str(path))

    def keep_as(self, target: Path) -> None:
        """Move the file to `target` for good (it is no longer deleted with this object)."""
        os.replace(self.path, target)
        self._cleanup.detach()
        self.path = target

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        with open(self.path, "rb") as f:
            while block := f.read(size):
                yield block

    def discard(self) -> None:
        self._cleanup()

    def __len__(self) -> int:
        return self.size


@dataclass
class Multipart:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, list[Upload]] = field(default_factory=dict)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, f"文件过大，单个文件不能超过 {limit // (1024 * 1024)} MB")


async def _to_disk(part: BodyPartReader, directory: Path, limit: int, budget: int) -> Upload:
    fd, name = tempfile.mkstemp(prefix=".upload-", dir=directory)
    upload = None
    try:
        size, head = 0, b""
        with os.fdopen(fd, "wb") as out:
            while chunk := await part.read_chunk(CHUNK):
                size += len(chunk)
                if size > limit or size > budget:
                    raise _too_large(limit)
                head = head if len(head) >= HEAD else (head + chunk)[:HEAD]
                out.write(chunk)
        upload = Upload(part.filename or "", Path(name), size, head)
        return upload
    finally:
        if upload is None:
            _unlink(name)


async def _text(part: BodyPartReader) -> str:
    data = b""
    while chunk := await part.read_chunk(CHUNK):
        data += chunk
        if len(data) > MAX_FIELD:
            raise ApiError(413, "表单字段过长")
    return data.decode("utf-8", "replace")


async def read_multipart(
    request: web.Request, directory: Path, file_limit: int, total_limit: int
) -> Multipart:
    """Fields as text, files as `Upload`s in `directory`; 413 past a cap, as soon as it is
    passed (a Content-Length over the total is refused before reading anything)."""
    if request.content_length is not None and request.content_length > total_limit:
        raise _too_large(file_limit)
    form, budget, parts = Multipart(), total_limit, 0
    reader = await request.multipart()
    try:
        while (part := await reader.next()) is not None:
            parts += 1
            if parts > MAX_PARTS:
                raise ApiError(413, "表单内容过多")
            if not isinstance(part, BodyPartReader) or not part.name:
                continue
            if not part.filename:
                form.fields[part.name] = await _text(part)
                continue
            upload = await _to_disk(part, directory, file_limit, budget)
            budget -= upload.size
            if upload.size:
                form.files.setdefault(part.name, []).append(upload)
            else:
                upload.discard()
    except BaseException:
        for uploads in form.files.values():
            for upload in uploads:
                upload.discard()
        raise
    return form
