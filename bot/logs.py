"""Structured logs: one JSON object per line (or plain text), secrets scrubbed."""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime

# The id of the HTTP request being handled (set by the web middleware; tasks it starts
# inherit it), so every line a request causes can be found together.
request_id: ContextVar[str] = ContextVar("request_id", default="")

# A secret-looking key, then `=` (query strings) or `": "` / `': '` (JSON, a dict's repr),
# then the value up to its delimiter. "errcode" is left alone (no word boundary before "code").
_SECRET = re.compile(
    r"""\b(?P<key>\w*(?:secret|token|ticket|password|aes_key)|code|signature)\b"""
    r"""(?P<sep>["']?\s*[=:]\s*["']?)(?P<value>[^&\s"',;}\]]+)""",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)


def scrub(text: str) -> str:
    return _BEARER.sub(r"\1***", _SECRET.sub(r"\g<key>\g<sep>***", text))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": scrub(record.getMessage()),
        }
        if rid := request_id.get():
            data["request_id"] = rid
        if record.exc_info:
            data["exc"] = scrub(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False)


class PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def setup_logging(level: str = "INFO", json_format: bool = True) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter()
        if json_format
        else PlainFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiohttp.access", "tortoise", "arq.worker", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
