"""Helpers for the radar tests: make radars and shares, open links as a fresh browser."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp.test_utils import TestClient

from bot.deps import Deps
from handlers.radar.common import SHARE_PURPOSE
from handlers.radar.demo import demo_pdf
from storage.radar import Radar, RadarGroup, RadarType, Share

CONFIG_RE = re.compile(r'<script type="application/json" id="radar-config">(.*?)</script>', re.S)


async def make_radar(deps: Deps, **fields: Any) -> Radar:
    from handlers.radar import uploads

    group = await RadarGroup.create(name="资料", departments=fields.pop("departments", []))
    pdf = demo_pdf(4)
    name = uploads.store(deps.settings, pdf, "pdf", "PDF")
    values: dict[str, Any] = {
        "group": group,
        "name": "手册",
        "type": RadarType.PDF,
        "title": "产品手册",
        "files": [{"name": name, "size": len(pdf), "pages": 4}],
    }
    values.update(fields)
    return await Radar.create(**values)


async def make_share(deps: Deps, radar: Radar, userid: str = "alice", ext: str = "wm_ann") -> Share:
    return await Share.create(
        token=deps.signer.token(SHARE_PURPOSE),
        radar=radar,
        userid=userid,
        external_userid=ext,
        chat_id="" if ext else "wr_chat",
        created_at=deps.now(),
    )


async def open_link(client: TestClient, path: str, fresh: bool = True) -> tuple[int, str]:
    if fresh:
        client.session.cookie_jar.clear()
    resp = await client.get(path, allow_redirects=False)
    return resp.status, await resp.text()


def first_page_src(html: str) -> str:
    """The address of a PDF's first-page image on its landing page."""
    match = re.search(r'<img id="pdf-first" data-page="1" src="([^"]+)"', html)
    assert match, html[:800]
    return match.group(1)


def page_config(html: str) -> dict[str, Any]:
    match = CONFIG_RE.search(html)
    assert match, html[:500]
    return json.loads(match.group(1))  # type: ignore[no-any-return]
