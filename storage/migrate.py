"""Schema migrations with tortoise-orm's migration framework: dialect-neutral operations, so
the files in `storage/migrations/` apply to SQLite and PostgreSQL alike.

After changing a model: `python -m tortoise -c storage.db.TORTOISE_ORM makemigrations`
(tests fail while models and migrations disagree).
"""

from __future__ import annotations

import logging
from typing import Any

from tortoise import connections
from tortoise.fields.base import Field
from tortoise.migrations import operations as ops
from tortoise.migrations.executor import MigrationExecutor
from tortoise.migrations.schema_editor.base import BaseSchemaEditor
from tortoise.migrations.schema_generator.state import State

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


class DropFieldIndex(ops.AlterField):
    """A field loses its own index (`db_index=True` removed) and keeps its column: the index
    is dropped by name, where AlterField would rebuild an SQLite table without any of its
    other indexes."""

    def __init__(self, model_name: str, name: str, field: Field[Any], table: str, index: str):
        super().__init__(model_name, name, field)
        self.table, self.index = table, index

    async def database_forward(
        self,
        app_label: str,
        old_state: State,
        new_state: State,
        state_editor: BaseSchemaEditor | None = None,
    ) -> None:
        if state_editor:
            await state_editor._run_sql(f'DROP INDEX IF EXISTS "{self.index}"')

    async def database_backward(
        self,
        app_label: str,
        old_state: State,
        new_state: State,
        state_editor: BaseSchemaEditor | None = None,
    ) -> None:
        if state_editor:
            await state_editor._run_sql(
                f'CREATE INDEX IF NOT EXISTS "{self.index}" ON "{self.table}" ("{self.name}")'
            )


class StateOnlyAlterField(ops.AlterField):
    """A field change with nothing to do in the database (an enum's generated description,
    say): the state moves, the table is left alone, where AlterField would rebuild an SQLite
    table and lose its unique_together and other indexes."""

    async def database_forward(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def database_backward(self, *args: Any, **kwargs: Any) -> None:
        return None
