"""The async WeCom API client: one aiohttp session, access tokens and JS-SDK tickets shared by
every process through Redis, a token bucket per endpoint, backoff on transient errors only,
and at most 30 app messages per member per minute (REFERENCE.md §4-§7)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import re
import time
from collections.abc import Callable
from typing import Any, Literal

import aiohttp
from redis.asyncio import Redis

from bot.metrics import WECOM_CALLS
from bot.ratelimit import Clock, MemberWindow, Sleep, TokenBucket
from bot.settings import Settings
from bot.wecom_api import WeComEndpoints
from bot.wecom_cache import SharedCache
from bot.wecom_errors import TOKEN_ERRCODES, MemberRateLimited, WeComError

__all__ = ["MemberRateLimited", "WeComClient", "WeComError"]

log = logging.getLogger(__name__)

SecretName = Literal["app", "contact"]
FormFactory = Callable[[], aiohttp.FormData]
LOCAL_TOKEN_SECONDS = 5.0  # far under a token's life (the shared cache keeps its own margin)
RESERVED_SECONDS = 2.0  # rate tokens taken ahead for a set of calls are used this soon or lost
MAX_TOUSER = 1000  # message/send accepts at most 1000 userids per call
_TOKEN_IN_TEXT = re.compile(r"(access_token|corpsecret)=[^&\s'\")]+")


def _redact(exc: BaseException) -> str:
    text = _TOKEN_IN_TEXT.sub(r"\1=***", str(exc))
    return f"{type(exc).__name__}: {text}".rstrip(": ")


class WeComClient(WeComEndpoints):
    def __init__(
        self,
        settings: Settings,
        redis: Redis,
        session: aiohttp.ClientSession,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.time,
        backoff_base: float = 0.5,
        backoff_cap: float = 10.0,
        max_member_wait: float = 3.0,
    ) -> None:
        self.settings = settings
        self.cfg = settings.wecom
        self.redis = redis
        self.session = session
        self._sleep = sleep
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_member_wait = max_member_wait
        self._timeout = aiohttp.ClientTimeout(total=self.cfg.timeout)
        prefix = f"scrmbot:wecom:{self.cfg.corp_id}"
        self.cache = SharedCache(redis, lock_seconds=max(5.0, 2 * self.cfg.timeout))
        self._tokens: dict[str, tuple[str, float]] = {}  # secret -> (token, good until)
        self._reserved: dict[str, tuple[int, float]] = {}  # path -> (rate tokens, good until)
        self.bucket = TokenBucket(
            redis, f"{prefix}:bucket", self.cfg.rate_per_minute, clock=clock, sleep=sleep
        )
        self.members = MemberWindow(
            redis,
            f"{prefix}:{self.cfg.agent_id}:msg",
            self.cfg.member_messages_per_minute,
            clock=clock,
        )

    # --- tokens and tickets -------------------------------------------------------------

    def _secret(self, name: str) -> str:
        if name == "app":
            return self.cfg.secret
        if name == "contact":
            return self.cfg.contact_secret
        raise ValueError(f"unknown secret {name!r}; use 'app' or 'contact'")

    def token_key(self, secret: str = "app") -> str:
        # A hash, never the secret: Redis keys show up in monitoring and dumps.
        digest = hashlib.sha256(self._secret(secret).encode()).hexdigest()[:16]
        return f"scrmbot:wecom:token:{self.cfg.corp_id}:{digest}"

    async def access_token(self, secret: str = "app") -> str:
        """The shared token (Redis), remembered in this process for a few seconds: a burst of
        calls does not read Redis once per call. A token WeCom refuses is dropped from both."""
        now = time.monotonic()
        held = self._tokens.get(secret)
        if held is not None and held[1] > now:
            return held[0]
        token = await self.cache.get(self.token_key(secret), lambda: self._fetch_token(secret))
        self._tokens[secret] = (token, now + LOCAL_TOKEN_SECONDS)
        return token

    async def _fetch_token(self, secret: str) -> tuple[str, int]:
        params = {"corpid": self.cfg.corp_id, "corpsecret": self._secret(secret)}
        body = await self._with_retries("GET", "/cgi-bin/gettoken", params)
        log.info("wecom: fetched a new access_token (%s secret)", secret)
        return str(body["access_token"]), int(body.get("expires_in", 7200))

    async def _ticket(self, kind: str, path: str, params: dict[str, Any] | None) -> str:
        key = f"scrmbot:wecom:ticket:{kind}:{self.cfg.corp_id}:{self.cfg.agent_id}"

        async def fetch() -> tuple[str, int]:
            body = await self.call("GET", path, params=params)
            return str(body["ticket"]), int(body.get("expires_in", 7200))

        return await self.cache.get(key, fetch)

    async def get_jsapi_ticket(self) -> str:
        """The corp ticket for wx.config (REFERENCE.md §6)."""
        return await self._ticket("jsapi", "/cgi-bin/get_jsapi_ticket", None)

    async def get_agent_ticket(self) -> str:
        """The app ticket for wx.agentConfig; cached per agent, never shared across apps."""
        return await self._ticket("agent", "/cgi-bin/ticket/get", {"type": "agent_config"})

    # --- calls ---------------------------------------------------------------------------

    async def reserve(self, path: str, calls: int) -> int:
        """Take the rate tokens of `calls` coming calls to `path` in one round trip to the
        shared bucket (as many as it holds now; the others wait for theirs one by one).
        Tokens not used within a few seconds are dropped: they count against the rate all
        the same, so a reservation never lets more calls through. Returns the tokens taken."""
        if calls <= 0:
            return 0
        taken, _ = await self.bucket.take(path, calls)
        if taken:
            held, until = self._reserved.get(path, (0, 0.0))
            held = held if until > time.monotonic() else 0
            self._reserved[path] = (held + taken, time.monotonic() + RESERVED_SECONDS)
        return taken

    async def _rate_token(self, path: str) -> None:
        held, until = self._reserved.get(path, (0, 0.0))
        if held > 0 and until > time.monotonic():
            if held == 1:
                del self._reserved[path]
            else:
                self._reserved[path] = (held - 1, until)
            return
        await self.bucket.acquire(path)

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        secret: str = "app",
    ) -> dict[str, Any]:
        """Call `api_base + path` with the access_token of `secret`; the body when errcode is
        0, else WeComError. Transient failures are retried, a stale token is replaced once."""
        return await self._call(method, path, params, json, secret, None)

    async def _call(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        json: dict[str, Any] | None,
        secret: str,
        form: FormFactory | None,
    ) -> dict[str, Any]:
        refreshed = False
        while True:
            token = await self.access_token(secret)
            query = {**(params or {}), "access_token": token}
            try:
                return await self._with_retries(method, path, query, json, form)
            except WeComError as exc:
                if exc.errcode not in TOKEN_ERRCODES or refreshed:
                    raise
                refreshed = True
                log.info("wecom %s: errcode %s, refreshing the access_token", path, exc.errcode)
                self._tokens.pop(secret, None)
                await self.cache.drop(self.token_key(secret), token)

    async def _with_retries(
        self,
        method: str,
        path: str,
        params: dict[str, Any],
        json: dict[str, Any] | None = None,
        form: FormFactory | None = None,
    ) -> dict[str, Any]:
        attempt = 0
        while True:
            try:
                return await self._once(method, path, params, json, form)
            except WeComError as exc:
                if not exc.retryable or attempt >= self.cfg.max_retries:
                    raise
                delay = self.backoff(attempt)
                attempt += 1
                log.warning(
                    "wecom %s: errcode %s (%s), retry %d/%d in %.2fs",
                    path,
                    exc.errcode,
                    exc.errmsg,
                    attempt,
                    self.cfg.max_retries,
                    delay,
                )
                await self._sleep(delay)

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter, so N workers do not retry in step."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2**attempt)
        return float(ceiling) * random.uniform(0.5, 1.0)

    async def _once(
        self,
        method: str,
        path: str,
        params: dict[str, Any],
        json: dict[str, Any] | None,
        form: FormFactory | None,
    ) -> dict[str, Any]:
        await self._rate_token(path)
        url = self.cfg.api_base + path
        data = form() if form is not None else None
        try:
            async with self.session.request(
                method, url, params=params, json=json, data=data, timeout=self._timeout
            ) as resp:
                body = await resp.json(content_type=None)
            if not isinstance(body, dict):
                raise ValueError(f"HTTP {resp.status}: not a JSON object")
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            WECOM_CALLS.labels(path, "network").inc()
            # from None: the chained exception's text carries the URL with the access_token.
            raise WeComError(-1, f"network error: {_redact(exc)}", path, network=True) from None
        errcode = int(body.get("errcode", 0) or 0)
        WECOM_CALLS.labels(path, str(errcode)).inc()
        if errcode != 0:
            raise WeComError(errcode, str(body.get("errmsg", "")), path)
        return body

    # --- app messages --------------------------------------------------------------------

    async def send_message(self, touser: list[str], msg: dict[str, Any]) -> dict[str, Any]:
        """POST message/send to these members, `msg` being e.g. {"msgtype": "text", "text":
        {...}}. Members who had 30 messages this minute wait (up to `max_member_wait` s);
        members who would wait longer raise MemberRateLimited after the others were sent."""
        users = list(dict.fromkeys(u for u in touser if u))
        if not users:
            raise ValueError("touser is empty")
        if "@all" in users:
            return await self._send_chunk(["@all"], msg)
        results: list[dict[str, Any]] = []
        deferred: dict[str, float] = {}
        pending = users
        while pending:
            waits = await self.members.take(pending)
            ready = [u for u in pending if u not in waits]
            for i in range(0, len(ready), MAX_TOUSER):
                results.append(await self._send_chunk(ready[i : i + MAX_TOUSER], msg))
            deferred.update({u: w for u, w in waits.items() if w > self.max_member_wait})
            short = {u: w for u, w in waits.items() if w <= self.max_member_wait}
            if short:
                await self._sleep(max(short.values()))
            pending = [u for u in pending if u in short]
        merged = _merge(results)
        if deferred:
            raise MemberRateLimited(sorted(deferred), max(deferred.values()), merged)
        assert merged is not None  # users was not empty and nothing was deferred
        return merged

    async def _send_chunk(self, users: list[str], msg: dict[str, Any]) -> dict[str, Any]:
        body = {**msg, "touser": "|".join(users), "agentid": self.cfg.agent_id}
        return await self.call("POST", "/cgi-bin/message/send", json=body)

    async def send_template_card(self, touser: list[str], card: dict[str, Any]) -> dict[str, Any]:
        return await self.send_message(touser, {"msgtype": "template_card", "template_card": card})

    async def update_template_card(
        self, userids: list[str], response_code: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Update a sent card with its response_code (one use, 72 h); `body` is
        {"button": {"replace_name": ...}} or {"template_card": {...}}."""
        if len(body) != 1 or not ({"button", "template_card"} & body.keys()):
            raise ValueError("body must be {'button': {...}} or {'template_card': {...}}")
        payload = {
            "userids": userids,
            "agentid": self.cfg.agent_id,
            "response_code": response_code,
            **body,
        }
        return await self.call("POST", "/cgi-bin/message/update_template_card", json=payload)

    # --- media -----------------------------------------------------------------------------

    async def upload_media(self, kind: str, filename: str, data: bytes) -> str:
        """Upload a temporary file (image, voice, video, file; 3 days) and return its media_id."""

        def form() -> aiohttp.FormData:
            fd = aiohttp.FormData()
            fd.add_field("media", data, filename=filename, content_type="application/octet-stream")
            return fd

        body = await self._call("POST", "/cgi-bin/media/upload", {"type": kind}, None, "app", form)
        return str(body["media_id"])

    async def upload_attachment(self, kind: str, filename: str, data: bytes) -> str:
        """Upload a moments attachment (image or video, attachment_type 1) with the
        customer-contact secret; the media_id lives 3 days, so upload for each use (W10)."""

        def form() -> aiohttp.FormData:
            fd = aiohttp.FormData()
            fd.add_field("media", data, filename=filename, content_type="application/octet-stream")
            return fd

        params = {"media_type": kind, "attachment_type": 1}
        path = "/cgi-bin/media/upload_attachment"
        body = await self._call("POST", path, params, None, "contact", form)
        return str(body["media_id"])


def _merge(results: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One result for several message/send calls: the first, with every invaliduser and the
    individual answers under "responses"."""
    if len(results) <= 1:
        return results[0] if results else None
    invalid = [r["invaliduser"] for r in results if r.get("invaliduser")]
    return {**results[0], "invaliduser": "|".join(invalid), "responses": results}
