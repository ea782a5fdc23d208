"""Small helpers the facts modules share: an event's identity, and WeCom's epoch seconds to
aware datetimes and back."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from bot.events import Event


def event_id(event: Event) -> str:
    """A WeCom event's identity: its whole content (as the inbox keys callbacks), so a
    re-delivery is the same event and two real events never merge, however close in time."""
    body = json.dumps(event.raw, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:32]


def from_ts(ts: int | float | str | None) -> datetime:
    return datetime.fromtimestamp(int(ts or 0), UTC)


def ts(at: datetime) -> int:
    return int(at.timestamp())
