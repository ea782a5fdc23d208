"""The TOP10 bar chart as a PNG, drawn with Pillow (the closing report's card image). Names
are Chinese: each label is drawn with the first CJK font that has all its glyphs (`bot.cjk`).
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from bot.cjk import font_for

WIDTH, HEIGHT = 800, 500


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def top10_png(title: str, rows: list[tuple[str, int]]) -> bytes:
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    head = _fit(title, 36)
    draw.text((24, 16), head, fill="#222", font=font_for(head, 20))
    top = max((count for _, count in rows), default=0) or 1
    bar_h, left, right = 34, 170, WIDTH - 80
    for i, (name, count) in enumerate(rows[:10]):
        y = 60 + i * (bar_h + 8)
        label = f"{i + 1}. {_fit(name, 7)}"
        draw.text((24, y + 6), label, fill="#333", font=font_for(label, 18))
        length = int((right - left) * count / top)
        draw.rectangle((left, y, left + max(length, 2), y + bar_h), fill="#2f7df6")
        draw.text((left + length + 8, y + 6), str(count), fill="#333", font=font_for("0", 18))
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return buf.getvalue()
