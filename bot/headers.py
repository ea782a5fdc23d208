"""Security headers on every response the app sends, streams and static files included.

The pages load only this service's own (vendored) scripts, so scripts come from 'self'
alone; styles also allow inline (public pages' <style> blocks and ECharts' tooltips write
style attributes). Only the pages WeCom opens as the chat sidebar and toolbar may be framed,
and only by WeCom's own origins (`security.frame_ancestors`); everything else by nobody.
"""

from __future__ import annotations

from aiohttp import web

from bot.settings import Settings

# WeCom's login panel and the JS-SDK's helper frame are the only frames a page may embed.
WECOM_FRAMES = "https://login.work.weixin.qq.com https://open.work.weixin.qq.com"
_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' blob:; font-src 'self' data:; "
    "connect-src 'self'; worker-src 'self' blob:; frame-src " + WECOM_FRAMES + "; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors "
)
FRAMED_IN_WECOM = ("/sidebar", "/toolbar")


def _in_wecom(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in FRAMED_IN_WECOM)


def policy_for(path: str, settings: Settings) -> str:
    if _in_wecom(path):
        return _POLICY + " ".join(settings.security.frame_ancestors or ["'none'"])
    return _POLICY + "'none'"


def setup(app: web.Application, settings: Settings) -> None:
    framed, elsewhere = policy_for(FRAMED_IN_WECOM[0], settings), policy_for("/", settings)

    async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
        headers = response.headers
        in_wecom = _in_wecom(request.path)
        headers["Content-Security-Policy"] = framed if in_wecom else elsewhere
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "same-origin"  # public links carry their token in the path
        if not in_wecom:
            headers["X-Frame-Options"] = "DENY"  # for webviews that ignore frame-ancestors

    app.on_response_prepare.append(add_headers)
