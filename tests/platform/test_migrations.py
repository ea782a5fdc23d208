"""The migrations in storage/migrations match the models and apply on SQLite and PostgreSQL."""

from __future__ import annotations

from tortoise import Tortoise
from tortoise.migrations.autodetector import MigrationAutodetector

from bot.cli import main
from storage.db import init_db, tortoise_config
from storage.migrate import pending_migrations


async def test_models_and_migrations_agree(db: None) -> None:
    apps = tortoise_config("sqlite://:memory:")["apps"]
    autodetector = MigrationAutodetector(Tortoise.apps, apps)
    writers = await autodetector.changes()
    assert writers == [], (
        "models changed without a migration: run "
        "`python -m tortoise -c storage.db.TORTOISE_ORM makemigrations`"
    )
    assert await pending_migrations() == []


def test_migrate_command_then_serve_check(empty_db_url: str, monkeypatch: object) -> None:
    import asyncio

    import pytest

    mp: pytest.MonkeyPatch = monkeypatch  # type: ignore[assignment]
    db_url = empty_db_url
    mp.setenv("SCRMBOT_DATABASE__URL", db_url)
    mp.setenv("SCRMBOT_LOGGING__JSON_FORMAT", "false")

    async def unmigrated_refused() -> str:
        try:
            ctx = await init_db(db_url, create_schema=False)
        except RuntimeError as exc:
            return str(exc)
        await ctx.close_connections()
        return ""

    assert "scrmbot migrate" in asyncio.run(unmigrated_refused())
    main(["migrate"])
    assert asyncio.run(unmigrated_refused()) == ""
