"""A migrated template database per test session, copied for each test (migrating per test
costs ~0.3 s; a copy ~0.01 s). SQLite: a template file copied into the test's directory.
PostgreSQL: `CREATE DATABASE <yours> TEMPLATE <yours>_tmpl`; names derive from
SCRMBOT_TEST_DATABASE_URL, so engineers with their own databases do not collide."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from storage.db import init_db


async def _migrate(url: str) -> None:
    ctx = await init_db(url)  # applies every migration
    await ctx.close_connections()


def sqlite_template(directory: Path) -> Path:
    path = directory / "template.sqlite3"
    asyncio.run(_migrate(f"sqlite://{path}"))
    return path


def sqlite_copy(template: Path, target: Path) -> str:
    shutil.copyfile(template, target)
    wal = template.with_name(template.name + "-wal")
    if wal.exists():  # normally checkpointed away when the last connection closed
        shutil.copyfile(wal, target.with_name(target.name + "-wal"))
    return f"sqlite://{target}"


def _split(url: str) -> tuple[str, str]:
    """(maintenance URL for asyncpg, database name)."""
    parts = urlsplit(url.replace("postgres://", "postgresql://", 1))
    name = parts.path.lstrip("/")
    return urlunsplit(parts._replace(path="/postgres")), name


def template_name(url: str) -> str:
    return (_split(url)[1] + "_tmpl")[:63]


async def _recreate(url: str, name: str, template: str) -> None:
    import asyncpg

    admin, _ = _split(url)
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()


def postgres_template(url: str) -> str:
    """Build `<db>_tmpl` from scratch and migrate it; returns its name."""
    name = template_name(url)
    parts = urlsplit(url)
    template_url = urlunsplit(parts._replace(path="/" + name))

    async def build() -> None:
        await _recreate(url, name, "template0")
        await _migrate(template_url)

    asyncio.run(build())
    return name


async def postgres_copy(url: str, template: str) -> str:
    await _recreate(url, _split(url)[1], template)
    return url
