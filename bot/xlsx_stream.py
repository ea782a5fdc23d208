"""Large .xlsx downloads without holding them in memory: rows arrive in chunks (e.g. keyset
pages from SQL), openpyxl's write-only sheet spools them to disk, and the file is streamed to
the client. The CPU-heavy parts run in a thread so the event loop keeps answering."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncGenerator
from datetime import tzinfo
from typing import Any
from urllib.parse import quote

from aiohttp import web
from openpyxl import Workbook

from bot.http import _row

CHUNK_BYTES = 256 * 1024


def _disposition(filename: str) -> str:
    if not filename.lower().endswith(".xlsx"):
        filename += ".xlsx"
    fallback = filename if filename.isascii() else "export.xlsx"
    fallback = fallback.replace('"', "").replace("\\", "")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"


async def xlsx_stream(
    request: web.Request,
    filename: str,
    headers: list[str],
    chunks: AsyncGenerator[list[list[Any]]],
    tz: tzinfo,
) -> web.StreamResponse:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("导出")
    sheet.append(_row(sheet, headers, tz, bold=True))

    def append(rows: list[list[Any]]) -> None:
        for row in rows:
            sheet.append(_row(sheet, row, tz))

    async with contextlib.aclosing(chunks):  # a download broken off ends its query too
        async for rows in chunks:
            await asyncio.to_thread(append, rows)
    fd, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(fd)
    try:
        await asyncio.to_thread(book.save, path)
        size = await asyncio.to_thread(os.path.getsize, path)
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "Content-Disposition": _disposition(filename),
                "Cache-Control": "no-store",
            }
        )
        response.content_length = size
        await response.prepare(request)
        with open(path, "rb") as fh:  # noqa: ASYNC230 (local temp file, small reads)
            while block := fh.read(CHUNK_BYTES):
                await response.write(block)
        await response.write_eof()
        return response
    finally:
        os.unlink(path)
