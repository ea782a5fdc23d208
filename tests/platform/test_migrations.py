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


async def test_dropping_field_indexes_keeps_the_tables_other_indexes(empty_db_url: str) -> None:
    """radar_visit upgraded from before its single-column indexes were dropped: its rows and
    every other index are still there (a rebuilt SQLite table would have lost them)."""
    from tortoise.migrations.executor import MigrationTarget

    from storage.db import connect
    from storage.migrate import _executor, apply_migrations
    from storage.sql import conn, is_sqlite

    ctx = await connect(empty_db_url)
    try:
        await _executor().migrate([MigrationTarget("models", "0026_radar_person_analytics_index")])
        db = conn()
        await db.execute_script(
            "INSERT INTO radar_visit (id, share_id, radar_id, visitor_id, external_userid,"
            " parent_visitor_id, level, root_userid, channel, started_at, duration_seconds,"
            " progress, max_page, finalized) VALUES ('v1', 1, 1, 'b1', '', '', 1, 'alice',"
            " 'single', '2026-01-01 00:00:00', 0, 0, 0, FALSE)"
        )
        await apply_migrations()
        if is_sqlite(db):
            sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'radar_visit'"
        else:
            sql = "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'radar_visit'"
        names = {r["name"] for r in await db.execute_query_dict(sql)}
        rows = await db.execute_query_dict("SELECT id FROM radar_visit")
    finally:
        await ctx.close_connections()
    assert [r["id"] for r in rows] == ["v1"]
    assert {n for n in names if n.startswith("idx_")} == {
        "idx_radar_visit_externa_6498a7",  # external_userid
        "idx_radar_visit_root_us_663383",  # root_userid
        "idx_radar_visit_started_53453f",  # started_at
        "idx_radar_visit_radar_i_0e314a",  # (radar_id, started_at)
        "idx_radar_visit_radar_i_0c82a5",  # (radar_id, visitor_id)
        "idx_radar_visit_radar_i_f96c23",  # (radar_id, external_userid)
        "idx_radar_visit_radar_i_f7c784",  # (radar_id, parent_visitor_id)
        "idx_radar_visit_radar_i_88dec3",  # (radar_id, root_userid)
    }


async def _index_columns(table: str) -> set[tuple[str, ...]]:
    from storage.sql import conn, is_sqlite

    db = conn()
    if is_sqlite(db):
        found = set()
        for index in await db.execute_query_dict(f'PRAGMA index_list("{table}")'):
            info = await db.execute_query_dict(f'PRAGMA index_info("{index["name"]}")')
            found.add(tuple(r["name"] for r in sorted(info, key=lambda r: r["seqno"])))
        return found
    rows = await db.execute_query_dict(
        "SELECT i.relname AS name, array_agg(a.attname ORDER BY k.n) AS cols"
        " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
        " JOIN pg_class t ON t.oid = x.indrelid"
        " CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, n)"
        " JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum"
        " WHERE t.relname = $1 GROUP BY i.relname",
        [table],
    )
    return {tuple(r["cols"]) for r in rows}


async def test_every_index_the_models_declare_exists(db: None) -> None:
    """Migrations built the indexes the models declare (a field's db_index, Meta.indexes and
    unique_together): a field added with an index once lost it on the way."""
    missing = []
    for model in Tortoise.apps["models"].values():
        meta = model._meta
        wanted: list[tuple[str, ...]] = []
        for name, field in meta.fields_map.items():
            if (field.index or field.unique) and not field.pk and name in meta.fields_db_projection:
                wanted.append((meta.fields_db_projection[name],))
        column = meta.fields_db_projection
        for group in (*meta.indexes, *meta.unique_together):
            if isinstance(group, tuple | list):  # a foreign key is named without its _id
                wanted.append(tuple(column.get(f) or column[f"{f}_id"] for f in group))
        have = await _index_columns(meta.db_table)
        missing += [f"{meta.db_table}{cols}" for cols in wanted if cols not in have]
    assert missing == []
