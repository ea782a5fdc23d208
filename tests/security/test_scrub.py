"""The log scrubber catches secrets in query strings, JSON and Python dicts alike."""

from __future__ import annotations

import json
import logging

import pytest

from bot.logs import JsonFormatter, PlainFormatter, scrub

SECRETS = ["s3cr3t-value", "tok-987", "tkt-555", "pw-123", "code-xyz", "aeskey-1"]


@pytest.mark.parametrize(
    "text",
    [
        "GET /cgi-bin/gettoken?corpid=ww1&corpsecret=s3cr3t-value&access_token=tok-987",
        '{"access_token": "tok-987", "expires_in": 7200, "ticket":"tkt-555"}',
        "{'secret': 's3cr3t-value', 'password': 'pw-123', 'code': 'code-xyz'}",
        "contact_secret='s3cr3t-value' encoding_aes_key = aeskey-1",
        "Authorization: Bearer tok-987",
    ],
)
def test_secrets_are_scrubbed(text: str) -> None:
    out = scrub(text)
    assert not [s for s in SECRETS if s in out], out


def test_dict_arguments_are_scrubbed_in_both_formats() -> None:
    payload = {"corpid": "ww1", "corpsecret": "s3cr3t-value", "nested": {"token": "tok-987"}}
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "calling with %s", (payload,), None)
    for formatter in (JsonFormatter(), PlainFormatter("%(message)s")):
        line = formatter.format(record)
        assert "s3cr3t-value" not in line and "tok-987" not in line
        assert "ww1" in line
    assert "corpsecret" in json.loads(JsonFormatter().format(record))["msg"]


def test_ordinary_fields_survive() -> None:
    text = '{"errcode": 40014, "errmsg": "invalid access_token", "userid": "zhangsan"}'
    assert scrub(text) == text
