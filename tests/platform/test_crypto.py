"""The official WeCom test vector (REFERENCE.md §1) and the crypto rejections."""

import pytest

from bot.crypto import BadRequest, BadSignature, TooLarge, WeComCrypto, parse_xml, signature

CORP = "wx5823bf96d3bd56c7"
TOKEN = "QDG6eK"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj9"
    "11L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DO"
    "dnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03"
    "v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNe"
    "lZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)
SIG, TS, NONCE = "477715d11cdb4164915debcba66cb864d751f3e6", "1409659813", "1372623149"
BODY = (
    f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><Encrypt><![CDATA[{ENCRYPT}]]></Encrypt>"
    "<AgentID><![CDATA[218]]></AgentID></xml>"
).encode()


@pytest.fixture
def crypto() -> WeComCrypto:
    return WeComCrypto(TOKEN, AES_KEY, CORP)


def test_official_vector_signature_and_decrypt(crypto: WeComCrypto) -> None:
    assert signature(TOKEN, TS, NONCE, ENCRYPT) == SIG
    xml = crypto.decrypt_callback(SIG, TS, NONCE, BODY)
    msg = parse_xml(xml)
    assert msg["MsgId"] == "4561255354251345929"
    assert msg["MsgType"] == "text"
    assert msg["ToUserName"] == CORP


def test_round_trip_through_reply_envelope(crypto: WeComCrypto) -> None:
    plain = crypto.decrypt_callback(SIG, TS, NONCE, BODY)
    envelope = parse_xml(crypto.encrypt_reply(plain, nonce="n1", timestamp="1"))
    assert envelope["MsgSignature"] == signature(TOKEN, "1", "n1", envelope["Encrypt"])
    assert crypto.decrypt(envelope["Encrypt"]) == plain


def test_url_verification(crypto: WeComCrypto) -> None:
    echo = crypto.encrypt("1616140317555161061")
    sig = signature(TOKEN, TS, NONCE, echo)
    assert crypto.verify_url(sig, TS, NONCE, echo) == "1616140317555161061"


def test_bad_signature_rejected(crypto: WeComCrypto) -> None:
    with pytest.raises(BadSignature):
        crypto.decrypt_callback("0" * 40, TS, NONCE, BODY)


def test_wrong_corp_rejected() -> None:
    other = WeComCrypto(TOKEN, AES_KEY, "ww-other-corp")
    with pytest.raises(BadRequest, match="receive id"):
        other.decrypt_callback(SIG, TS, NONCE, BODY)


@pytest.mark.parametrize(
    "encrypt",
    ["not base64!!", "QUJD", "A" * 44],
)
def test_bad_ciphertext_rejected(crypto: WeComCrypto, encrypt: str) -> None:
    body = f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>".encode()
    with pytest.raises(BadRequest):
        crypto.decrypt_callback(signature(TOKEN, TS, NONCE, encrypt), TS, NONCE, body)


def test_entities_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><Encrypt>&a;</Encrypt></xml>'
    )
    with pytest.raises(BadRequest, match="malformed"):
        parse_xml(bomb)


def test_oversized_body_refused() -> None:
    with pytest.raises(TooLarge, match="64 KiB"):
        parse_xml(b"<xml>" + b"a" * 70000 + b"</xml>")


def test_the_envelope_is_read_without_an_xml_parse(
    crypto: WeComCrypto, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A callback's XML is parsed once (the event); the envelope only yields <Encrypt>."""
    import bot.crypto

    parses: list[object] = []
    real = bot.crypto.xmltodict.parse
    monkeypatch.setattr(
        bot.crypto.xmltodict, "parse", lambda *a, **k: parses.append(a) or real(*a, **k)
    )
    params, body = crypto.encrypt_callback("<xml><MsgType>event</MsgType></xml>")
    plain = crypto.decrypt_callback(
        params["msg_signature"], params["timestamp"], params["nonce"], body
    )
    assert plain == "<xml><MsgType>event</MsgType></xml>" and parses == []
    # Anything unusual still goes through the parser and its exact errors.
    with pytest.raises(BadRequest, match="malformed XML"):
        crypto.decrypt_callback("s", "1", "n", b'<!DOCTYPE x [<!ENTITY a "b">]><xml>&a;</xml>')
