"""The leaderboard's raw SQL helpers: the shared ones in `storage.sql`."""

from storage.sql import conn, fetch, is_sqlite, lowest_priority, param, placeholders, stream, to_dt

__all__ = [
    "conn",
    "fetch",
    "is_sqlite",
    "lowest_priority",
    "param",
    "placeholders",
    "stream",
    "to_dt",
]
