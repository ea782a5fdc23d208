"""The participant's poster, drawn server-side with Pillow: the activity's background with the
customer's avatar, nickname and personal QR code in the boxes the admin placed.

The QR code is WeCom's own image of the participant's contact way (fetched from its
`qr_code` URL, never redrawn from a guess of its content), scaled without smoothing so it still
scans. A 获客链接 has no image, only a URL: its QR code is drawn here from that exact URL. Boxes are in the background's pixels; a missing background is a plain one drawn here.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections import OrderedDict
from typing import Any

import aiohttp
import qrcode
from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError

from bot.cjk import font_for
from bot.deps import Deps
from bot.http import ApiError

log = logging.getLogger(__name__)
DEFAULT_SIZE = (750, 1334)
MAX_FETCH = 2_000_000
MAX_PIXELS = 4000 * 4000
BOXES = ("qr", "avatar", "nickname")


def default_layout(width: int, height: int) -> dict[str, dict[str, int]]:
    qr = int(width * 0.3)
    avatar = int(width * 0.13)
    margin = int(width * 0.05)
    return {
        "qr": {"x": width - qr - margin, "y": height - qr - margin, "w": qr},
        "avatar": {"x": margin, "y": height - qr - margin, "w": avatar},
        "nickname": {
            "x": margin + avatar + margin // 2,
            "y": height - qr - margin,
            "w": int(width * 0.04),
        },
    }


def layout_for(saved: dict[str, Any], size: tuple[int, int]) -> dict[str, dict[str, int]]:
    """The saved boxes, each kept inside the background (a box missing or broken: default)."""
    width, height = size
    boxes = default_layout(width, height)
    for name in BOXES:
        box = saved.get(name)
        if not isinstance(box, dict):
            continue
        try:
            w = max(8, min(int(box["w"]), width))
            x = max(0, min(int(box["x"]), width - w))
            y = max(0, min(int(box["y"]), height - (w if name != "nickname" else 8)))
        except (KeyError, TypeError, ValueError):
            continue
        boxes[name] = {"x": x, "y": y, "w": w}
    return boxes


def check_background(data: bytes) -> tuple[int, int]:
    """The uploaded background's size, or a 400 naming the field."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise ApiError(400, "海报背景图过大（最多 4000×4000 像素）", "poster_bg")
            if image.format not in ("PNG", "JPEG"):
                raise ApiError(400, "海报背景图只支持 PNG 或 JPG 图片", "poster_bg")
            return image.size
    except (UnidentifiedImageError, OSError) as exc:
        raise ApiError(400, "海报背景图不是有效的图片", "poster_bg") from exc


def plain_background(title: str) -> Image.Image:
    width, height = DEFAULT_SIZE
    image = Image.new("RGB", DEFAULT_SIZE, "#ff6a3d")
    draw = ImageDraw.Draw(image)
    for y in range(height):  # a vertical gradient, warm to deep
        shade = int(106 - 60 * y / height)
        draw.line([(0, y), (width, y)], fill=(255, max(shade, 30), 61))
    text = title[:12] or "邀请好友助力"
    font = font_for(text, 56)
    left, _, right, _ = draw.textbbox((0, 0), text, font=font)
    draw.text(((width - (right - left)) / 2, 180), text, fill="white", font=font)
    sub = "扫码添加，为我助力"
    sfont = font_for(sub, 32)
    left, _, right, _ = draw.textbbox((0, 0), sub, font=sfont)
    draw.text(((width - (right - left)) / 2, 270), sub, fill="#fff3e0", font=sfont)
    draw.rounded_rectangle((40, height - 330, width - 40, height - 30), 24, fill="white")
    return image


def _avatar(data: bytes | None, name: str, size: int) -> Image.Image:
    image: Image.Image | None = None
    if data:
        try:
            with Image.open(io.BytesIO(data)) as raw:
                image = ImageOps.fit(raw.convert("RGB"), (size, size))
        except (UnidentifiedImageError, OSError):
            image = None
    if image is None:  # the initial on a colored disc
        image = Image.new("RGB", (size, size), "#2f7df6")
        draw = ImageDraw.Draw(image)
        initial = (name or "客")[:1]
        font = font_for(initial, max(8, size // 2))
        left, top, right, bottom = draw.textbbox((0, 0), initial, font=font)
        pos = ((size - (right - left)) / 2 - left, (size - (bottom - top)) / 2 - top)
        draw.text(pos, initial, fill="white", font=font)
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, size - 1, size - 1), fill=255)
    disc = Image.new("RGBA", (size, size))
    disc.paste(image, (0, 0), mask)
    return disc


def draw(
    background: bytes | None,
    layout: dict[str, Any],
    title: str,
    nickname: str,
    qr_png: bytes,
    avatar: bytes | None,
) -> bytes:
    """The poster as PNG bytes (pure: no I/O)."""
    if background:
        with Image.open(io.BytesIO(background)) as raw:
            base = raw.convert("RGB")
    else:
        base = plain_background(title)
    boxes = layout_for(layout, base.size)
    qr_box, av_box, nick = boxes["qr"], boxes["avatar"], boxes["nickname"]
    with Image.open(io.BytesIO(qr_png)) as raw_qr:
        qr = raw_qr.convert("RGB").resize((qr_box["w"], qr_box["w"]), Image.Resampling.NEAREST)
    base.paste(qr, (qr_box["x"], qr_box["y"]))
    disc = _avatar(avatar, nickname, av_box["w"])
    base.paste(disc, (av_box["x"], av_box["y"]), disc)
    name = (nickname or "我")[:12]
    label = f"{name} 邀请你助力"
    draw_ = ImageDraw.Draw(base)
    draw_.text((nick["x"], nick["y"]), label, fill="#222222", font=font_for(label, nick["w"]))
    buf = io.BytesIO()
    base.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def qr_image(text: str) -> bytes:
    """A QR code of `text` as PNG, drawn like WeCom's (8-pixel modules, 2-module border)."""
    buf = io.BytesIO()
    qrcode.make(text, box_size=8, border=2).save(buf)
    return buf.getvalue()


async def fetch_image(deps: Deps, url: str) -> bytes | None:
    """An image over HTTP (WeCom's QR code, a WeChat avatar), capped; None when it fails."""
    if not url.startswith(("http://", "https://")):
        return None
    shared = getattr(deps.wecom, "session", None)
    limit = aiohttp.ClientTimeout(total=deps.settings.wecom.timeout)
    try:
        if isinstance(shared, aiohttp.ClientSession):
            return await _get(shared, url, limit)
        async with aiohttp.ClientSession() as session:
            return await _get(session, url, limit)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        log.warning("fission: image %s could not be fetched", url[:120], exc_info=True)
        return None


async def _get(session: aiohttp.ClientSession, url: str, limit: aiohttp.ClientTimeout) -> bytes:
    async with session.get(url, timeout=limit) as response:
        if response.status != 200:
            raise ValueError(f"status {response.status}")
        data = await response.content.read(MAX_FETCH + 1)
        if len(data) > MAX_FETCH:
            raise ValueError("image too large")
        return data


class PosterCache:
    """Recently drawn posters, keyed by what they are drawn from."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self.items: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()

    def get(self, key: tuple[Any, ...]) -> bytes | None:
        found = self.items.get(key)
        if found is not None:
            self.items.move_to_end(key)
        return found

    def put(self, key: tuple[Any, ...], png: bytes) -> None:
        self.items[key] = png
        while len(self.items) > self.size:
            self.items.popitem(last=False)


async def render(
    deps: Deps,
    *,
    background: bytes | None,
    layout: dict[str, Any],
    title: str,
    nickname: str,
    qr_url: str = "",
    qr_text: str = "",
    avatar_url: str,
) -> bytes:
    """The poster, its QR code fetched from `qr_url` or, with `qr_text`, drawn of that text."""
    qr_png = qr_image(qr_text) if qr_text else await fetch_image(deps, qr_url)
    if qr_png is None:
        raise ApiError(503, "二维码暂时无法获取，请稍后再试")
    avatar = await fetch_image(deps, avatar_url) if avatar_url else None
    return await asyncio.to_thread(draw, background, layout, title, nickname, qr_png, avatar)
