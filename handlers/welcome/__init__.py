"""默认欢迎语 — the lowest-priority welcome provider, and the admins' API to set it.

The core's arbiter (`bot.welcome`) asks providers by priority: fission (30) and channel
contact ways (20) come before this default (10). What was decided for each add, and why
none was sent, is listed at `GET /api/welcome/log`.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from bot.auth_types import Role
from bot.deps import Deps
from bot.events import ExternalContactEvent
from bot.http import RequestContext, json_ok, read_json
from bot.router import Router
from bot.settings_cache import cached, forget
from bot.welcome import Welcome
from storage.core import WelcomeLog
from storage.welcome import DefaultWelcome

router = Router("welcome")
DEFAULT_PRIORITY = 10
CACHE_KEY = "welcome.default"


class DefaultWelcomeIn(BaseModel):
    enabled: bool = Field(title="启用默认欢迎语")
    text: str = Field(default="", max_length=4000, title="欢迎语内容")


async def _read_default() -> Welcome | None:
    row = await DefaultWelcome.get_or_none(id=1)
    if row is None or not row.enabled or not row.text.strip():
        return None
    return Welcome(text=row.text)


@router.welcome(priority=DEFAULT_PRIORITY)
async def default_welcome(deps: Deps, event: ExternalContactEvent) -> Welcome | None:
    return await cached(deps, CACHE_KEY, _read_default)  # an add costs no read


@router.demo
async def demo_default(deps: Deps) -> None:
    await DefaultWelcome.get_or_create(
        id=1, defaults={"enabled": True, "text": "您好，我是您的专属顾问，有任何问题随时找我～"}
    )


@router.get("/api/welcome/default", role=Role.ADMIN)
async def get_default(ctx: RequestContext) -> object:
    row = await DefaultWelcome.get_or_none(id=1)
    return json_ok({"enabled": bool(row and row.enabled), "text": row.text if row else ""})


@router.route("PUT", "/api/welcome/default", role=Role.ADMIN)
async def put_default(ctx: RequestContext) -> object:
    body = await read_json(ctx.request, DefaultWelcomeIn)
    who = ctx.user.userid if ctx.user else ""
    await DefaultWelcome.update_or_create(
        id=1, defaults={"enabled": body.enabled, "text": body.text, "updated_by": who}
    )
    forget(ctx.deps, CACHE_KEY)
    return json_ok({"enabled": body.enabled, "text": body.text})


@router.get("/api/welcome/log", role=Role.ADMIN)
async def welcome_log(ctx: RequestContext) -> object:
    rows = await WelcomeLog.all().order_by("-id").limit(100)
    items = [
        {
            "userid": r.userid,
            "external_userid": r.external_userid,
            "provider": r.provider,
            "status": r.status,
            "reason": r.reason,
            "fallback_sent": r.fallback_sent,
            "event_at": r.event_at.isoformat(),
        }
        for r in rows
    ]
    return json_ok({"items": items})


__all__ = ["router"]
