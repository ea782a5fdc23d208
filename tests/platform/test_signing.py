"""MACs are compared in full: a MAC cut short is refused wherever one is checked."""

from __future__ import annotations

import pytest

from bot.callback_data import CallbackData, CallbackDataError
from bot.signing import Signer

signer = Signer("Qm3v8K1xZp4T9wLr2Yh6Nc7Bd5Fg0Sj-aE_uXo")


class Probe(CallbackData, prefix="probe"):
    item: str


def test_verify_mac_needs_the_full_length() -> None:
    mac = signer.mac("p", "message", 22)
    assert signer.verify_mac("p", "message", mac, length=22)
    for cut in (mac[:10], mac[:21], mac + "A", ""):
        assert not signer.verify_mac("p", "message", cut, length=22), cut


def test_token_with_a_shortened_mac_is_refused() -> None:
    token = signer.token("share")
    assert signer.check_token("share", token)
    rid, _, mac = token.partition(".")
    assert not signer.check_token("share", f"{rid}.{mac[:10]}")


def test_signed_cookie_with_a_shortened_mac_is_refused() -> None:
    value = signer.dumps("session", {"u": "admin"}, 60)
    assert signer.loads("session", value) == {"u": "admin"}
    body, _, mac = value.partition(".")
    assert signer.loads("session", f"{body}.{mac[:10]}") is None


def test_button_key_with_a_shortened_mac_is_refused() -> None:
    key = Probe(item="x").pack(signer)
    assert Probe.unpack(key, signer) == Probe(item="x")
    with pytest.raises(CallbackDataError):
        Probe.unpack(key[:-2], signer)
