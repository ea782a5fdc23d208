"""Chinese text in images drawn with Pillow (charts, posters).

The fonts are CJK ones: $SCRMBOT_CJK_FONT, then the machine's (fontconfig, then known paths),
then the subset of Noto Sans SC shipped in `fonts/` (ASCII and GB2312), which every install
has. Text is drawn with the first font that has all its glyphs, so a name never shows as boxes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

SHIPPED = Path(__file__).parent / "fonts" / "NotoSansSC-GB2312.otf"
# (path, face index in a collection): Noto's .ttc holds SC as its third face.
KNOWN = [
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/System/Library/Fonts/PingFang.ttc", 0),
    ("C:/Windows/Fonts/msyh.ttc", 0),
]
_MISSING = "\U000f0000"  # a private-use code point no font maps: its mask is the .notdef box

Font = ImageFont.FreeTypeFont


def _fontconfig() -> list[tuple[str, int]]:
    """Simplified-Chinese fonts fontconfig knows, best match first."""
    if shutil.which("fc-match") is None:
        return []
    try:
        out = subprocess.run(
            ["fc-match", "-s", "sans-serif:lang=zh-cn", "--format", "%{file}|%{index}|%{lang}\n"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in out.splitlines()[:20]:
        path, _, rest = line.partition("|")
        index, _, langs = rest.partition("|")
        if "zh-cn" in langs.split("|") and index.isdigit():
            found.append((path, int(index)))
    return found


def candidates() -> list[tuple[str, int]]:
    env = os.environ.get("SCRMBOT_CJK_FONT", "")
    found = [(env, 0)] if env else []
    found += _fontconfig() + KNOWN + [(str(SHIPPED), 0)]
    return [(p, i) for p, i in dict.fromkeys(found) if Path(p).is_file()]


@lru_cache(maxsize=16)
def fonts(size: int) -> tuple[Font, ...]:
    loaded = []
    for path, index in candidates():
        try:
            loaded.append(ImageFont.truetype(path, size, index=index))
        except OSError:
            continue
        if len(loaded) == 3:
            break
    return tuple(loaded)


def _mask(font: Font, char: str) -> tuple[object, ...]:
    mask = font.getmask(char)
    return (font.getbbox(char), mask.size, tuple(mask.histogram()))


@lru_cache(maxsize=4096)
def has_glyph(font: Font, char: str) -> bool:
    return char.isspace() or _mask(font, char) != _mask(font, _MISSING)


def font_for(text: str, size: int) -> Font:
    """The first font that draws every character of `text` (else the one that draws most)."""
    chain = fonts(size)
    if not chain:
        raise RuntimeError("no font found, not even the shipped one: " + str(SHIPPED))
    for font in chain:
        if all(has_glyph(font, c) for c in text):
            return font
    return max(chain, key=lambda f: sum(has_glyph(f, c) for c in text))
