"""Prometheus metrics, on a registry of our own (several apps may live in one test process)."""

from __future__ import annotations

import gc
import hmac
import ipaddress

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()

CALLBACKS = Counter(
    "scrmbot_callbacks_total",
    "WeCom callbacks by kind and outcome",
    ["kind", "outcome"],
    registry=REGISTRY,
)
INBOX_LAG = Gauge(
    "scrmbot_inbox_lag_seconds", "Age of the oldest unprocessed inbox row", registry=REGISTRY
)
INBOX_PENDING = Gauge("scrmbot_inbox_pending", "Unprocessed inbox rows", registry=REGISTRY)
JOB_SECONDS = Histogram("scrmbot_job_seconds", "Job durations", ["job"], registry=REGISTRY)
JOB_FAILURES = Counter("scrmbot_job_failures_total", "Job failures", ["job"], registry=REGISTRY)
WECOM_CALLS = Counter(
    "scrmbot_wecom_calls_total",
    "WeCom API calls by endpoint and errcode",
    ["endpoint", "errcode"],
    registry=REGISTRY,
)

SCHEDULED_RUNS = Counter(
    "scrmbot_scheduled_runs_total",
    "Scheduled runs by feature and outcome (done, late, skipped, retry, failed)",
    ["feature", "outcome"],
    registry=REGISTRY,
)
CONTACT_WAYS = Gauge(
    "scrmbot_contact_ways_live",
    "Live API-made contact ways and join ways (WeCom's quota is 500,000)",
    registry=REGISTRY,
)

GC_FROZEN = Gauge(
    "scrmbot_gc_frozen_objects",
    "Objects moved out of the garbage collector's reach once the process started",
    registry=REGISTRY,
)
GC_FROZEN.set_function(gc.get_freeze_count)


_FORWARDED = ("X-Forwarded-For", "X-Real-IP", "Forwarded")


def _loopback(remote: str | None) -> bool:
    try:
        return ipaddress.ip_address(remote or "").is_loopback
    except ValueError:
        return False


def scrape_allowed(request: web.Request, token: str) -> bool:
    """/metrics is not public: with `security.metrics_token` set, only `Authorization: Bearer
    <token>`; without, only a client on this machine that came through no proxy (a proxy on
    the same host would otherwise make every outsider look local)."""
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), token.encode())
    return _loopback(request.remote) and not any(h in request.headers for h in _FORWARDED)


def refused() -> web.Response:
    return web.Response(status=403, text="metrics need the bearer token (security.metrics_token)")


WELCOMES = Counter(
    "scrmbot_welcomes_total",
    "Welcome messages by outcome (sent, or the reason none was sent)",
    ["outcome"],
    registry=REGISTRY,
)
