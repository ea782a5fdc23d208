"""Prometheus metrics, on a registry of our own (several apps may live in one test process)."""

from __future__ import annotations

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
