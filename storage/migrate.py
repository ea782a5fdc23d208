"""Schema migrations with tortoise-orm's migration framework: dialect-neutral operations, so
the files in `storage/migrations/` apply to SQLite and PostgreSQL alike.

After changing a model: `python -m tortoise -c storage.db.TORTOISE_ORM makemigrations`
(tests fail while models and migrations disagree).
"""

from __future__ import annotations

import logging
from typing import Any

from tortoise import connections
from tortoise.migrations.executor import MigrationExecutor

log = logging.getLogger(__name__)


def _executor() -> MigrationExecutor:
    from storage.db import tortoise_config

    apps: dict[str, dict[str, Any]] = tortoise_config("sqlite://:memory:")["apps"]
    return MigrationExecutor(connections.get("default"), apps)


async def apply_migrations() -> None:
    """Apply every pending migration on the current connection (after Tortoise.init)."""
    await _executor().migrate(
        progress=lambda event, app, name: log.info("migration %s: %s.%s", event, app, name)
    )


async def pending_migrations() -> list[str]:
    return [f"{s.migration.app_label}.{s.migration.name}" for s in await _executor().plan()]


async def migrate(url: str) -> None:
    """`scrmbot migrate`."""
    from storage.db import connect

    ctx = await connect(url)
    try:
        await apply_migrations()
    finally:
        await ctx.close_connections()
