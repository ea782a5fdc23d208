"""Schema migrations with tortoise-orm's migration framework (dialect-neutral operations, so
the same files apply to SQLite and PostgreSQL). Create a new one after changing models with
`python -m tortoise -c storage.db.TORTOISE_ORM makemigrations`."""

from __future__ import annotations

import logging

from tortoise import Tortoise
from tortoise.migrations.api import migrate as tortoise_migrate

from storage.db import tortoise_config

log = logging.getLogger(__name__)


async def migrate(url: str) -> None:
    try:
        await tortoise_migrate(
            config=tortoise_config(url),
            progress=lambda event, app, name: log.info("migration %s %s.%s", event, app, name),
        )
    finally:
        await Tortoise.close_connections()
