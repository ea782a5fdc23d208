"""The TOP10 bar chart as a PNG, drawn with Pillow (the closing report's card image).

Chinese names need a CJK font: the first one found in `FONT_PATHS` (or $SCRMBOT_CJK_FONT) is
used; without one, names that the font cannot draw are replaced by their rank."""

from __future__ import annotations

import io
import os
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_PATHS = [
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
]
WIDTH, HEIGHT = 800, 500


@lru_cache(maxsize=4)
def _font(size: int) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, bool]:
    paths = [os.environ.get("SCRMBOT_CJK_FONT", ""), *FONT_PATHS]
    for path in (p for p in paths if p):
        if Path(path).is_file():
            cjk = "DejaVu" not in path
            return ImageFont.truetype(path, size), cjk
    return ImageFont.load_default(), False


def _label(text: str, rank: int, cjk: bool) -> str:
    return text if cjk or text.isascii() else f"No.{rank}"


def top10_png(title: str, rows: list[tuple[str, int]]) -> bytes:
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    font, cjk = _font(18)
    draw.text((24, 16), title if cjk or title.isascii() else "TOP10", fill="#222", font=font)
    top = max((count for _, count in rows), default=0) or 1
    bar_h, left, right = 34, 150, WIDTH - 80
    for i, (name, count) in enumerate(rows[:10]):
        y = 60 + i * (bar_h + 8)
        draw.text((24, y + 6), _label(name, i + 1, cjk)[:8], fill="#333", font=font)
        length = int((right - left) * count / top)
        draw.rectangle((left, y, left + max(length, 2), y + bar_h), fill="#2f7df6")
        draw.text((left + length + 8, y + 6), str(count), fill="#333", font=font)
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return buf.getvalue()
