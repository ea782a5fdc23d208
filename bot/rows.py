"""Insert plain rows without building model instances, for group-commit hot paths where a
tortoise model's construction costs more than the INSERT itself (tens of microseconds each),
and read plain rows by a long list of keys."""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from storage.sql import conn, fetch, is_sqlite

M = TypeVar("M", bound=Model)


async def insert_rows(
    model: type[Model], rows: Sequence[Mapping[str, Any]], using_db: BaseDBAsyncClient
) -> None:
    """One multi-row INSERT of `rows` (field name → value); fields not given take the model's
    default. Values go through each field's own conversion, as `bulk_create` does."""
    if rows:
        await using_db.execute_many(*insert_statement(model, rows, using_db))


def insert_statement(
    model: type[Model], rows: Sequence[Mapping[str, Any]], using_db: BaseDBAsyncClient
) -> tuple[str, list[list[Any]]]:
    """The INSERT of `insert_rows` and its values, to run with other statements."""
    executor = using_db.executor_class(model=model, db=using_db)
    fields = model._meta.fields_map
    columns = executor.regular_columns_all
    defaults = {c: fields[c].default for c in columns}
    for name, default in defaults.items():
        if callable(default):
            raise TypeError(f"{model.__name__}.{name}: callable defaults are not supported here")
    convert = {c: fields[c].to_db_value for c in columns}
    values = [
        [_db_value(convert[c], row.get(c, defaults[c]), model) for c in columns] for row in rows
    ]
    return executor.insert_query_all, values


def _db_value(convert: Any, value: Any, model: type[Model]) -> Any:
    # Plain values the caller generated pass as they are (the field's validators cost more
    # than the insert), and so do aware datetimes (which a datetime field returns as given);
    # anything else (naive datetimes, enums, JSON) through the field.
    if value is None or type(value) in _PLAIN:
        return value
    if type(value) is datetime and value.tzinfo is not None:
        return value
    return convert(value, model)


_PLAIN = (str, int, bool)


async def insert_new(
    model: type[Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], chunk: int = 1000
) -> None:
    """Multi-row `INSERT … ON CONFLICT DO NOTHING` of plain value tuples (`columns`: the
    table's column names; values converted by their fields as in `insert_rows`), `chunk`
    rows a statement: a ledger's rows written without a model instance each."""
    await upsert_rows(model, columns, rows, conflict=(), update=(), chunk=chunk)


async def insert_new_returning(
    model: type[M], columns: Sequence[str], rows: Sequence[Sequence[Any]], chunk: int = 1000
) -> list[M]:
    """`insert_new`, returning the rows it inserted as model instances (not those a unique key
    kept out): no second read for the ids of rows just written."""
    found = await upsert_rows(model, columns, rows, (), (), chunk=chunk, returning=True)
    return [model._init_from_db(**row) for row in found]


def in_list(
    model: type[Model], column: str, values: Collection[str | int], *, negate: bool = False
) -> tuple[str, Any]:
    """`IN (…)` (or `NOT IN (…)`) for a `column` of `model` and its one parameter: the list
    as an array on PostgreSQL and as a JSON list on SQLite, where the query builder would wrap
    each of hundreds of values in objects of its own (a few ms a statement)."""
    if is_sqlite(conn()):
        where = "NOT IN" if negate else "IN"
        return f"{where} (SELECT value FROM json_each(?))", json.dumps(list(values))
    meta = model._meta
    sql_type = meta.fields_map[meta.fields_db_projection_reverse[column]].get_for_dialect(
        "postgres", "SQL_TYPE"
    )
    return f"{'<> ALL' if negate else '= ANY'}(?::{sql_type}[])", list(values)


async def select_in(
    model: type[Model], columns: Sequence[str], column: str, values: Collection[str | int]
) -> list[tuple[Any, ...]]:
    """`columns` of the rows whose `column` is one of `values`, as the database gives them
    (plain text and integer columns), the list as one parameter (`in_list`)."""
    if not values:
        return []
    where, param = in_list(model, column, values)
    quoted = ",".join(f'"{c}"' for c in columns)
    return await fetch(
        f'SELECT {quoted} FROM "{model._meta.db_table}" WHERE "{column}" {where}', [param]
    )


async def models_in(model: type[M], column: str, values: Collection[str | int]) -> list[M]:
    """The rows whose `column` is one of `values`, as the model instances a query builds, the
    list as one parameter (`in_list`)."""
    columns = list(model._meta.fields_db_projection.values())
    found = await select_in(model, columns, column, values)
    return [model._init_from_db(**dict(zip(columns, row, strict=True))) for row in found]


async def update_in(
    model: type[Model], changes: Mapping[str, Any], column: str, values: Collection[str | int]
) -> None:
    """`UPDATE … SET` the `changes` (column → plain value, enum or datetime) of the rows whose
    `column` is one of `values`, the list as one parameter (`in_list`)."""
    if not values:
        return
    where, param = in_list(model, column, values)
    sets = ", ".join(f'"{c}" = ?' for c in changes)
    sql = f'UPDATE "{model._meta.db_table}" SET {sets} WHERE "{column}" {where}'
    await fetch(sql, [*changes.values(), param])


@functools.lru_cache(maxsize=256)
def placeholders(dialect: str, rows: int, width: int) -> str:
    """`(?,?),(?,?)…` (`($1,$2),($3,$4)…` on PostgreSQL) for a multi-row VALUES."""
    if dialect == "postgres":
        return ",".join(
            "(" + ",".join(f"${n * width + c + 1}" for c in range(width)) + ")" for n in range(rows)
        )
    return ",".join(["(" + ",".join("?" * width) + ")"] * rows)


async def upsert_rows(
    model: type[Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    conflict: Sequence[str],
    update: Sequence[str],
    chunk: int = 1000,
    returning: bool = False,
) -> list[dict[str, Any]]:
    """Multi-row `INSERT … ON CONFLICT (conflict) DO UPDATE SET` each of `update` to the new
    row's value (`DO NOTHING` when `update` is empty; on any unique key when `conflict` is
    empty too), `chunk` rows a statement: the upserts of `bulk_create(on_conflict=…)` without
    a model instance per row. Values are converted by their fields as in `insert_rows`; the
    rows must not repeat a conflict key. With `returning`, the rows written (every column, as
    the database gives them); else []."""
    written: list[dict[str, Any]] = []
    if not rows:
        return written
    conn = connections.get("default")
    meta = model._meta
    by_column = {
        column: meta.fields_map[name] for name, column in meta.fields_db_projection.items()
    }
    convert = [by_column[c].to_db_value for c in columns]
    quoted = {c: f'"{c}"' for c in (*columns, *conflict, *update)}
    head = f'INSERT INTO "{meta.db_table}" ({",".join(quoted[c] for c in columns)}) '
    target = (
        f" ON CONFLICT ({','.join(quoted[c] for c in conflict)}) " if conflict else " ON CONFLICT "
    )
    action = (
        "DO UPDATE SET " + ",".join(f"{quoted[c]}=excluded.{quoted[c]}" for c in update)
        if update
        else "DO NOTHING"
    ) + (" RETURNING *" if returning else "")
    pg = conn.capabilities.dialect == "postgres"
    if pg:  # one array a column: the same statement (prepared once) whatever the row count
        types = [by_column[c].get_for_dialect("postgres", "SQL_TYPE") for c in columns]
        arrays = ",".join(f"${n + 1}::{t}[]" for n, t in enumerate(types))
        sql = f"{head}SELECT * FROM unnest({arrays}){target}{action}"
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        if pg:
            values: list[Any] = [
                [_db_value(f, row[n], model) for row in part] for n, f in enumerate(convert)
            ]
            statement = sql
        else:
            values = [
                _db_value(f, v, model) for row in part for f, v in zip(convert, row, strict=True)
            ]
            marks = placeholders(conn.capabilities.dialect, len(part), len(columns))
            statement = head + "VALUES " + marks + target + action
        if returning:  # execute_query drops what an INSERT returns on PostgreSQL
            written += await conn.execute_query_dict(statement, values)
        else:
            await conn.execute_query(statement, values)
    return written
