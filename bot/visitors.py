"""Who is looking at a public page (every page customers open: `/r/`, `/p/`, `/f/` ...).

One identity chain, strongest first:
1. the WeChat service account's OAuth (bot/visitor_oauth.py): the visitor row carries openid,
   unionid and the customer's external_userid — or WeCom's `pending_id` until the person
   becomes a customer, resolved later;
2. a signed personal link sent to one known customer: it is bound to the first browser that
   opens it; any other browser opening the same link came through that customer (a forward)
   and is never taken to be them;
3. an anonymous first-party id in a signed cookie that covers every public page.

The page learns how sure the chain is (`Assurance`) and can require a level with `require`.
Rate limits key on the visitor, and on the client address (trusted proxies only) where the
browser has no visitor id yet.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any

from aiohttp import web
from tortoise.exceptions import IntegrityError

from bot.client_address import client_address
from bot.deps import Deps
from bot.http import RequestContext, message_page
from bot.ids import ordered_id
from bot.ratelimit import SharedMinute
from storage.visitors import LinkBinding, Visitor

COOKIE = "scrmbot_v"
COOKIE_PURPOSE = "visitors.cookie"
COOKIE_AGE = 2 * 365 * 24 * 3600
_PARSED = web.RequestKey("scrmbot.visitor_cookie", dict)


class Assurance(IntEnum):
    ANONYMOUS = 0
    TOKEN = 1
    OAUTH = 2

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class PersonalLink:
    """A link the page has verified (signed) as sent to one customer; `key` names it uniquely
    across features, e.g. "shop.share:42"."""

    key: str
    external_userid: str


@dataclass
class PublicVisitor:
    id: str
    row: Visitor | None  # the stored row: only browsers the service account identified have one
    external_userid: str  # who the chain says this is ("" = unknown)
    assurance: Assurance
    fresh: bool = False  # the browser brought no visitor id: seen for the first time
    via: str = ""  # visitor id of the browser that owns the personal link this one forwarded
    oauth_tried: bool = False
    created_at: datetime | None = None

    def new_row(self) -> dict[str, Any]:
        """The visitor's row as plain values, for when OAuth gives it something to store."""
        return {"id": self.id, "created_at": self.created_at}


def new_id() -> str:
    """A new browser's id (the person of its visits): made in time order, so the browsers
    first seen together share their index pages."""
    return ordered_id()


# --- cookie ---------------------------------------------------------------------------------


def read_cookie(ctx: RequestContext) -> dict[str, Any]:
    """The signed visitor cookie: `v` = visitor id, `o` = OAuth already tried (checked once
    per request)."""
    cached: dict[str, Any] | None = ctx.request.get(_PARSED)
    if cached is not None:
        return cached
    raw = ctx.request.cookies.get(COOKIE, "")
    body = ctx.deps.signer.loads(COOKIE_PURPOSE, raw) if 0 < len(raw) < 256 else None
    found: dict[str, Any] = body or {}
    ctx.request[_PARSED] = found
    return found


def request_visitor_id(ctx: RequestContext) -> str | None:
    """The visitor id this browser brought (no database lookup)."""
    return cookie_visitor(read_cookie(ctx))


def cookie_visitor(cookie: dict[str, Any]) -> str | None:
    vid = cookie.get("v")
    return vid if isinstance(vid, str) and 0 < len(vid) <= 32 else None


def write_cookie(
    ctx: RequestContext, response: web.StreamResponse, visitor_id: str, tried: bool
) -> None:
    body: dict[str, Any] = {"v": visitor_id}
    if tried:
        body["o"] = 1
    # Written by hand: the value is base64url and dots (nothing to quote), and SimpleCookie's
    # formatting costs more than the rest of an open's cookie handling.
    secure = "; Secure" if ctx.deps.settings.base_url.startswith("https://") else ""
    value = ctx.deps.signer.dumps(COOKIE_PURPOSE, body)
    response.headers.add(
        "Set-Cookie",
        f"{COOKIE}={value}; HttpOnly; Max-Age={COOKIE_AGE}; Path=/; SameSite=Lax{secure}",
    )


def keep(ctx: RequestContext, response: web.StreamResponse, visitor: PublicVisitor) -> None:
    """Set the cookie when this browser has none (or only the legacy one)."""
    if visitor.fresh or COOKIE not in ctx.request.cookies:
        write_cookie(ctx, response, visitor.id, visitor.oauth_tried)


# --- the chain ------------------------------------------------------------------------------


async def identify(ctx: RequestContext, personal: PersonalLink | None = None) -> PublicVisitor:
    """This browser's visitor and who it is. An anonymous browser has no row (its id lives in
    its cookie and in what the page records about it); nothing is inserted here."""
    from bot.visitor_oauth import refresh_pending

    deps = ctx.deps
    cookie = read_cookie(ctx)
    vid = cookie_visitor(cookie)
    row = await Visitor.get_or_none(id=vid) if vid else None
    if row is not None and row.unionid and not row.external_userid:
        await refresh_pending(deps, row)
    known = row.external_userid if row is not None else ""
    visitor = PublicVisitor(
        row.id if row is not None else vid or new_id(),
        row,
        known,
        Assurance.OAUTH if known else Assurance.ANONYMOUS,
        fresh=vid is None,
        oauth_tried=bool(cookie.get("o")),
        created_at=row.created_at if row is not None else deps.now(),
    )
    if personal is not None:
        await apply_link(deps, visitor, personal)
    return visitor


async def apply_link(
    deps: Deps, visitor: PublicVisitor, personal: PersonalLink, bind: bool = True
) -> None:
    """The personal link this browser opened: it is the link's customer when it is the first
    browser to open it (or OAuth says so); otherwise it came through them. `bind=False` only
    reads the binding (requests that follow the page, such as its files)."""
    if not personal.external_userid:
        return
    known = visitor.row.external_userid if visitor.row is not None else ""
    if known and known != personal.external_userid:
        visitor.via = await _bound(personal) or ""  # someone else: through the link's owner
        return
    owner = await _bind(deps, personal, visitor.id) if bind else await _bound(personal)
    if owner is None:
        return
    if owner == visitor.id:
        visitor.external_userid = personal.external_userid
        visitor.assurance = max(visitor.assurance, Assurance.TOKEN)
    elif not known:
        visitor.via = owner


_bindings: OrderedDict[str, str] = OrderedDict()  # link → first browser (never changes)


async def _bound(personal: PersonalLink) -> str | None:
    if (hit := _bindings.get(personal.key)) is not None:
        return hit
    row = await LinkBinding.get_or_none(link=personal.key).values("visitor_id")
    return _remember(personal.key, row["visitor_id"]) if row else None


async def _bind(deps: Deps, personal: PersonalLink, visitor_id: str) -> str:
    """The browser the link belongs to: this one when it is the first to open it."""
    if (owner := await _bound(personal)) is not None:
        return owner
    try:
        await LinkBinding.create(
            link=personal.key,
            visitor_id=visitor_id,
            external_userid=personal.external_userid,
            bound_at=deps.now(),
        )
        return _remember(personal.key, visitor_id)
    except IntegrityError:  # another browser got there first
        row = await LinkBinding.get(link=personal.key).values("visitor_id")
        return _remember(personal.key, row["visitor_id"])


def _remember(key: str, visitor_id: str) -> str:
    _bindings[key] = visitor_id
    while len(_bindings) > 50_000:
        _bindings.popitem(last=False)
    return visitor_id


def clear_cache() -> None:
    """Forget cached link bindings (tests that swap the database)."""
    _bindings.clear()


# --- what a page may require ----------------------------------------------------------------

_WHY = {
    Assurance.TOKEN: (
        "请从顾问发给您的链接打开",
        "这个页面需要确认您的身份。请直接点开顾问在企业微信里发给您的链接（不要使用别人转发的链接）；"
        "在微信中打开并允许获取身份信息也可以。",
    ),
    Assurance.OAUTH: (
        "请在微信中打开",
        "这个页面需要通过微信确认您的身份。请在微信中打开此链接，并允许获取您的身份信息；"
        "如果您还不是我们的客户，请先添加顾问的企业微信。",
    ),
}


def require(visitor: PublicVisitor, level: Assurance) -> web.Response | None:
    """None when the chain is sure enough; else the page explaining why and what to do."""
    if visitor.assurance >= level:
        return None
    title, message = _WHY.get(level, _WHY[Assurance.TOKEN])
    return message_page(403, title, message)


# --- rate limits ----------------------------------------------------------------------------


def limiter(deps: Deps) -> SharedMinute:
    """This process's per-minute counters for public pages (kept in the process state)."""
    held = deps.state.resources
    found: SharedMinute | None = held.get(limiter)
    if found is None:
        found = held[limiter] = SharedMinute(
            deps.redis, "scrmbot:visitors:rl", clock=lambda: deps.now().timestamp()
        )
    return found


def limit_key(ctx: RequestContext, visitor_id: str | None) -> str:
    """The visitor when the browser brought an id, else its address (trusted proxies only)."""
    if visitor_id:
        return "v:" + visitor_id
    return "a:" + client_address(ctx.request, ctx.deps.settings.server.trusted_proxies)


def allow(ctx: RequestContext, action: str, visitor_id: str | None, per_minute: int) -> bool:
    """Count one `action` for this visitor (or address); False when over the limit."""
    if per_minute <= 0:
        return True
    return limiter(ctx.deps).hit(f"{action}:{limit_key(ctx, visitor_id)}", per_minute)
