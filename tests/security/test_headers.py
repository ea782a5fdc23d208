"""Security headers on every response: pages, redirects, API errors, static files, callbacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.embedded_redis import EmbeddedRedis
from bot.settings import ConfigError, load_settings
from tests.harness import running_stack

PATHS = [
    "/healthz",
    "/admin/login",
    "/admin",
    "/api/me",
    "/api/nope",
    "/static/common/ui.js",
    "/wecom/callback",
    "/r/not-a-token",
    "/sidebar",
    "/toolbar/radar",
]


async def test_every_response_carries_the_headers(
    tmp_path: Path, db_url: str, redis_server: EmbeddedRedis
) -> None:
    async with running_stack(tmp_path, db_url, redis_server.url) as stack:
        for path in PATHS:
            url = stack.app_url + path
            async with stack.session.get(url, allow_redirects=False) as resp:
                h = resp.headers
                csp = h.get("Content-Security-Policy", "")
                assert h.get("X-Content-Type-Options") == "nosniff", path
                assert h.get("Referrer-Policy") == "same-origin", path
                assert "script-src 'self';" in csp and "object-src 'none'" in csp, path
                assert "unsafe-eval" not in csp and "http:" not in csp, path
                ancestors = csp.rsplit("frame-ancestors ", 1)[1]
                if path.startswith(("/sidebar", "/toolbar")):
                    assert ancestors == "https://work.weixin.qq.com https://*.work.weixin.qq.com"
                    assert "X-Frame-Options" not in h, path
                else:
                    assert ancestors == "'none'", path
                    assert h.get("X-Frame-Options") == "DENY", path


def test_frame_ancestors_must_be_https_origins() -> None:
    with pytest.raises(ConfigError, match=r"\[security.frame_ancestors\]"):
        load_settings(
            None, environ={}, overrides={"security": {"frame_ancestors": ["http://evil.example"]}}
        )


def test_pages_carry_no_inline_script() -> None:
    """script-src 'self' has no hashes: a page's code must live in a file under /static."""
    root = Path(__file__).resolve().parents[2]
    pages = [*root.glob("static/**/*.html"), *root.glob("cards/templates/**/*.html")]
    assert pages
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for chunk in text.split("<script")[1:]:
            head = chunk.split(">", 1)[0]
            assert "src=" in head or 'type="application/json"' in head, page
