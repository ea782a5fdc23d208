"""Static files: gzipped text with ETags and Cache-Control (the PDF viewer on a phone), raw
bytes for clients without gzip, nothing outside the static directory."""

from __future__ import annotations

import gzip
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.static import add_static
from bot.web import STATIC_DIR

WORKER = "vendor/pdfjs/pdf.worker.min.mjs"


@pytest.fixture
async def client(aiohttp_client: Callable[..., Awaitable[TestClient]]) -> TestClient:
    app = web.Application()
    add_static(app, "/static/", STATIC_DIR)
    return await aiohttp_client(app, auto_decompress=False)


async def test_viewer_is_gzipped_and_cacheable(client: TestClient) -> None:
    raw = (STATIC_DIR / WORKER).read_bytes()
    resp = await client.get(f"/static/{WORKER}", headers={"Accept-Encoding": "gzip, br"})
    body = await resp.read()
    assert resp.status == 200
    assert resp.headers["Content-Encoding"] == "gzip"
    assert resp.headers["Content-Type"].startswith("text/javascript")
    assert resp.headers["Cache-Control"] == "public, max-age=86400"
    assert "Accept-Encoding" in resp.headers["Vary"]
    assert gzip.decompress(body) == raw
    assert len(body) < len(raw) * 0.4  # 1.4 MB → well under half
    again = await client.get(
        f"/static/{WORKER}",
        headers={"Accept-Encoding": "gzip", "If-None-Match": resp.headers["ETag"]},
    )
    assert again.status == 304 and await again.read() == b""


async def test_plain_clients_and_app_files(client: TestClient) -> None:
    resp = await client.get("/static/common/ui.js", headers={"Accept-Encoding": "identity"})
    assert resp.status == 200 and "Content-Encoding" not in resp.headers
    assert await resp.read() == (STATIC_DIR / "common/ui.js").read_bytes()
    assert resp.headers["Cache-Control"] == "no-cache"  # revalidated: changes with a deploy
    css = await client.get("/static/common/ui.css", headers={"Accept-Encoding": "gzip"})
    assert css.headers["Content-Type"].startswith("text/css")
    assert css.headers["Content-Encoding"] == "gzip" and css.headers["ETag"].endswith('-gz"')
    png = await client.get("/static/radar/cover.png")
    assert png.status == 200 and png.headers["Content-Type"] == "image/png"


@pytest.mark.parametrize(
    "path",
    ["/static/../bot/web.py", "/static/%2e%2e/bot/web.py", "/static/common/", "/static/nope.js"],
)
async def test_nothing_outside_or_missing(client: TestClient, path: Any) -> None:
    resp = await client.get(path)
    assert resp.status == 404
