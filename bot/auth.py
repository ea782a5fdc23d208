"""People's auth: roles (who a member is comes from the directory a feature provides through
`router.lookup`), the signed session cookie, CSRF tokens, OAuth / web-login URLs and
the JS-SDK signature. The HTTP views that use these live in `handlers/system.py`."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from aiohttp import web

from bot import sessions
from bot.auth_types import Member, Principal, Role
from bot.sessions import SESSION_COOKIE as SESSION_COOKIE
from bot.sessions import SESSION_PURPOSE as SESSION_PURPOSE
from bot.settings import Settings
from bot.signing import Signer
from storage.core import ConsoleRole

if TYPE_CHECKING:
    from bot.dispatcher import Dispatcher

CSRF_COOKIE = "scrmbot_csrf"
CSRF_HEADER = "X-CSRF-Token"
OAUTH_COOKIE = "scrmbot_oauth"  # binds a login's state to the browser that started it
STATE_TTL = 600
STATE_PURPOSE = "login-state"
# What auth asks the directory (a feature registers them with `router.lookup`).
MEMBER_LOOKUP = "member"  # async (userid) -> Member | None
DEPARTMENT_MEMBERS_LOOKUP = "department_members"  # async (frozenset[int]) -> set[str]
USER_KEY = web.RequestKey("scrmbot_user", object)
_ANONYMOUS = object()

CONSOLE_ROLES = {"admin": Role.ADMIN, "dept_admin": Role.DEPT_ADMIN}


# --- roles -----------------------------------------------------------------------------


async def find_member(userid: str, dispatcher: Dispatcher | None) -> Member | None:
    lookup = dispatcher.lookup(MEMBER_LOOKUP) if dispatcher else None
    found: Member | None = await lookup(userid) if lookup else None
    return found


async def load_principal(
    userid: str, settings: Settings, dispatcher: Dispatcher | None = None
) -> Principal:
    """The person behind a WeCom userid with their console role (staff when nothing else)."""
    member = await find_member(userid, dispatcher)
    name = member.name if member else userid
    members_of = dispatcher.lookup(DEPARTMENT_MEMBERS_LOOKUP) if dispatcher else None
    if userid in settings.security.super_admins:
        return Principal(userid, name, Role.SUPER_ADMIN, members_of=members_of)
    grant = await ConsoleRole.get_or_none(userid=userid)
    role = CONSOLE_ROLES.get(grant.role, Role.STAFF) if grant else Role.STAFF
    depts = (
        frozenset(int(d) for d in grant.departments) if grant and role is Role.DEPT_ADMIN else None
    )
    return Principal(userid, name, role, depts or frozenset(), members_of=members_of)


async def is_active_member(userid: str, dispatcher: Dispatcher | None = None) -> bool:
    """A member who left or was disabled in WeCom may not keep using a session."""
    member = await find_member(userid, dispatcher)
    return member is None or member.active


async def scope_userids(principal: Principal) -> set[str] | None:
    """Whose data a person may see: None = everyone (admin and up)."""
    if principal.sees_all:
        return None
    if principal.role is Role.DEPT_ADMIN and principal.members_of is not None:
        return await principal.members_of(principal.departments) | {principal.userid}
    return {principal.userid}


# --- session cookie --------------------------------------------------------------------


def _secure(settings: Settings) -> bool:
    return settings.base_url.startswith("https://")


async def set_session(
    response: web.StreamResponse, signer: Signer, settings: Settings, userid: str
) -> None:
    """Start a server-side session and hand the browser its cookie and its CSRF token."""
    value, session_id = await sessions.create(signer, settings, userid)
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=settings.security.session_max_age,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=_secure(settings),
    )
    set_csrf_cookie(response, sessions.csrf_for(signer, session_id), settings)


async def end_session(request: web.Request, response: web.StreamResponse, signer: Signer) -> None:
    """Logout: the session row is revoked (the cookie is dead everywhere), then cleared."""
    session_id = sessions.session_id(request, signer)
    if session_id:
        await sessions.revoke(session_id)
    response.del_cookie(SESSION_COOKIE, path="/")
    response.del_cookie(CSRF_COOKIE, path="/")


async def current_user(
    request: web.Request, signer: Signer, settings: Settings, dispatcher: Dispatcher | None = None
) -> Principal | None:
    """The signed-in person, resolved once per request."""
    cached = request.get(USER_KEY)
    if cached is not None:
        return None if cached is _ANONYMOUS else cached
    session_id = sessions.session_id(request, signer)
    userid = await sessions.userid_of(session_id) if session_id else None
    user = None
    if userid and await is_active_member(userid, dispatcher):
        user = await load_principal(userid, settings, dispatcher)
    request[USER_KEY] = user if user is not None else _ANONYMOUS
    return user


# --- CSRF -------------------------------------------------------------------------------
# Signed in: the token is derived from the session id (a token of another session, or of
# none, is refused). Anonymous: double submit (cookie and header agree).


def csrf_token(request: web.Request, signer: Signer) -> tuple[str, bool]:
    """The browser's CSRF token and whether the cookie must be (re)set by the caller."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    session_id = sessions.session_id(request, signer)
    if session_id:
        token = sessions.csrf_for(signer, session_id)
        return token, not hmac.compare_digest(cookie.encode(), token.encode())
    if re.fullmatch(r"[A-Za-z0-9_-]{20,64}", cookie):
        return cookie, False
    return secrets.token_urlsafe(24), True


def set_csrf_cookie(response: web.StreamResponse, token: str, settings: Settings) -> None:
    # Readable by the page's script on purpose: it echoes the value in the header.
    response.set_cookie(
        CSRF_COOKIE, token, path="/", samesite="Lax", secure=_secure(settings), httponly=False
    )


def csrf_ok(request: web.Request, signer: Signer) -> bool:
    header = request.headers.get(CSRF_HEADER, "")
    if not header:
        return False
    session_id = sessions.session_id(request, signer)
    if session_id:
        return sessions.csrf_matches(signer, session_id, header)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), header.encode())


# --- OAuth and web login -----------------------------------------------------------------


def safe_next(value: str | None, default: str) -> str:
    """Only same-origin relative paths: "/x", never "//evil", "/\\evil" or "https://..."."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if any(ord(c) < 0x20 or c in "\\" for c in value) or len(value) > 1024:
        return default
    return value


@dataclass(frozen=True)
class LoginState:
    kind: str  # "oauth" (inside WeCom) or "login" (console scan)
    next: str


def new_state(signer: Signer, kind: str, next_path: str) -> tuple[str, str]:
    """A state id ([a-zA-Z0-9], as WeCom requires) and the signed browser cookie that carries
    it with the login's kind and destination. Nothing is stored server-side, so anonymous
    visitors starting logins cost no memory anywhere."""
    state = secrets.token_hex(16)
    body = {"st": state, "k": kind, "n": next_path}
    return state, signer.dumps(STATE_PURPOSE, body, STATE_TTL)


def take_state(signer: Signer, state: str, cookie: str) -> LoginState | None:
    """The login the browser started, if `state` is the one its cookie carries (binding the
    code to the browser that asked for it: no login CSRF)."""
    if not re.fullmatch(r"[a-f0-9]{32}", state or "") or not 0 < len(cookie) <= 2048:
        return None
    body = signer.loads(STATE_PURPOSE, cookie)
    if not body or not hmac.compare_digest(str(body.get("st", "")).encode(), state.encode()):
        return None
    kind, next_path = body.get("k"), body.get("n")
    if kind not in ("oauth", "login") or not isinstance(next_path, str):
        return None
    return LoginState(kind, next_path)


def oauth_url(settings: Settings, state: str) -> str:
    query = urlencode(
        {
            "appid": settings.wecom.corp_id,
            "redirect_uri": settings.base_url + "/auth/oauth/callback",
            "response_type": "code",
            "scope": "snsapi_base",
            "state": state,
            "agentid": settings.wecom.agent_id,
        },
        quote_via=quote,
        safe="",
    )
    return f"{settings.wecom.oauth_base}/connect/oauth2/authorize?{query}#wechat_redirect"


def web_login_url(settings: Settings, state: str) -> str:
    query = urlencode(
        {
            "login_type": "CorpApp",
            "appid": settings.wecom.corp_id,
            "agentid": settings.wecom.agent_id,
            "redirect_uri": settings.base_url + "/auth/login/callback",
            "state": state,
        },
        quote_via=quote,
        safe="",
    )
    return f"{settings.wecom.login_base}/wwlogin/sso/login?{query}"


def login_url_for(next_path: str) -> str:
    """Where an anonymous visitor signs in: OAuth inside WeCom pages, the console login else."""
    target = "/auth/oauth" if next_path.startswith(("/sidebar", "/toolbar")) else "/admin/login"
    return f"{target}?{urlencode({'next': next_path})}"


# --- JS-SDK ------------------------------------------------------------------------------


def jsapi_signature(ticket: str, noncestr: str, timestamp: int, url: str) -> str:
    """sha1 over the raw values in exactly this order; the url without its #fragment."""
    url = url.split("#", 1)[0]
    text = f"jsapi_ticket={ticket}&noncestr={noncestr}&timestamp={timestamp}&url={url}"
    return hashlib.sha1(text.encode()).hexdigest()


def signed_config(ticket: str, url: str, timestamp: int) -> dict[str, Any]:
    nonce = secrets.token_hex(8)
    return {
        "timestamp": timestamp,
        "nonceStr": nonce,
        "signature": jsapi_signature(ticket, nonce, timestamp, url),
    }
