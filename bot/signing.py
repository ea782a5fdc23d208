"""HMAC signing for button keys, link tokens and session cookies (one secret, per-purpose keys)."""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import time
from typing import Any

DUMPS_MAC_LENGTH = 32


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()
        self._keys: dict[str, bytes] = {}  # per purpose, derived once (a handful of purposes)

    def _key(self, purpose: str) -> bytes:
        key = self._keys.get(purpose)
        if key is None:
            key = self._keys[purpose] = hmac.digest(self._secret, purpose.encode(), "sha256")
        return key

    def mac(self, purpose: str, message: str, length: int = 22) -> str:
        digest = hmac.digest(self._key(purpose), message.encode(), "sha256")
        return _b64(digest)[:length]

    def verify_mac(self, purpose: str, message: str, mac: str, *, length: int) -> bool:
        """Only a MAC of exactly the issued `length`: a shortened one would be easier to guess."""
        if len(mac) != length:
            return False
        return hmac.compare_digest(self.mac(purpose, message, length).encode(), mac.encode())

    def token(self, purpose: str, length: int = 22) -> str:
        """An unguessable random id followed by its MAC: `<random>.<mac>`."""
        rid = secrets.token_urlsafe(12)
        return f"{rid}.{self.mac(purpose, rid, length)}"

    def check_token(self, purpose: str, token: str, length: int = 22) -> bool:
        rid, _, mac = token.partition(".")
        return bool(rid) and self.verify_mac(purpose, rid, mac, length=length)

    def dumps(self, purpose: str, payload: dict[str, Any], max_age: int | None = None) -> str:
        body = dict(payload)
        if max_age is not None:
            body["_exp"] = int(time.time()) + max_age
        text = _b64(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())
        return f"{text}.{self.mac(purpose, text, DUMPS_MAC_LENGTH)}"

    def loads(self, purpose: str, value: str) -> dict[str, Any] | None:
        text, _, mac = value.partition(".")
        if not text or not self.verify_mac(purpose, text, mac, length=DUMPS_MAC_LENGTH):
            return None
        try:
            body = json.loads(_unb64(text))
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(body, dict):
            return None
        exp = body.pop("_exp", None)
        if exp is not None and int(exp) < time.time():
            return None
        return body
