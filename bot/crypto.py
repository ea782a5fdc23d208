"""WeCom callback crypto: signature, AES-256-CBC envelope, receive-id check.

wechatpy does the AES work; the signature compare is constant-time here (wechatpy uses `!=`),
the padding is validated, and the outer envelope is parsed without entities and size-capped
before anything is decrypted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import struct
import time

import xmltodict
from wechatpy.crypto.base import WeChatCipher

MAX_BODY_BYTES = 64 * 1024


class CallbackError(Exception):
    """A rejected callback; `status` is the HTTP status to answer with."""

    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadSignature(CallbackError):
    status = 403


class Stale(CallbackError):
    """Validly signed but outside the freshness window: a replay of a captured message."""

    status = 403


class BadRequest(CallbackError):
    status = 400


class TooLarge(CallbackError):
    status = 413


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    parts = sorted([token, timestamp, nonce, encrypt])
    return hashlib.sha1("".join(parts).encode()).hexdigest()


def parse_xml(text: str | bytes) -> dict[str, object]:
    """Entity-free XML → dict of the root's children (xmltodict>=1.0.1 refuses ENTITY)."""
    if len(text) > MAX_BODY_BYTES:
        raise TooLarge("body larger than 64 KiB")
    try:
        doc = xmltodict.parse(text, disable_entities=True)
    except Exception as exc:  # expat errors, entity refusals, encoding errors
        raise BadRequest(f"malformed XML: {type(exc).__name__}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("xml"), dict):
        raise BadRequest("XML root must be <xml> with children")
    xml: dict[str, object] = doc["xml"]
    return xml


# WeCom's envelope is <xml>…<Encrypt><![CDATA[base64]]></Encrypt>…</xml>, and only Encrypt
# matters (it is what the signature covers): found without a full XML parse, which is the
# fallback (with its exact errors) for anything else.
_ENCRYPT = re.compile(
    rb"<Encrypt>(?:<!\[CDATA\[([A-Za-z0-9+/=]+)\]\]>|([A-Za-z0-9+/=]+))</Encrypt>"
)


def envelope_encrypt(body: bytes) -> str:
    if len(body) > MAX_BODY_BYTES:
        raise TooLarge("body larger than 64 KiB")
    plain = body.lstrip().startswith(b"<xml>") and b"<!D" not in body and b"<!E" not in body
    if plain and body.count(b"<Encrypt>") == 1 and (m := _ENCRYPT.search(body)):
        return (m.group(1) or m.group(2)).decode()
    encrypt = parse_xml(body).get("Encrypt")
    if not isinstance(encrypt, str) or not encrypt:
        raise BadRequest("missing <Encrypt>")
    return encrypt


class WeComCrypto:
    def __init__(self, token: str, encoding_aes_key: str, corp_id: str) -> None:
        self.token = token
        self.corp_id = corp_id
        key = base64.b64decode(encoding_aes_key + "=")
        if len(key) != 32:
            raise ValueError("EncodingAESKey must decode to 32 bytes")
        self._cipher = WeChatCipher(key, key[:16])

    def check_signature(self, sig: str, timestamp: str, nonce: str, encrypt: str) -> None:
        expected = signature(self.token, timestamp, nonce, encrypt)
        if not hmac.compare_digest(expected.encode(), sig.lower().encode()):
            raise BadSignature("signature mismatch")

    def decrypt(self, encrypt: str) -> str:
        try:
            raw = self._cipher.decrypt(base64.b64decode(encrypt, validate=True))
        except (binascii.Error, ValueError) as exc:
            raise BadRequest(f"bad base64 or ciphertext: {exc}") from None
        if not raw:
            raise BadRequest("empty plaintext")
        pad = raw[-1]
        if not 1 <= pad <= 32 or raw[-pad:] != bytes([pad]) * pad:
            raise BadRequest("bad PKCS#7 padding")
        body = raw[16:-pad]
        if len(body) < 4:
            raise BadRequest("plaintext too short")
        (length,) = struct.unpack(">I", body[:4])
        if length > len(body) - 4:
            raise BadRequest("message length exceeds plaintext")
        msg, receive_id = body[4 : 4 + length], body[4 + length :]
        if receive_id.decode(errors="replace") != self.corp_id:
            raise BadRequest("receive id does not match the corp id")
        try:
            return str(msg.decode("utf-8"))
        except UnicodeDecodeError:
            raise BadRequest("message is not UTF-8") from None

    def encrypt(self, msg: str) -> str:
        text = msg.encode()
        plain = (
            secrets.token_bytes(16) + struct.pack(">I", len(text)) + text + self.corp_id.encode()
        )
        pad = 32 - len(plain) % 32
        plain += bytes([pad]) * pad
        return base64.b64encode(self._cipher.encrypt(plain)).decode()

    def verify_url(self, sig: str, timestamp: str, nonce: str, echostr: str) -> str:
        self.check_signature(sig, timestamp, nonce, echostr)
        return self.decrypt(echostr)

    def decrypt_callback(self, sig: str, timestamp: str, nonce: str, body: bytes) -> str:
        encrypt = envelope_encrypt(body)
        self.check_signature(sig, timestamp, nonce, encrypt)
        return self.decrypt(encrypt)

    def encrypt_reply(
        self, msg: str, nonce: str | None = None, timestamp: str | None = None
    ) -> str:
        """The encrypted, signed passive-reply envelope (REFERENCE §1)."""
        nonce = nonce or secrets.token_hex(8)
        timestamp = timestamp or str(int(time.time()))
        encrypt = self.encrypt(msg)
        sig = signature(self.token, timestamp, nonce, encrypt)
        return (
            f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{sig}]]></MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>"
        )

    def encrypt_callback(
        self, msg: str, timestamp: str | None = None
    ) -> tuple[dict[str, str], bytes]:
        """What WeCom sends: query params and body. Used by the sandbox driver and benchmarks."""
        nonce, timestamp = secrets.token_hex(5), timestamp or str(int(time.time()))
        encrypt = self.encrypt(msg)
        sig = signature(self.token, timestamp, nonce, encrypt)
        body = (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypt}]]></Encrypt><AgentID><![CDATA[1]]></AgentID></xml>"
        )
        params = {"msg_signature": sig, "timestamp": timestamp, "nonce": nonce}
        return params, body.encode()
