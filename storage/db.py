"""Database set-up: one list of model modules, one init, one close (tortoise-orm 1.x)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.context import TortoiseContext

log = logging.getLogger(__name__)

# Every feature's models, written out in one place (no package scanning).
MODEL_MODULES = [
    "storage.core",
    "storage.directory",
    "storage.facts",
    "storage.leaderboard",
    "storage.radar",
    "storage.visitors",
    "storage.schedule",
    "storage.contact_ways",
    "storage.welcome",
    "storage.fission",
    "storage.stages",
    "storage.points",
    "storage.sop",
]


def normalise_url(url: str) -> str:
    """sqlite://relative/path → ensure the directory exists; postgres:// → asyncpg driver."""
    if url.startswith("sqlite://") and url != "sqlite://:memory:":
        path = Path(url.removeprefix("sqlite://").split("?")[0])
        path.parent.mkdir(parents=True, exist_ok=True)
        if "?" not in url:
            # WAL + synchronous=NORMAL: a commit survives a process crash without an fsync
            # per callback (PostgreSQL is the production store).
            url += "?synchronous=NORMAL"
    if url.startswith("postgresql://"):
        url = "postgres://" + url.removeprefix("postgresql://")
    return url


async def _keep_session(_connection: Any) -> None:
    """What a PostgreSQL connection needs before the pool hands it to the next statement:
    nothing beyond the rollback of an open transaction, which asyncpg always does. By default
    asyncpg's pool also sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET
    ALL;` at every release, a round trip and server work for every statement run outside a
    transaction. The service leaves no session state to reset: its settings are `SET LOCAL`,
    its advisory locks are transaction locks, its cursors end with their transactions and it
    listens to nothing."""


def connection_config(url: str) -> str | dict[str, Any]:
    url = normalise_url(url)
    if not url.startswith("postgres://"):
        return url
    config = expand_db_url(url)
    config["credentials"]["reset"] = _keep_session
    return config


def tortoise_config(url: str) -> dict[str, Any]:
    return {
        "connections": {"default": connection_config(url)},
        "apps": {
            "models": {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": "storage.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


# For the tortoise CLI (makemigrations): `python -m tortoise -c storage.db.TORTOISE_ORM ...`
TORTOISE_ORM = {
    "connections": {"default": "sqlite://data/scrmbot.sqlite3"},
    "apps": {
        "models": {
            "models": MODEL_MODULES,
            "default_connection": "default",
            "migrations": "storage.migrations",
        }
    },
}


class SchemaNotReady(RuntimeError):
    """Pending migrations: the web and worker processes refuse to start."""


async def connect(url: str) -> TortoiseContext:
    return await Tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)


async def init_db(url: str, *, create_schema: bool = True) -> TortoiseContext:
    """Connect (and apply pending migrations when `create_schema`); keep the returned context
    and close *it* (see CONVENTIONS: the tortoise trap)."""
    from storage.migrate import apply_migrations, pending_migrations

    ctx = await connect(url)
    if create_schema:
        await apply_migrations()
    elif pending := await pending_migrations():
        await ctx.close_connections()
        raise SchemaNotReady(
            f"the database needs migrations {', '.join(pending)}: run `scrmbot migrate` first"
        )
    return ctx
