"""Server-side sessions: the cookie is a signed random id, the `web_session` row says whose
it is and whether it still holds. Logout revokes the row, so a captured cookie stops working
at once on every web process. The CSRF token is derived from the session id, so a token
from one session is worthless in another."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from aiohttp import web

from bot.settings import Settings
from bot.signing import Signer
from storage.core import WebSession

SESSION_COOKIE = "scrmbot_session"
SESSION_PURPOSE = "session"
CSRF_PURPOSE = "csrf"
CSRF_LENGTH = 32
MAX_COOKIE = 512


def _now() -> datetime:
    return datetime.now(UTC)


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


async def create(signer: Signer, settings: Settings, userid: str) -> tuple[str, str]:
    """A new session for `userid`: (cookie value, session id)."""
    session_id = secrets.token_urlsafe(32)
    now, max_age = _now(), settings.security.session_max_age
    expires = now + timedelta(seconds=max_age)
    await WebSession.create(id=_key(session_id), userid=userid, created_at=now, expires_at=expires)
    return signer.dumps(SESSION_PURPOSE, {"s": session_id}, max_age), session_id


def session_id(request: web.Request, signer: Signer) -> str | None:
    """The id in the request's session cookie when its signature holds (not yet looked up)."""
    raw = request.cookies.get(SESSION_COOKIE, "")
    body = signer.loads(SESSION_PURPOSE, raw) if 0 < len(raw) <= MAX_COOKIE else None
    value = body.get("s") if body else None
    return value if isinstance(value, str) and value else None


async def userid_of(session_id: str) -> str | None:
    row = await WebSession.get_or_none(id=_key(session_id), revoked_at=None, expires_at__gt=_now())
    return row.userid if row else None


async def revoke(session_id: str) -> None:
    await WebSession.filter(id=_key(session_id), revoked_at=None).update(revoked_at=_now())


async def revoke_user(userid: str) -> int:
    """End every session of a member (they left, or an admin signs them out everywhere)."""
    return await WebSession.filter(userid=userid, revoked_at=None).update(revoked_at=_now())


async def prune(before: datetime) -> int:
    """Forget sessions that expired or were revoked before `before`."""
    expired = await WebSession.filter(expires_at__lt=before).delete()
    return expired + await WebSession.filter(revoked_at__lt=before).delete()


def csrf_for(signer: Signer, session_id: str) -> str:
    return signer.mac(CSRF_PURPOSE, session_id, CSRF_LENGTH)


def csrf_matches(signer: Signer, session_id: str, given: str) -> bool:
    return signer.verify_mac(CSRF_PURPOSE, session_id, given, length=CSRF_LENGTH)
