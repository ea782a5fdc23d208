"""The landing page's HTML for a content radar, rendered once per (link, radar version) and
then only filled in per open: the template costs more than everything else on an open."""

from __future__ import annotations

import secrets
from collections import OrderedDict

from bot.deps import Deps
from cards.radar import render_page
from handlers.radar import uploads, visits
from storage.radar import Radar, RadarType

# Stand-ins for the per-open values; tojson leaves them as they are, and nobody can guess them
# to put them in a title.
_NONCE = secrets.token_hex(8)
_KEY, _SELF = f"@@{_NONCE}key@@", f"@@{_NONCE}self@@"
_pages: OrderedDict[tuple[str, int, object], str] = OrderedDict()
MAX_PAGES = 2_000


def _template(token: str, radar: Radar) -> str:
    cache_key = (token, radar.id, radar.updated_at)
    page = _pages.get(cache_key)
    if page is not None:
        return page
    base = f"/r/{token}"
    files = [f"{base}/f/{f['name']}" for f in radar.files]
    config = {
        "kind": radar.type.value,
        "beat": f"{base}/beat",
        "key": _KEY,
        "self": _SELF,
        "files": files,
        "worker": "/static/vendor/pdfjs/pdf.worker.min.mjs",
    }
    # a PDF's first page as an image drawn at upload: shown at once, the viewer loads after
    first_page = None
    if radar.type is RadarType.PDF and radar.files:
        entry = radar.files[0]
        first_page = {
            "src": f"{base}/f/{uploads.first_page_name(entry['name'])}",
            "width": int(entry.get("width", 0)),
            "height": int(entry.get("height", 0)),
        }
    page = render_page(
        "landing.html",
        title=radar.title,
        description=radar.description,
        kind=radar.type.value,
        files=files,
        first_page=first_page,
        config=config,
    )
    _pages[cache_key] = page
    while len(_pages) > MAX_PAGES:
        _pages.popitem(last=False)
    return page


def content_page(
    deps: Deps, token: str, radar: Radar, visit_id: str, started: int, visitor_id: str
) -> str:
    """The page for one open: its heartbeat key and its own forwardable link filled in."""
    own = f"/r/{token}?from={visits.from_value(deps, visitor_id)}"
    key = visits.beat_key(deps, token, visit_id, started)
    return _template(token, radar).replace(_KEY, key, 1).replace(_SELF, own, 1)


def clear() -> None:
    _pages.clear()
