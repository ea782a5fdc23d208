"""Logs: one JSON object per line, the request id on every line, no secrets."""

from __future__ import annotations

import json
import logging

from bot.logs import JsonFormatter, request_id, scrub


def test_json_line_with_request_id_and_scrubbed_secrets() -> None:
    record = logging.LogRecord(
        "bot.wecom",
        logging.INFO,
        __file__,
        1,
        "GET /cgi-bin/gettoken?corpid=ww1&corpsecret=s3cr3t&access_token=tok987",
        None,
        None,
    )
    token = request_id.set("req-42")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id.reset(token)
    assert line["request_id"] == "req-42"
    assert "s3cr3t" not in line["msg"] and "tok987" not in line["msg"]
    assert line["level"] == "info" and line["logger"] == "bot.wecom"


def test_scrub_leaves_ordinary_text() -> None:
    assert scrub("user zhangsan added wmA") == "user zhangsan added wmA"
