"""Uploads are streamed to disk with the size cap enforced while reading: an oversized upload
is refused after about one cap's worth of bytes, without buffering it in memory, and leaves
no file behind."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from bot.deps import Deps
from bot.embedded_redis import EmbeddedRedis
from bot.settings import Settings
from handlers.radar.demo import demo_pdf
from storage.radar import Radar
from tests.auth.support import csrf, sign_in
from tests.conftest import make_settings

MB = 1024 * 1024
BOUNDARY = "scrmbotboundary"


@pytest.fixture
def settings(tmp_path: Path, db_url: str, redis_server: EmbeddedRedis) -> Settings:
    return make_settings(tmp_path, db_url, redis_server.url, storage={"max_upload_mb": 1})


def _head(name: str, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()


class Endless:
    """A multipart body whose file part never ends; counts what the server took."""

    def __init__(self, total: int) -> None:
        self.total, self.sent = total, 0

    async def body(self) -> AsyncIterator[bytes]:
        for name, value in (("type", "pdf"), ("name", "大文件"), ("title", "大文件")):
            yield _head(name) + value.encode() + b"\r\n"
        yield _head("files", "big.pdf") + b"%PDF-1.4\n"
        block = b"x" * MB
        while self.sent < self.total:
            self.sent += len(block)
            yield block


async def _many_parts(block: bytes, count: int) -> AsyncIterator[bytes]:
    yield _head("type") + b"images\r\n" + _head("name") + b"x\r\n" + _head("title") + b"x\r\n"
    for n in range(count):
        yield _head("files", f"{n}.png") + b"\x89PNG\r\n\x1a\n"
        yield block  # the same object every time: the client allocates nothing per file
        yield b"\r\n"
    yield f"--{BOUNDARY}--\r\n".encode()


async def test_files_under_the_cap_are_not_held_in_memory(
    client: TestClient, deps: Deps, corp: None
) -> None:
    """Ten files of 0.9 MB, each under the 1 MB cap: buffered in memory they would cost 9 MB.
    On disk they cost a chunk, and the request's total cap refuses the flood."""
    await sign_in(client, deps, "admin")
    block = b"y" * (MB * 9 // 10)
    headers = {**csrf(client), "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    tracemalloc.start()
    try:
        resp = await client.post("/api/radar/radars", data=_many_parts(block, 10), headers=headers)
        status = resp.status
    except aiohttp.ClientError:
        status = 413
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert status == 413
    assert peak < 3 * MB
    assert _leftovers(deps.settings) == []


def _leftovers(settings: Settings) -> list[Path]:
    return list((Path(settings.storage.upload_dir) / "radar").glob(".upload-*"))


async def test_an_oversized_upload_stops_at_the_cap(
    client: TestClient, deps: Deps, corp: None
) -> None:
    await sign_in(client, deps, "admin")
    body = Endless(300 * MB)
    headers = {**csrf(client), "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    tracemalloc.start()
    try:
        resp = await client.post("/api/radar/radars", data=body.body(), headers=headers)
        status = resp.status
        assert "不能超过 1 MB" in (await resp.json())["error"]
    except aiohttp.ClientError:  # the server may close the connection while we still send
        status = 413
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert status == 413
    assert body.sent < 40 * MB  # reading stopped near the cap, not at the body's end
    assert peak < 16 * MB  # and what was read was not held in memory
    assert _leftovers(deps.settings) == []
    assert await Radar.all().count() == 0


async def test_a_declared_oversize_is_refused_before_reading(
    client: TestClient, deps: Deps, corp: None
) -> None:
    await sign_in(client, deps, "admin")
    body = Endless(3 * MB)
    headers = {
        **csrf(client),
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Content-Length": str(100 * MB),
    }
    try:
        resp = await client.post("/api/radar/radars", data=body.body(), headers=headers)
        assert resp.status == 413
    except aiohttp.ClientError:
        pass
    assert body.sent <= 3 * MB


async def test_a_pdf_within_the_cap_is_stored_by_moving_it(
    client: TestClient, deps: Deps, corp: None
) -> None:
    await sign_in(client, deps, "admin")
    form = aiohttp.FormData()
    for key, value in {"name": "手册", "title": "产品手册", "type": "pdf"}.items():
        form.add_field(key, value)
    form.add_field("files", demo_pdf(4), filename="a.pdf", content_type="application/pdf")
    resp = await client.post("/api/radar/radars", data=form, headers=csrf(client))
    assert resp.status == 201, await resp.text()
    stored = (await resp.json())["files"][0]
    assert stored["pages"] == 4
    path = Path(deps.settings.storage.upload_dir) / "radar" / stored["name"]
    assert path.stat().st_size == stored["size"]
    assert _leftovers(deps.settings) == []
