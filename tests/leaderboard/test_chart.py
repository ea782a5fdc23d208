"""The closing report's chart draws Chinese names with a font that has their glyphs, on this
machine and on one without any CJK font (the shipped subset)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image, ImageDraw

from bot import cjk
from handlers.leaderboard import chart

NAMES = ["张伟", "李娜", "王芳", "欧阳修远", "Tom"]


def _drawn(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    calls: list[tuple[str, Any]] = []
    real = ImageDraw.ImageDraw.text

    def spy(self: Any, xy: Any, text: str, *a: Any, **kw: Any) -> Any:
        calls.append((text, kw.get("font")))
        return real(self, xy, text, *a, **kw)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", spy)
    return calls


@pytest.mark.parametrize("machine_fonts", [True, False])
def test_names_are_drawn_with_their_glyphs(
    monkeypatch: pytest.MonkeyPatch, machine_fonts: bool
) -> None:
    if not machine_fonts:  # a fresh machine: no fontconfig, nothing in the known places
        monkeypatch.setattr(cjk, "KNOWN", [])
        monkeypatch.setattr(cjk, "_fontconfig", lambda: [])
        monkeypatch.delenv("SCRMBOT_CJK_FONT", raising=False)
    cjk.fonts.cache_clear()
    calls = _drawn(monkeypatch)
    png = chart.top10_png("六月拉新冲刺", [(n, 10 - i) for i, n in enumerate(NAMES)])
    cjk.fonts.cache_clear()
    assert Image.open(io.BytesIO(png)).size == (chart.WIDTH, chart.HEIGHT)
    texts = [t for t, _ in calls]
    assert texts[0] == "六月拉新冲刺"
    for i, name in enumerate(NAMES):
        assert f"{i + 1}. {name}" in texts
    assert not any(t.startswith("No.") for t in texts)
    for text, font in calls:
        assert all(cjk.has_glyph(font, c) for c in text), (text, font.path)
    if not machine_fonts:
        assert {font.path for _, font in calls} == {str(cjk.SHIPPED)}
