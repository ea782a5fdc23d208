"""Demo content: radar groups, one radar of each type, and a spread through three levels so
the analytics pages have something to show."""

from __future__ import annotations

import io
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from bot.deps import Deps
from handlers.radar import people, uploads
from handlers.radar.common import SHARE_PURPOSE, ShareInfo
from handlers.radar.router import router
from storage.directory import Staff
from storage.facts import Customer
from storage.radar import Radar, RadarGroup, RadarType, Share, Visit
from storage.visitors import Visitor

log = logging.getLogger(__name__)
COLORS = ((37, 99, 235), (22, 163, 74), (234, 88, 12))
DEMO_VIDEO = Path(__file__).parent / "assets" / "demo.mp4"  # 4 s, 320×180, H.264, 5 KB


def demo_image(
    text: str, color: tuple[int, int, int], size: tuple[int, int] = (600, 400)
) -> Image.Image:
    img = Image.new("RGB", size, color)
    ImageDraw.Draw(img).text((30, 30), text, fill=(255, 255, 255))
    return img


def demo_pdf(pages: int = 3) -> bytes:
    images = [demo_image(f"Page {n + 1}", COLORS[n % 3], (595, 842)) for n in range(pages)]
    buf = io.BytesIO()
    images[0].save(buf, "PDF", save_all=True, append_images=images[1:])
    return buf.getvalue()


def demo_png(text: str, color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    demo_image(text, color).save(buf, "PNG")
    return buf.getvalue()


async def _radars(deps: Deps) -> list[Radar]:
    intro = await RadarGroup.create(name="公司介绍", order=0)
    product = await RadarGroup.create(name="产品资料", order=1)
    s = deps.settings
    cover = uploads.store(s, demo_png("Cover", COLORS[0]), "image", "封面图")
    pdf = demo_pdf(3)
    video = DEMO_VIDEO.read_bytes()
    specs: list[tuple[RadarGroup, str, RadarType, dict[str, Any]]] = [
        (intro, "官网链接", RadarType.LINK, {"url": "https://example.com/"}),
        (
            product,
            "产品手册",
            RadarType.PDF,
            {"files": [uploads.store_pdf(s, pdf, "PDF")]},
        ),
        (
            product,
            "案例图集",
            RadarType.IMAGES,
            {
                "files": [
                    {
                        "name": uploads.store(s, demo_png(f"Case {i}", COLORS[i]), "image", "图片"),
                        "size": 0,
                    }
                    for i in range(3)
                ]
            },
        ),
        (
            product,
            "产品视频",
            RadarType.VIDEO,
            {"files": [{"name": uploads.store(s, video, "video", "视频"), "size": len(video)}]},
        ),
    ]
    out = []
    for order, (group, name, rtype, extra) in enumerate(specs):
        out.append(
            await Radar.create(
                group=group,
                name=name,
                type=rtype,
                title=f"{name}（演示）",
                order=order,
                description="点击查看详细内容",
                cover=cover,
                created_by="demo",
                **extra,
            )
        )
    return out


async def _spread(deps: Deps, radar: Radar, userid: str, customers: list[str]) -> None:
    """Level 1: the customers sent to; each brings two level-2 visitors, one of whom brings a
    level-3 visitor."""
    now = deps.now()
    for n, ext in enumerate(customers):
        share = await Share.create(
            token=deps.signer.token(SHARE_PURPOSE),
            radar=radar,
            userid=userid,
            external_userid=ext,
            created_at=now,
        )
        info = ShareInfo(share.id, radar.id, userid, ext, "")
        root = await _visit(deps, info, ext, "", 1, n)
        for m in range(2):
            child = await _visit(deps, info, "", root, 2, n + m)
            if m == 0:
                await _visit(deps, info, "", child, 3, n + 2)


async def _visit(deps: Deps, share: ShareInfo, ext: str, parent: str, level: int, n: int) -> str:
    from handlers.radar.visits import new_id

    visitor = await Visitor.create(id=new_id(), external_userid=ext, created_at=deps.now())
    visit = await Visit.create(
        id=new_id(),
        share_id=share.id,
        radar_id=share.radar_id,
        visitor_id=visitor.id,
        external_userid=ext,
        parent_visitor_id=parent,
        level=level,
        root_userid=share.userid,
        channel="forward" if parent else "single",
        started_at=deps.now() - timedelta(hours=level + n),
        duration_seconds=20 + 17 * n,
        progress=min(100, 34 + 33 * ((n + level) % 3)),
        max_page=1 + (n + level) % 3,
        finalized=True,
    )
    await people.record([people.fields_of(visit)])
    return visitor.id


@router.demo
async def seed(deps: Deps) -> None:
    if await Radar.exists():
        return
    radars = await _radars(deps)
    staff = await Staff.all().order_by("userid").limit(1).values_list("userid", flat=True)
    customers = (
        await Customer.all()
        .order_by("external_userid")
        .limit(3)
        .values_list("external_userid", flat=True)
    )
    userid = str(staff[0]) if staff else "admin"
    for radar in radars[1:]:
        await _spread(deps, radar, userid, [str(c) for c in customers] or ["demo_customer"])
    log.info("radar demo: %d radars, spread over %d customers", len(radars), len(customers))
